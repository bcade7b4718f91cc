package report

import (
	"io"
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
}

// Findings is the result of one lint run over one or more policy directories.
type Findings struct {
	Rules    []Rule    // the checks that ran, in ID order
	Findings []Finding // sorted by file, line, column, check
	Files    []string  // every policy file linted (JUnit lists passing checks per file)
	FailOn   string    // the --fail-on severity
	Stale    []StaleEntry
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
		s.Total++
		s.Failed = s.Failed || f.Failing
		switch f.Severity {
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
	return s
}

// FindingsJSON writes the contract document of `lint -o json`.
func FindingsJSON(w io.Writer, r Findings) error {
	fs := r.Findings
	if fs == nil {
		fs = []Finding{}
	}
	return JSON(w, struct {
		SchemaVersion int       `json:"schema_version"`
		Findings      []Finding `json:"findings"`
		Summary       Summary   `json:"summary"`
	}{SchemaVersion, fs, r.Summary()})
}
