package diff

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// approvals fills the approval changes: rules made weaker or stronger, and high-risk
// capabilities an agent holds that gain their first matching rule or lose their last.
func (r *Result) approvals(d *delta) {
	for _, name := range slices.Sorted(maps.Keys(d.rules)) {
		b, h := rule(d.base, name), rule(d.head, name)
		if b == nil || h == nil {
			continue // added and removed rules show as coverage gained or lost
		}
		if op, detail := strength(b, h); op != "" {
			file, line := posOf(h.Pos)
			r.Approvals = append(r.Approvals, ApprovalChange{Op: op, Rule: name, Before: terms(b), After: terms(h),
				Detail: detail, File: file, Line: line})
		}
	}
	// Coverage can change for every agent when a rule or a tool changed; otherwise only for
	// the agents that changed.
	var agents []string
	if len(d.rules) > 0 || len(d.tools) > 0 {
		agents = agentNames(d.base, d.head)
	} else {
		set := map[string]bool{}
		for a := range d.agents {
			set[a] = true
		}
		for a := range d.decide {
			set[a] = true
		}
		agents = slices.Sorted(maps.Keys(set))
	}
	for _, a := range agents {
		ab, ah := d.base.Agent(a), d.head.Agent(a)
		if ab == nil || ah == nil {
			continue // the agent's grants are structural changes
		}
		cb, ch := heldHighRisk(d.base, ab), heldHighRisk(d.head, ah)
		for _, c := range slices.Sorted(maps.Keys(ch)) {
			if _, ok := cb[c]; !ok {
				continue // a new grant: AC020 says whether it lacks approval
			}
			rb, rh := ruleNames(d.base, a, cb[c]), ruleNames(d.head, a, ch[c])
			var op string
			switch {
			case len(rb) == 0 && len(rh) > 0:
				op = Gained
			case len(rb) > 0 && len(rh) == 0:
				op = Lost
			default:
				continue
			}
			file, line := posOf(ah.Pos)
			r.Approvals = append(r.Approvals, ApprovalChange{Op: op, Agent: a, Capability: c, Before: rb, After: rh,
				Detail: fmt.Sprintf("%s %s by %s: matching rules %s -> %s", c, effectOf(ch[c]), a, list(rb), list(rh)),
				File:   file, Line: line})
		}
	}
}

func rule(p *policy.Policy, name string) *policy.Approval {
	i, ok := slices.BinarySearchFunc(p.Approvals, name, func(a *policy.Approval, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return nil
	}
	return p.Approvals[i]
}

// heldHighRisk maps the high-risk capabilities agent a holds to their actions.
func heldHighRisk(p *policy.Policy, a *policy.Agent) map[string]*policy.Action {
	out := map[string]*policy.Action{}
	ix := p.Caps()
	p.C(a).Each(func(id int) {
		if act := ix.Action(id); policy.HighRisk(act.Effect) {
			out[act.Capability()] = act
		}
	})
	return out
}

func ruleNames(p *policy.Policy, agent string, act *policy.Action) []string {
	var out []string
	for _, r := range p.MatchingApprovals(agent, act) {
		out = append(out, r.Name)
	}
	return out
}

func effectOf(a *policy.Action) string { return "(" + a.Effect + ")" }

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprint(s)
}

// strength compares what a rule asks for: its threshold (absent: always) and its number of
// approvers. It returns Weaker, Stronger or "" (same, or weaker in one term and stronger in
// another, which the structural changes show).
func strength(b, h *policy.Approval) (string, string) {
	var weaker, stronger []string
	switch tb, th := b.Threshold, h.Threshold; {
	case tb == nil && th != nil:
		weaker = append(weaker, fmt.Sprintf("now applies only above %s %g", th.Attribute, th.Above))
	case tb != nil && th == nil:
		stronger = append(stronger, "now applies at any "+tb.Attribute)
	case tb != nil && th != nil && tb.Attribute == th.Attribute && th.Above > tb.Above:
		weaker = append(weaker, fmt.Sprintf("threshold %s %g -> %g", th.Attribute, tb.Above, th.Above))
	case tb != nil && th != nil && tb.Attribute == th.Attribute && th.Above < tb.Above:
		stronger = append(stronger, fmt.Sprintf("threshold %s %g -> %g", th.Attribute, tb.Above, th.Above))
	}
	switch {
	case h.Require.Approvers < b.Require.Approvers:
		weaker = append(weaker, fmt.Sprintf("approvers %d -> %d", b.Require.Approvers, h.Require.Approvers))
	case h.Require.Approvers > b.Require.Approvers:
		stronger = append(stronger, fmt.Sprintf("approvers %d -> %d", b.Require.Approvers, h.Require.Approvers))
	}
	switch {
	case len(weaker) > 0 && len(stronger) == 0:
		return Weaker, strings.Join(weaker, ", ")
	case len(stronger) > 0 && len(weaker) == 0:
		return Stronger, strings.Join(stronger, ", ")
	}
	return "", ""
}

// terms lists what a rule asks for, for before/after.
func terms(a *policy.Approval) []string {
	out := []string{"approvers=" + strconv.Itoa(a.Require.Approvers), "role=" + a.Require.Role}
	if t := a.Threshold; t != nil {
		out = append(out, fmt.Sprintf("above %s %g", t.Attribute, t.Above))
	}
	return out
}
