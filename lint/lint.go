// Package lint checks a policy against agentctl's check catalogue. It follows the shape of
// golang.org/x/tools/go/analysis: each check is one *Check value holding its documentation
// and a Run function; the registry (Checks) lists them; Run applies a selection of checks to
// a policy and returns sorted findings with inline suppressions applied.
package lint

import (
	"fmt"
	"sort"
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

// ParseSeverity parses "critical", "high", "medium", "low" or "info".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n != "" && n == s {
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
	Title    string   // one line, imperative-free
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
	findings *[]Finding
}

// Report records a finding of the pass's check at the tier severity. pos falls back to
// the position recorded for element when it is zero.
func (p *Pass) Report(element string, pos policy.Pos, format string, args ...any) {
	p.ReportSeverity(p.Check.SeverityFor(p.Policy.Settings.RiskTier), element, pos, format, args...)
}

// ReportSeverity records a finding with an explicit severity.
func (p *Pass) ReportSeverity(sev Severity, element string, pos policy.Pos, format string, args ...any) {
	if !pos.IsValid() {
		pos = p.Policy.Pos(element)
	}
	*p.findings = append(*p.findings, Finding{
		Check:    p.Check,
		Severity: sev,
		Message:  fmt.Sprintf(format, args...),
		Element:  element,
		Pos:      pos,
	})
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

// Options select what Run does.
type Options struct {
	Checks               []*Check // the checks to run; nil runs every check
	NoInlineSuppressions bool     // ignore @ignore attributes (CI owners)
}

// Run applies the checks to p (which must be indexed) and returns the findings sorted by
// position, check and element, with inline suppressions applied.
func Run(p *policy.Policy, opts Options) []Finding {
	checks := opts.Checks
	if checks == nil {
		checks = Checks()
	}
	var findings []Finding
	f := newFacts(p)
	for _, c := range checks {
		c.Run(&Pass{Policy: p, Check: c, facts: f, findings: &findings})
	}
	if !opts.NoInlineSuppressions {
		applyIgnores(p, findings)
	}
	SortFindings(findings)
	return findings
}

// SortFindings orders findings by file, line, column, check ID and element.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Pos != b.Pos {
			return a.Pos.Less(b.Pos)
		}
		if a.Check.ID != b.Check.ID {
			return a.Check.ID < b.Check.ID
		}
		if a.Element != b.Element {
			return a.Element < b.Element
		}
		return a.Message < b.Message
	})
}

// listFirst renders the first five of n items (item(i) renders one) and a count of the
// rest; only what is shown is formatted, since wildcard grants cover thousands.
func listFirst(n int, item func(i int) string) string {
	const most = 5
	shown := make([]string, 0, min(n, most))
	for i := range min(n, most) {
		shown = append(shown, item(i))
	}
	if n <= most {
		return strings.Join(shown, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(shown, ", "), n-most)
}

// quoteAll renders names as a comma-separated list of quoted strings.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
