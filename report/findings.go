package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Frameworks are a check's references in the frameworks agentctl maps to.
type Frameworks struct {
	ASI     []string `json:"asi"`
	NHI     []string `json:"nhi"`
	MAESTRO []string `json:"maestro"`
	NIST    []string `json:"nist"`
}

// Get returns the references of one framework: "asi", "nhi", "maestro" or "nist".
func (f Frameworks) Get(name string) []string {
	switch name {
	case "asi":
		return f.ASI
	case "nhi":
		return f.NHI
	case "maestro":
		return f.MAESTRO
	case "nist":
		return f.NIST
	}
	return nil
}

// FrameworkNames returns the framework keys, in display order.
func FrameworkNames() []string { return []string{"asi", "nhi", "maestro", "nist"} }

// FrameworkTitle returns the column title of a framework key.
func FrameworkTitle(name string) string {
	switch name {
	case "asi":
		return "ASI"
	case "nhi":
		return "NHI"
	case "maestro":
		return "MAESTRO"
	case "nist":
		return "NIST AI RMF"
	}
	return name
}

// noPosition stands for the file of findings without a source position.
const noPosition = "(no source position)"

// Rule documents a lint check, for catalogues and SARIF.
type Rule struct {
	ID              string     `json:"id"`
	Slug            string     `json:"slug"`
	Title           string     `json:"title"`
	Family          string     `json:"family"`
	Severity        string     `json:"severity"`          // at risk_tier "high"
	LowTierSeverity string     `json:"low_tier_severity"` // at risk_tier "low"
	Rationale       string     `json:"rationale"`
	Remediation     string     `json:"remediation"`
	Frameworks      Frameworks `json:"frameworks"`
	Example         string     `json:"example"`
	Fix             string     `json:"fix"`
	// HelpURI overrides the link SARIF gives the rule (default: its section of docs/checks.md).
	HelpURI string `json:"-"`
}

// Finding is one lint finding (contract shape of `lint -o json`, plus fingerprint and
// suppression details).
type Finding struct {
	Check       string       `json:"check"`
	Slug        string       `json:"slug"`
	Severity    string       `json:"severity"`
	Message     string       `json:"message"`
	File        string       `json:"file"`
	Line        int          `json:"line"`
	Column      int          `json:"column"`
	Element     string       `json:"element"`
	Frameworks  Frameworks   `json:"frameworks"`
	Suppressed  bool         `json:"suppressed"`
	Suppression *Suppression `json:"suppression,omitempty"`
	Fingerprint string       `json:"fingerprint"`
	// Failing is true when the finding is active and at or above the --fail-on threshold.
	Failing bool `json:"-"`
	// FailOn is the threshold of the finding's directory (directories may differ through
	// the repository configuration's overrides); empty means Findings.FailOn.
	FailOn string `json:"-"`
}

// Suppression says why a finding does not count: "inline" (@ignore) or "baseline".
type Suppression struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
}

// StaleEntry is a baseline entry that matched no finding.
type StaleEntry struct {
	Check   string `json:"check"`
	Element string `json:"element"`
	Dir     string `json:"dir,omitempty"` // the entry's policy directory (baseline version 3)
}

// LoadError is one error of a policy directory that failed to load; File is empty when the
// error has no source position (a missing directory).
type LoadError struct {
	Dir     string `json:"dir"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Location is "file:line:col", "file" or the directory when the error has no file.
func (e LoadError) Location() string {
	switch {
	case e.File == "":
		return e.Dir
	case e.Line == 0:
		return e.File
	}
	return fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
}

// Findings is the result of one lint run over one or more policy directories.
type Findings struct {
	Rules      []Rule    // the checks that ran, in ID order
	Findings   []Finding // sorted by file, line, column, check
	Files      []string  // every policy file linted
	FailOn     string    // the --fail-on severity (of the first directory, when they differ)
	Stale      []StaleEntry
	LoadErrors []LoadError // directories that failed to load: rendered in every format
	Version    string      // the agentctl version, for SARIF's driver
	Root       string      // absolute repository root the file names are relative to; "" none
}

// RelativeTo returns r with every file name made relative to root (the repository root),
// whatever directory agentctl ran in: GitHub annotations and code scanning map only
// repository-relative paths. Files outside root keep absolute names.
func (r Findings) RelativeTo(root string) Findings {
	if root == "" {
		return r
	}
	rel := relativeTo(root)
	out := r
	out.Root = root
	out.Findings = make([]Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.File = rel(f.File)
		out.Findings[i] = f
	}
	out.Files = make([]string, len(r.Files))
	for i, f := range r.Files {
		out.Files[i] = rel(f)
	}
	out.LoadErrors = make([]LoadError, len(r.LoadErrors))
	for i, e := range r.LoadErrors {
		e.Dir, e.File = rel(e.Dir), rel(e.File)
		out.LoadErrors[i] = e
	}
	return out
}

// relativeTo returns a function naming a file relative to root, with forward slashes ("."
// for root itself); files outside root keep their absolute name.
func relativeTo(root string) func(string) string {
	return func(name string) string {
		if name == "" {
			return ""
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return name
		}
		p, err := filepath.Rel(root, abs)
		if err != nil || p == ".." || strings.HasPrefix(p, "../") {
			return filepath.ToSlash(abs)
		}
		return filepath.ToSlash(p)
	}
}

// Summary counts findings; suppressed findings count only in Suppressed.
type Summary struct {
	Total         int          `json:"total"`
	Critical      int          `json:"critical"`
	High          int          `json:"high"`
	Medium        int          `json:"medium"`
	Low           int          `json:"low"`
	Info          int          `json:"info"`
	Suppressed    int          `json:"suppressed"`
	FailOn        string       `json:"fail_on"`
	Failed        bool         `json:"failed"`
	StaleBaseline []StaleEntry `json:"stale_baseline"`
}

// Summary counts the findings.
func (r Findings) Summary() Summary {
	s := Summary{FailOn: r.FailOn, StaleBaseline: r.Stale}
	if s.StaleBaseline == nil {
		s.StaleBaseline = []StaleEntry{}
	}
	for _, f := range r.Findings {
		if f.Suppressed {
			s.Suppressed++
			continue
		}
		s.Failed = s.Failed || f.Failing
		s.count(f.Severity)
	}
	return s
}

// count adds one active finding of a severity.
func (s *Summary) count(severity string) {
	s.Total++
	switch severity {
	case "critical":
		s.Critical++
	case "high":
		s.High++
	case "medium":
		s.Medium++
	case "low":
		s.Low++
	default:
		s.Info++
	}
}

// plural writes "1 finding" or "N findings".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// severityCounts writes the non-zero counts, most severe first: "4 critical, 10 high".
func severityCounts(s Summary) string {
	var parts []string
	for _, c := range []struct {
		n    int
		name string
	}{{s.Critical, "critical"}, {s.High, "high"}, {s.Medium, "medium"}, {s.Low, "low"}, {s.Info, "info"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	return strings.Join(parts, ", ")
}

// FindingsJSON writes the contract document of `lint -o json`.
func FindingsJSON(w io.Writer, r Findings) error {
	return JSON(w, findingsDoc(r, SchemaVersion))
}

// lintDoc is the document of `lint -o json` and the lint section of `check -o json`.
type lintDoc struct {
	SchemaVersion int         `json:"schema_version,omitempty"`
	Findings      []Finding   `json:"findings"`
	Summary       Summary     `json:"summary"`
	LoadErrors    []LoadError `json:"load_errors"`
}

func findingsDoc(r Findings, version int) lintDoc {
	d := lintDoc{SchemaVersion: version, Findings: r.Findings, Summary: r.Summary(), LoadErrors: r.LoadErrors}
	if d.Findings == nil {
		d.Findings = []Finding{}
	}
	if d.LoadErrors == nil {
		d.LoadErrors = []LoadError{}
	}
	return d
}
