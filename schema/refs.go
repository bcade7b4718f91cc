package schema

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// checkRefs reports every reference to an undefined agent, tool, action or capability, each
// at the position of the reference itself.
func (b *builder) checkRefs() {
	p := b.p
	for _, a := range p.Agents {
		b.checkGrants(a.Grants)
	}
	for _, h := range p.Handoffs {
		b.agentRef(h.Path()+".from", h.From)
		b.agentRef(h.Path()+".to", h.To)
	}
	for _, ap := range p.Approvals {
		path := ap.Path() + ".match"
		for i, t := range ap.Match.Tools {
			b.toolRef(fmt.Sprintf("%s.tools[%d]", path, i), t)
		}
		for i, c := range ap.Match.Actions {
			b.capRef(fmt.Sprintf("%s.actions[%d]", path, i), c)
		}
		for i, a := range ap.Match.Agents {
			b.agentRef(fmt.Sprintf("%s.agents[%d]", path, i), a)
		}
		b.role(ap.Path()+".require.role", ap.Require.Role)
		if ap.Threshold != nil && strings.TrimSpace(ap.Threshold.Attribute) == "" {
			b.errorf(ap.Path()+".threshold.attribute", "empty attribute (name the request attribute to compare)")
		}
	}
	for _, s := range p.Scenarios {
		path := s.Path()
		b.agentRef(path+".start", s.Start)
		b.checkGrants(s.Authority)
		if w := s.WhatIf; w != nil {
			for i, a := range w.Compromised {
				b.agentRef(fmt.Sprintf("%s.what_if.compromised[%d]", path, i), a)
			}
			for i, e := range w.RemoveHandoffs {
				ep := fmt.Sprintf("%s.what_if.remove_handoffs[%d]", path, i)
				okFrom := b.agentRef(ep+".from", e.From)
				okTo := b.agentRef(ep+".to", e.To)
				if okFrom && okTo && len(p.HandoffModes(e.From, e.To)) == 0 {
					b.errorf(ep, "no hand-off from %s to %s to remove", e.From, e.To)
				}
			}
			for i, c := range w.Revoke {
				b.capRef(fmt.Sprintf("%s.what_if.revoke[%d]", path, i), c)
			}
		}
		if e := s.Expect; e != nil {
			for field, caps := range map[string][]string{"reachable": e.Reachable, "unreachable": e.Unreachable, "needs_approval": e.NeedsApproval} {
				for i, c := range caps {
					b.capRef(fmt.Sprintf("%s.expect.%s[%d]", path, field, i), c)
				}
			}
		}
	}
}

func (b *builder) checkGrants(gs []*policy.Grant) {
	p := b.p
	for _, g := range gs {
		if g.Tool != policy.Wildcard && !b.toolRef(g.Path+".tool", g.Tool) {
			continue
		}
		for i, a := range g.Actions {
			if a == policy.Wildcard {
				continue
			}
			ap := fmt.Sprintf("%s.actions[%d]", g.Path, i)
			if g.Tool == policy.Wildcard {
				if !anyToolHas(p, a) {
					b.errorf(ap, "no tool has an action %q", a)
				}
				continue
			}
			if p.Tool(g.Tool).Action(a) == nil {
				b.errorf(ap, "tool %s has no action %q%s", g.Tool, a, hint(a, actionNames(p.Tool(g.Tool))))
			}
		}
	}
}

func anyToolHas(p *policy.Policy, action string) bool {
	for _, t := range p.Tools {
		if t.Action(action) != nil {
			return true
		}
	}
	return false
}

func (b *builder) agentRef(path, name string) bool {
	if b.p.Agent(name) != nil {
		return true
	}
	names := make([]string, len(b.p.Agents))
	for i, a := range b.p.Agents {
		names[i] = a.Name
	}
	b.errorf(path, "undefined agent %q%s", name, hint(name, names))
	return false
}

func (b *builder) toolRef(path, name string) bool {
	if b.p.Tool(name) != nil {
		return true
	}
	names := make([]string, len(b.p.Tools))
	for i, t := range b.p.Tools {
		names[i] = t.Name
	}
	b.errorf(path, "undefined tool %q%s", name, hint(name, names))
	return false
}

// capRef checks a "tool.action" capability.
func (b *builder) capRef(path, c string) {
	tool, action, ok := policy.SplitCapability(c)
	if !ok {
		b.errorf(path, "invalid capability %q (write tool.action)", c)
		return
	}
	t := b.p.Tool(tool)
	if t == nil {
		b.toolRef(path, tool)
		return
	}
	if t.Action(action) == nil {
		b.errorf(path, "tool %s has no action %q%s", tool, action, hint(action, actionNames(t)))
	}
}

func actionNames(t *policy.Tool) []string {
	names := make([]string, len(t.Actions))
	for i, a := range t.Actions {
		names[i] = a.Name
	}
	return names
}

// hint suggests the closest declared name, the way the go command suggests commands.
func hint(name string, candidates []string) string {
	best, bestD := "", 3 // at most two edits away
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(candidates) > 0 && len(candidates) <= 8 {
		s := append([]string(nil), candidates...)
		sort.Strings(s)
		// Quoted: a name may be empty or hold a comma.
		for i, n := range s {
			s[i] = strconv.Quote(n)
		}
		return " (declared: " + strings.Join(s, ", ") + ")"
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
