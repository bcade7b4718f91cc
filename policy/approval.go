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
	return m.SelectsAction(action) && anyOf(m.Agents, agent)
}

// SelectsAction reports whether the match selects the action for some agent: every field
// but agents. Compiled policies and simulations narrow by agent later.
func (m *Match) SelectsAction(action *Action) bool {
	return anyOf(m.Effects, action.Effect) &&
		anyOf(m.Tools, action.Tool) &&
		anyOf(m.Data, action.Data) &&
		(m.Actions == nil || slices.ContainsFunc(m.Actions, action.is))
}

// is reports whether c names the action ("tool.action"), without building that string.
func (a *Action) is(c string) bool {
	return len(c) == len(a.Tool)+1+len(a.Name) && c[len(a.Tool)] == '.' &&
		c[:len(a.Tool)] == a.Tool && c[len(a.Tool)+1:] == a.Name
}

func anyOf(list []string, v string) bool {
	return list == nil || slices.Contains(list, v)
}
