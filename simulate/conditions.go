package simulate

import (
	"slices"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// Conditions a witness depends on. Simulation treats a conditional grant or flow class as
// possible (a sound over-approximation); a witness says which conditions the runtime would
// still test, so a reader can tell a reach that always happens from one that needs, say, a
// recipient on a list.

// grantConditions returns the conditions under which the chain holds capability c: those of
// the grants that cover it at the last agent of the chain that holds it (the one its
// authority comes from), "a and b" per grant, or nil when a grant covers it without any.
func grantConditions(p *policy.Policy, chain []string, c string) []string {
	tool, action, _ := policy.SplitCapability(c)
	for i := len(chain) - 1; i >= 0; i-- {
		a := p.Agent(chain[i])
		if a == nil {
			continue
		}
		var out []string
		covered := false
		for _, g := range a.Grants {
			if !covers(g, tool, action) {
				continue
			}
			covered = true
			if g.When == nil {
				return nil
			}
			out = append(out, policy.ConditionsText(g.When))
		}
		if covered {
			slices.Sort(out)
			return slices.Compact(out)
		}
	}
	return nil
}

func covers(g *policy.Grant, tool, action string) bool {
	return (g.Tool == tool || g.Tool == "*") && (slices.Contains(g.Actions, action) || slices.Contains(g.Actions, "*"))
}

// egressConditions returns the conditions of an action's egress class ("egress when ..."),
// nil when the class applies to every call.
func egressConditions(a *policy.Action) []string {
	if a.Egress == nil || a.Egress.When == nil {
		return nil
	}
	return []string{"egress when " + policy.ConditionsText(a.Egress.When)}
}

// WhenText renders a witness's conditions for tables: "" or " (when a; or b)".
func WhenText(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " (when " + strings.Join(conds, "; or ") + ")"
}
