package policy

import "slices"

// MatchingApprovals returns the approval rules whose match selects action executed by agent,
// in name order. A rule with a threshold still matches: the threshold only decides at run
// time whether the approval is required for a given request.
func (p *Policy) MatchingApprovals(agent string, action *Action) []*Approval {
	var out []*Approval
	for _, r := range p.Approvals {
		if r.Match.Selects(agent, action) {
			out = append(out, r)
		}
	}
	return out
}

// Selects reports whether every present field of m matches action executed by agent. A nil
// list matches anything; an empty but present list matches nothing.
func (m *Match) Selects(agent string, action *Action) bool {
	return anyOf(m.Effects, action.Effect) &&
		anyOf(m.Tools, action.Tool) &&
		anyOf(m.Actions, action.Capability()) &&
		anyOf(m.Data, action.Data) &&
		anyOf(m.Agents, agent)
}

func anyOf(list []string, v string) bool {
	return list == nil || slices.Contains(list, v)
}
