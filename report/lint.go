package report

import "github.com/agentctl/agentctl/lint"

// LintRules returns the documentation of checks, in order, for the renderers.
func LintRules(checks []*lint.Check) []Rule {
	out := make([]Rule, len(checks))
	for i, c := range checks {
		out[i] = Rule{
			ID: c.ID, Slug: c.Slug, Title: c.Title, Family: c.Family,
			Severity: c.Severity.String(), LowTierSeverity: c.SeverityFor("low").String(),
			Rationale: c.Rationale, Remediation: c.Remediation,
			Frameworks: frameworks(c.Frameworks),
			Example:    c.Example, Fix: c.Fix,
		}
	}
	return out
}

func frameworks(f lint.Frameworks) Frameworks {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Frameworks{ASI: nonNil(f.ASI), NHI: nonNil(f.NHI), MAESTRO: nonNil(f.MAESTRO), NIST: nonNil(f.NIST)}
}

// LintFindings converts findings for the renderers; active findings at or above failOn
// are marked failing.
func LintFindings(findings []lint.Finding, failOn lint.Severity) []Finding {
	out := make([]Finding, len(findings))
	for i, f := range findings {
		r := Finding{
			Check: f.Check.ID, Slug: f.Check.Slug, Severity: f.Severity.String(), Message: f.Message,
			File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Element: f.Element,
			Frameworks:  frameworks(f.Check.Frameworks),
			Suppressed:  f.Suppressed(),
			Fingerprint: f.Fingerprint,
			Failing:     !f.Suppressed() && f.Severity >= failOn,
		}
		if s := f.Suppression; s != nil {
			r.Suppression = &Suppression{Kind: s.Kind, Reason: s.Reason}
		}
		out[i] = r
	}
	return out
}
