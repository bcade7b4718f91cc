package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/lint"
)

// Gate conditions of `agentctl diff --fail-on`.
const (
	FailNewEscalation      = "new-escalation"      // a start or scenario reaches a capability outside its authority it did not reach before
	FailNewExfiltration    = "new-exfiltration"    // an exfiltration path appears
	FailWeakerApproval     = "weaker-approval"     // a rule asks for less, or a held high-risk capability loses its last rule
	FailWeakerFlow         = "weaker-flow"         // a condition, static list, flow class, flow_exempt or settings.flow lets more through
	FailNewFinding         = "new-finding"         // an active finding at or above the severity threshold is new
	FailDecisionFlip       = "decision-flip"       // a derived request's decision changes
	FailScenarioRegression = "scenario-regression" // a scenario or test fails that did not fail before
)

// Conditions lists the gate conditions.
var Conditions = []string{FailNewEscalation, FailNewExfiltration, FailWeakerApproval, FailWeakerFlow, FailNewFinding,
	FailDecisionFlip, FailScenarioRegression}

// DefaultFailOn is the gate when none is given: what a reviewer must never miss.
var DefaultFailOn = []string{FailNewEscalation, FailNewExfiltration, FailWeakerApproval, FailWeakerFlow, FailScenarioRegression}

// Gate is what fails one comparison: its conditions (--fail-on; empty for none) and the
// least severity of a new finding that counts for new-finding.
type Gate struct {
	FailOn    []string
	Threshold lint.Severity
}

// Same reports whether g and o judge alike: the same conditions, and the same threshold
// when new-finding is one of them.
func (g Gate) Same(o Gate) bool {
	return slices.Equal(g.FailOn, o.FailOn) && (g.Threshold == o.Threshold || !slices.Contains(g.FailOn, FailNewFinding))
}

// ParseConditions checks a --fail-on list; "none" alone means no condition.
func ParseConditions(list []string) ([]string, error) {
	if len(list) == 1 && list[0] == "none" {
		return []string{}, nil
	}
	for _, c := range list {
		if !slices.Contains(Conditions, c) {
			return nil, fmt.Errorf("unknown --fail-on condition %q (want %s, or none)", c, strings.Join(Conditions, ", "))
		}
	}
	return list, nil
}

// Count is how many items of the result make cond hold (0: it does not hold).
func (r *Result) Count(cond string, threshold lint.Severity) int {
	s := r.Summary
	switch cond {
	case FailNewEscalation:
		return s.EscalationsAdded
	case FailNewExfiltration:
		return s.ExfilAdded
	case FailWeakerApproval:
		return s.ApprovalsWeaker
	case FailWeakerFlow:
		return s.FlowWeaker
	case FailNewFinding:
		n := 0
		for _, f := range r.Findings {
			if f.Failing(threshold) {
				n++
			}
		}
		return n
	case FailDecisionFlip:
		return s.Flipped
	case FailScenarioRegression:
		return s.Regressions
	}
	return 0
}
