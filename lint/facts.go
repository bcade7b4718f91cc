package lint

import (
	"slices"

	"github.com/agentctl/agentctl/policy"
)

// facts are derived data several checks need, computed at most once per run. Capability
// sets of agents and grants are sorted id lists rather than bitsets: agents hold a handful
// of capabilities out of tens of thousands, so lists keep every check O(V+E) in the sizes
// of the grants.
type facts struct {
	p      *policy.Policy
	agent  map[string]int // agent name -> index in p.Agents
	caps   [][]int        // C(a) per agent index, nil until computed
	masks  *capMasks
	cover  *approvalCover
	allIDs []int
	known  map[string]bool // every check ID and slug, for AC054
	grants map[*policy.Grant][]int
}

func newFacts(p *policy.Policy) *facts {
	f := &facts{p: p, agent: make(map[string]int, len(p.Agents)), caps: make([][]int, len(p.Agents)),
		grants: map[*policy.Grant][]int{}}
	for i, a := range p.Agents {
		f.agent[a.Name] = i
	}
	f.known = map[string]bool{}
	for _, c := range Checks() {
		f.known[c.ID], f.known[c.Slug] = true, true
	}
	return f
}

// grantIDs returns the capability ids a grant covers, sorted, with "*" expanded.
func (f *facts) grantIDs(g *policy.Grant) []int {
	ids, ok := f.grants[g]
	if !ok {
		ids = f.expand(g)
		f.grants[g] = ids
	}
	return ids
}

func (f *facts) expand(g *policy.Grant) []int {
	ix := f.p.Caps()
	if g.Tool == policy.Wildcard && slices.Contains(g.Actions, policy.Wildcard) {
		return f.all()
	}
	tools := f.p.Tools
	if g.Tool != policy.Wildcard {
		t := f.p.Tool(g.Tool)
		if t == nil {
			return nil
		}
		tools = []*policy.Tool{t}
	}
	var ids []int
	for _, t := range tools {
		for _, name := range g.Actions {
			if name == policy.Wildcard {
				for _, a := range t.Actions {
					id, _ := ix.ID(a.Capability())
					ids = append(ids, id)
				}
				continue
			}
			if a := t.Action(name); a != nil {
				id, _ := ix.ID(a.Capability())
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (f *facts) all() []int {
	if f.allIDs == nil {
		n := f.p.Caps().Len()
		f.allIDs = make([]int, n)
		for i := range f.allIDs {
			f.allIDs[i] = i
		}
	}
	return f.allIDs
}

// agentCaps returns C(a) as sorted ids; nil for an unknown agent.
func (f *facts) agentCaps(name string) []int {
	i, ok := f.agent[name]
	if !ok {
		return nil
	}
	if f.caps[i] == nil {
		var ids []int
		for _, g := range f.p.Agents[i].Grants {
			ids = append(ids, f.grantIDs(g)...)
		}
		slices.Sort(ids)
		f.caps[i] = slices.Compact(ids)
		if f.caps[i] == nil {
			f.caps[i] = []int{}
		}
	}
	return f.caps[i]
}

// capMasks classify every capability once.
type capMasks struct {
	read, nonRead, highRisk           policy.Bitset
	sensitiveRead                     policy.Bitset // read of confidential or regulated data
	externalRead, externalNonRead     policy.Bitset // on tools with external: true
	thirdPartyNonRead                 policy.Bitset // on mcp or third_party tools
	sharedAuth                        policy.Bitset // on tools with shared_token or static_key auth
	highRiskEffects, sensitiveClasses map[string]bool
}

func (f *facts) capMasks() *capMasks {
	if f.masks != nil {
		return f.masks
	}
	ix := f.p.Caps()
	m := &capMasks{
		read: ix.New(), nonRead: ix.New(), highRisk: ix.New(), sensitiveRead: ix.New(),
		externalRead: ix.New(), externalNonRead: ix.New(), thirdPartyNonRead: ix.New(),
		sharedAuth: ix.New(),
	}
	for id := range ix.Len() {
		a := ix.Action(id)
		t := f.p.Tool(a.Tool)
		isRead := a.Effect == policy.EffectRead
		if isRead {
			m.read.Set(id)
			if a.Data == policy.DataConfidential || a.Data == policy.DataRegulated {
				m.sensitiveRead.Set(id)
			}
		} else {
			m.nonRead.Set(id)
		}
		if isHighRisk(a.Effect) {
			m.highRisk.Set(id)
		}
		if t.External {
			if isRead {
				m.externalRead.Set(id)
			} else {
				m.externalNonRead.Set(id)
			}
		}
		if !isRead && (t.Source == "mcp" || t.Source == "third_party") {
			m.thirdPartyNonRead.Set(id)
		}
		if t.Auth.Kind == "shared_token" || t.Auth.Kind == "static_key" {
			m.sharedAuth.Set(id)
		}
	}
	f.masks = m
	return m
}

// isHighRisk reports whether an effect needs a human approval rule (AC020).
func isHighRisk(effect string) bool {
	switch effect {
	case policy.EffectPayment, policy.EffectDeploy, policy.EffectPrivilegeEscalation,
		policy.EffectExport, policy.EffectDelete:
		return true
	}
	return false
}

// approvalCover holds which capabilities approval rules match: rules without an agents
// filter in any, the others per agent. A rule with a threshold still covers (contract).
type approvalCover struct {
	any      policy.Bitset
	perAgent map[string]policy.Bitset
}

func (f *facts) approvals() *approvalCover {
	if f.cover != nil {
		return f.cover
	}
	ix := f.p.Caps()
	c := &approvalCover{any: ix.New(), perAgent: map[string]policy.Bitset{}}
	for _, r := range f.p.Approvals {
		set := c.any
		if r.Match.Agents != nil {
			set = ix.New()
		}
		effects, tools, actions, data := toSet(r.Match.Effects), toSet(r.Match.Tools), toSet(r.Match.Actions), toSet(r.Match.Data)
		for id := range ix.Len() {
			a := ix.Action(id)
			if matches(effects, a.Effect) && matches(tools, a.Tool) && matches(data, a.Data) &&
				(actions == nil || actions[a.Capability()]) {
				set.Set(id)
			}
		}
		for _, name := range r.Match.Agents {
			if s, ok := c.perAgent[name]; ok {
				s.Or(set)
			} else {
				c.perAgent[name] = set.Clone()
			}
		}
	}
	f.cover = c
	return c
}

// covered reports whether some approval rule matches agent executing capability id.
func (c *approvalCover) covered(agent string, id int) bool {
	if c.any.Has(id) {
		return true
	}
	s, ok := c.perAgent[agent]
	return ok && s.Has(id)
}

// toSet returns nil for a nil list (match anything) and a set otherwise.
func toSet(list []string) map[string]bool {
	if list == nil {
		return nil
	}
	s := make(map[string]bool, len(list))
	for _, v := range list {
		s[v] = true
	}
	return s
}

func matches(set map[string]bool, v string) bool { return set == nil || set[v] }

// filter returns the ids of list in mask.
func filter(list []int, mask policy.Bitset) []int {
	var out []int
	for _, id := range list {
		if mask.Has(id) {
			out = append(out, id)
		}
	}
	return out
}
