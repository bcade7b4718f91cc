package diff

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/policy"
)

// request is one derived tool call: agent executes capability on resource (nil: the call
// names none) at the end of chain.
type request struct {
	agent, capability string
	chain             []string
	resource          *string
}

// decisions decides a request set derived from both versions, on each, and records the
// requests whose outcome (allow, deny, needs_approval) differs; a changed reason alone is not
// a flip. The set: for every agent a change can
// touch (every agent when an approval rule, a tool or max_chain_depth changed), every
// capability it holds in either version, executed directly and at the end of each hand-off
// into it declared in either version, once without a resource when a grant covering it in
// either version has no resource list, and once on a resource made from each pattern of the
// covering grants (see exampleResource), so that a change which makes a resource-scoped grant
// reachable flips a decision. Covering grants are those of the agent and of the agents that
// hand off into it, in either version. The first max requests in (agent, capability, chain,
// resource) order are decided.
func (r *Result) decisions(d *delta, max int) {
	var agents []string
	if len(d.rules) > 0 || len(d.tools) > 0 || d.settings {
		agents = agentNames(d.base, d.head)
	} else {
		set := map[string]bool{}
		for _, m := range []map[string]bool{d.agents, d.decide} {
			for a := range m {
				set[a] = true
			}
		}
		for x := range d.edges {
			set[x.To] = true
		}
		agents = slices.Sorted(maps.Keys(set))
	}
	preds := predecessors(d.base, d.head)
	var reqs []request
	for _, a := range agents {
		if len(reqs) >= max {
			r.Summary.RequestsCapped = true
			break
		}
		caps := map[string]bool{}
		for _, p := range []*policy.Policy{d.base, d.head} {
			if x := p.Agent(a); x != nil {
				for _, c := range p.Caps().Names(p.C(x)) {
					caps[c] = true
				}
			}
		}
		from := slices.Clone(preds[a])
		slices.Sort(from)
		from = slices.Compact(from)
		for _, c := range slices.Sorted(maps.Keys(caps)) {
			for _, res := range resources(c, append([]string{a}, from...), d.base, d.head) {
				reqs = append(reqs, request{agent: a, capability: c, chain: []string{a}, resource: res})
				for _, x := range from {
					reqs = append(reqs, request{agent: a, capability: c, chain: []string{x, a}, resource: res})
				}
			}
		}
	}
	if len(reqs) > max {
		reqs, r.Summary.RequestsCapped = reqs[:max], true
	}
	r.Summary.Requests = len(reqs)
	env := policy.Env{Now: policy.TestClock}
	for _, q := range reqs {
		in := input(d, q)
		vb, vh := verdict(d.base.Decide(in, env)), verdict(d.head.Decide(in, env))
		if vb.Outcome == vh.Outcome {
			continue
		}
		x := DecisionChange{Request: in, Before: vb, After: vh}
		if a := d.head.Agent(q.agent); a != nil {
			x.File, x.Line = posOf(a.Pos)
		}
		r.Decisions = append(r.Decisions, x)
	}
}

// input builds the runtime request of q: the agent's SPIFFE ID (HEAD's, else BASE's), a valid
// credential and a fresh session when either version asks for them, no approvals, and the
// fixed clock.
func input(d *delta, q request) map[string]any {
	tool, action, _ := policy.SplitCapability(q.capability)
	chain := make([]any, len(q.chain))
	for i, a := range q.chain {
		chain[i] = a
	}
	in := map[string]any{"agent": q.agent, "tool": tool, "action": action, "chain": chain,
		"approvals": []any{}, "now": policy.TestClock.Format(time.RFC3339)}
	if q.resource != nil {
		in["resource"] = *q.resource
	}
	for _, p := range []*policy.Policy{d.head, d.base} {
		a := p.Agent(q.agent)
		if a == nil {
			continue
		}
		if _, ok := in["identity"]; !ok && a.SpiffeID != "" {
			in["identity"] = a.SpiffeID
		}
		if a.Credential != nil && a.Credential.HasTTL {
			in["credential"] = map[string]any{"expires_at": policy.TestClock.Add(time.Hour).Format(time.RFC3339)}
		}
		if a.Session != nil {
			in["session"] = map[string]any{"actions": float64(0), "started_at": policy.TestClock.Format(time.RFC3339)}
		}
	}
	return in
}

// resources returns the resources to request capability c with, given the agents whose
// grants may carry it: nil (no resource) when one of their covering grants has no resource
// list, or when none covers c at all, then one concrete resource per distinct pattern of
// the covering grants, sorted.
func resources(c string, agents []string, ps ...*policy.Policy) []*string {
	tool, action, _ := policy.SplitCapability(c)
	unscoped, covered := false, false
	set := map[string]bool{}
	for _, p := range ps {
		for _, name := range agents {
			a := p.Agent(name)
			if a == nil {
				continue
			}
			for _, g := range a.Grants {
				if !g.Covers(tool, action) {
					continue
				}
				covered = true
				if g.AllResources() {
					unscoped = true
				}
				for _, pat := range g.Resources {
					set[exampleResource(pat)] = true
				}
			}
		}
	}
	var out []*string
	if unscoped || !covered {
		out = append(out, nil)
	}
	for _, r := range slices.Sorted(maps.Keys(set)) {
		out = append(out, &r)
	}
	return out
}

// exampleResource is a concrete resource the glob pat matches: each "*" becomes "x"
// ("*" -> "x", "accounts/*" -> "accounts/x").
func exampleResource(pat string) string { return strings.ReplaceAll(pat, policy.Wildcard, "x") }
