package lint

import (
	"github.com/agentctl/agentctl/report"
)

// Rule returns the check's documentation for the report renderers.
func (c *Check) Rule() report.Rule {
	low := c.LowTier
	if low == 0 {
		low = c.Severity
	}
	return report.Rule{
		ID: c.ID, Slug: c.Slug, Title: c.Title, Family: c.Family,
		Severity: c.Severity.String(), LowTierSeverity: low.String(),
		Rationale: c.Rationale, Remediation: c.Remediation,
		Frameworks: c.Frameworks.report(),
		Example:    c.Example, Fix: c.Fix,
	}
}

// Rules returns the documentation of checks, in order.
func Rules(checks []*Check) []report.Rule {
	out := make([]report.Rule, len(checks))
	for i, c := range checks {
		out[i] = c.Rule()
	}
	return out
}

func (f Frameworks) report() report.Frameworks {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return report.Frameworks{ASI: nonNil(f.ASI), NHI: nonNil(f.NHI), MAESTRO: nonNil(f.MAESTRO), NIST: nonNil(f.NIST)}
}

// Export converts findings for the report renderers; active findings at or above failOn
// are marked failing.
func Export(findings []Finding, failOn Severity) []report.Finding {
	out := make([]report.Finding, len(findings))
	for i, f := range findings {
		r := report.Finding{
			Check: f.Check.ID, Slug: f.Check.Slug, Severity: f.Severity.String(), Message: f.Message,
			File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Element: f.Element,
			Frameworks:  f.Check.Frameworks.report(),
			Suppressed:  f.Suppressed(),
			Fingerprint: Fingerprint(f.Check.ID, f.Element),
			Failing:     !f.Suppressed() && f.Severity >= failOn,
		}
		if s := f.Suppression; s != nil {
			r.Suppression = &report.Suppression{Kind: s.Kind, Reason: s.Reason}
		}
		out[i] = r
	}
	return out
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
