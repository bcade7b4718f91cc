// Package lint checks a policy against agentctl's check catalogue. It follows the shape of
// golang.org/x/tools/go/analysis: each check is one *Check value holding its documentation
// and a Run function; the registry (Checks) lists them; Run applies a selection of checks to
// a policy and returns sorted findings with inline suppressions applied.
package lint

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// Severity ranks findings. The zero value is not a severity.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota + 1
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{Info: "info", Low: "low", Medium: "medium", High: "high", Critical: "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses "critical", "high", "medium", "low" or "info", in any case.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n != "" && strings.EqualFold(n, s) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
}

// Frameworks are the references of a check in the four frameworks it is mapped to.
type Frameworks struct {
	ASI     []string // OWASP Top 10 for Agentic Applications 2026, "ASI03"
	NHI     []string // OWASP Non-Human Identities Top 10 2025, "NHI7:2025"
	MAESTRO []string // CSA MAESTRO layer, "L7"
	NIST    []string // NIST AI RMF 1.0 subcategory, "MEASURE 2.7"
}

// Check is one lint check: its documentation and its Run function.
type Check struct {
	ID       string   // "AC010" (contract)
	Slug     string   // "wildcard-grant" (contract)
	Title    string   // one line, for catalogues and SARIF
	Family   string   // the catalogue section: "Identity and credentials", ...
	Severity Severity // at settings.risk_tier "high" (the default tier)
	LowTier  Severity // at risk_tier "low"; zero means the same as Severity

	Rationale   string // why it matters
	Remediation string // how to fix it
	Frameworks  Frameworks
	Example     string // CUE that triggers the check
	Fix         string // the same CUE, fixed

	// Run inspects pass.Policy and reports findings with pass.Report.
	Run func(pass *Pass)
}

// SeverityFor returns the check's severity at a risk tier.
func (c *Check) SeverityFor(tier string) Severity {
	if tier == "low" && c.LowTier != 0 {
		return c.LowTier
	}
	return c.Severity
}

// Finding is one problem a check found in a policy.
type Finding struct {
	Check    *Check
	Severity Severity
	Message  string
	Element  string     // element path, "agents.billing.grants[2]"
	Pos      policy.Pos // where the element is written; zero when unknown
	// Subject names what the finding is about without list indices or positions:
	// "agents.triage.grants{tool=crm actions=read}", "handoffs{triage->billing}".
	Subject string
	// Fingerprint identifies the finding across edits: Fingerprint(check ID, Subject). It is
	// the baseline key and SARIF's partial fingerprint; Run fills it.
	Fingerprint string
	// Suppression is nil for an active finding.
	Suppression *Suppression
}

// Suppressed reports whether an inline suppression or the baseline covers f.
func (f *Finding) Suppressed() bool { return f.Suppression != nil }

// Suppression kinds.
const (
	SuppressedInline   = "inline"   // an @ignore attribute in the source
	SuppressedBaseline = "baseline" // an entry of the --baseline file
)

// Suppression says why a finding does not count.
type Suppression struct {
	Kind   string // SuppressedInline or SuppressedBaseline
	Reason string // the @ignore reason; empty for baselines
}

// Pass is what a check's Run function sees: the policy and derived facts shared by all
// checks of one run.
type Pass struct {
	Policy *policy.Policy
	Check  *Check

	facts    *facts
	findings *findingBuf
}

// Report records a finding of the pass's check on element at the tier severity. pos falls
// back to the position recorded for element when it is zero. Checks with many findings
// build msg by concatenation: on large estates formatting is most of lint's cost.
func (p *Pass) Report(element string, pos policy.Pos, msg string) {
	p.reportAbout("", element, pos, msg)
}

// reportAbout is Report for a finding whose subject is not derived from its element (see
// Finding.Subject); an empty subject means the element's.
func (p *Pass) reportAbout(subject, element string, pos policy.Pos, msg string) {
	if !pos.IsValid() {
		pos = p.Policy.Pos(element)
	}
	p.findings.add(Finding{
		Check:    p.Check,
		Severity: p.Check.SeverityFor(p.Policy.Settings.RiskTier),
		Message:  msg,
		Element:  element,
		Pos:      pos,
		Subject:  subject,
	})
}

// subject returns the subject of an element path.
func (p *Pass) subject(element string) string { return p.facts.subj.of(element) }

// Reportf is Report with a formatted message.
func (p *Pass) Reportf(element string, pos policy.Pos, format string, args ...any) {
	p.Report(element, pos, fmt.Sprintf(format, args...))
}

// q quotes a name for a message, as %q does. Names are nearly always printable ASCII, which
// %q leaves as is: skipping strconv's rune-by-rune escaping matters when tens of thousands
// of messages name agents.
func q(s string) string {
	if needsEscape(s) {
		return strconv.Quote(s)
	}
	return `"` + s + `"`
}

// writeQuoted writes q(s) to b.
func writeQuoted(b *strings.Builder, s string) {
	if needsEscape(s) {
		b.WriteString(strconv.Quote(s))
		return
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// needsEscape reports whether %q would escape a byte of s.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// pos returns the position of the first of paths the source records, else fallback.
func (p *Pass) pos(fallback policy.Pos, paths ...string) policy.Pos {
	for _, path := range paths {
		if pos, ok := p.Policy.Positions[path]; ok && pos.IsValid() {
			return pos
		}
	}
	return fallback
}

// posOf is pos for the paths base+suffix, for each suffix. It looks them up without building
// the strings: checks look up field positions for thousands of findings.
func (p *Pass) posOf(fallback policy.Pos, base string, suffixes ...string) policy.Pos {
	var buf [128]byte
	for _, s := range suffixes {
		key := append(append(buf[:0], base...), s...)
		if pos, ok := p.Policy.Positions[string(key)]; ok && pos.IsValid() {
			return pos
		}
	}
	return fallback
}

// Options select what Run does.
type Options struct {
	Checks               []*Check // the checks to run; nil runs every check
	NoInlineSuppressions bool     // ignore @ignore attributes (CI owners)
}

// Run applies the checks to p (which must be indexed) and returns the findings sorted by
// position, check and element, with subjects and fingerprints filled and inline
// suppressions applied.
func Run(p *policy.Policy, opts Options) []Finding {
	checks := opts.Checks
	if checks == nil {
		checks = Checks()
	}
	bufs := make([]findingBuf, len(checks))
	f := newFacts(p)
	for i, c := range checks {
		c.Run(&Pass{Policy: p, Check: c, facts: f, findings: &bufs[i]})
	}
	findings := sorted(bufs)
	fingerprint(&f.subj, findings)
	if !opts.NoInlineSuppressions {
		applyIgnores(p, findings)
	}
	return findings
}

// findingBuf collects one check's findings in chunks of up to 1024: a large estate has tens
// of thousands, and growing one slice would copy them over and over (garbage the collector
// then has to walk next to the loaded policy).
type findingBuf struct {
	chunks [][]Finding
	n      int
}

func (b *findingBuf) add(f Finding) {
	if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == cap(b.chunks[len(b.chunks)-1]) {
		size := 16 // each check has a buffer, and most checks find little
		if len(b.chunks) > 0 {
			size = min(2*cap(b.chunks[len(b.chunks)-1]), 1024)
		}
		b.chunks = append(b.chunks, make([]Finding, 0, size))
	}
	last := &b.chunks[len(b.chunks)-1]
	*last = append(*last, f)
	b.n++
}

// sorted returns the findings of bufs in one slice, in the order of SortFindings. A check
// reports in roughly source order, so each buffer sorts almost for free and merging the
// sorted runs pairwise costs far fewer comparisons than sorting everything at once. It
// sorts pointers and copies each finding once.
func sorted(bufs []findingBuf) []Finding {
	n := 0
	for _, b := range bufs {
		n += b.n
	}
	ptrs := make([]*Finding, 0, n)
	ends := make([]int, 0, len(bufs)) // end of each run in ptrs
	for _, b := range bufs {
		start := len(ptrs)
		for _, c := range b.chunks {
			for i := range c {
				ptrs = append(ptrs, &c[i])
			}
		}
		slices.SortFunc(ptrs[start:], compareFindings)
		ends = append(ends, len(ptrs))
	}
	// Merge neighbouring runs from ptrs into tmp, then swap, until one run is left.
	tmp := make([]*Finding, n)
	for len(ends) > 1 {
		merged, start := ends[:0], 0 // in place: entry i/2 is written after entries i, i+1 are read
		for i := 0; i < len(ends); i += 2 {
			mid, end := ends[i], ends[i]
			if i+1 < len(ends) {
				end = ends[i+1]
			}
			merge(tmp[start:end], ptrs[start:mid], ptrs[mid:end])
			merged = append(merged, end)
			start = end
		}
		ends = merged
		ptrs, tmp = tmp, ptrs
	}
	out := make([]Finding, n)
	for i, f := range ptrs {
		out[i] = *f
	}
	return out
}

// merge merges the sorted a and b into dst, which has room for both.
func merge(dst, a, b []*Finding) {
	i, j := 0, 0
	for k := range dst {
		if j == len(b) || (i < len(a) && compareFindings(b[j], a[i]) >= 0) {
			dst[k] = a[i]
			i++
		} else {
			dst[k] = b[j]
			j++
		}
	}
}

// SortFindings orders findings by file, line, column, check ID and element.
func SortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int { return compareFindings(&a, &b) })
}

func compareFindings(a, b *Finding) int {
	// Field by field, each compared once: sorting compares findings hundreds of thousands of
	// times on a large estate.
	switch {
	case a.Pos.File != b.Pos.File:
		return strings.Compare(a.Pos.File, b.Pos.File)
	case a.Pos.Line != b.Pos.Line:
		return cmp.Compare(a.Pos.Line, b.Pos.Line)
	case a.Pos.Col != b.Pos.Col:
		return cmp.Compare(a.Pos.Col, b.Pos.Col)
	case a.Check != b.Check && a.Check.ID != b.Check.ID:
		return strings.Compare(a.Check.ID, b.Check.ID)
	case a.Element != b.Element:
		return strings.Compare(a.Element, b.Element)
	}
	return strings.Compare(a.Message, b.Message)
}

// list renders the sample after the prefix parts: each id through text (a string per
// capability id), comma-separated, then a count of the rest.
func (s sample) list(text []string, prefix ...string) string {
	var items [sampleSize]string
	ids := s.ids()
	for i, id := range ids {
		items[i] = text[id]
	}
	return joinAfter(prefix, items[:len(ids)], s.n)
}

// joinAfter renders the prefix parts, then items comma-separated, then " and N more" when
// the items are the first of n. It sizes the result first: one allocation per message.
func joinAfter(prefix, items []string, n int) string {
	var num [20]byte
	var more []byte
	if n > len(items) {
		more = strconv.AppendInt(num[:0], int64(n-len(items)), 10)
	}
	size := 2 * max(len(items)-1, 0)
	for _, p := range prefix {
		size += len(p)
	}
	for _, it := range items {
		size += len(it)
	}
	if more != nil {
		size += len(" and ") + len(more) + len(" more")
	}
	var b strings.Builder
	b.Grow(size)
	for _, p := range prefix {
		b.WriteString(p)
	}
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it)
	}
	if more != nil {
		b.WriteString(" and ")
		b.Write(more)
		b.WriteString(" more")
	}
	return b.String()
}

// Failed reports whether an active finding is at or above failOn.
func Failed(findings []Finding, failOn Severity) bool {
	for _, f := range findings {
		if !f.Suppressed() && f.Severity >= failOn {
			return true
		}
	}
	return false
}
