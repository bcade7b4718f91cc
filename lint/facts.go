package lint

import (
	"slices"
	"strings"

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
	known  map[string]bool      // every check ID and slug, for AC054
	grants [][][]int            // per agent index, per grant: the ids it covers
	bases  map[*policy.Tool]int // tool -> id of its first action
	hg     *handoffGraph
}

func newFacts(p *policy.Policy) *facts {
	f := &facts{p: p, agent: make(map[string]int, len(p.Agents)), caps: make([][]int, len(p.Agents)),
		grants: make([][][]int, len(p.Agents))}
	for i, a := range p.Agents {
		f.agent[a.Name] = i
	}
	f.known = map[string]bool{}
	for _, c := range Checks() {
		f.known[c.ID], f.known[c.Slug] = true, true
	}
	return f
}

// grantIDs returns the capability ids grant gi of agent ai covers, sorted, with "*"
// expanded.
func (f *facts) grantIDs(ai, gi int) []int {
	if f.grants[ai] == nil {
		gs := f.p.Agents[ai].Grants
		f.grants[ai] = make([][]int, len(gs))
		for i, g := range gs {
			f.grants[ai][i] = f.expand(g)
		}
	}
	return f.grants[ai][gi]
}

func (f *facts) expand(g *policy.Grant) []int {
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
		base := f.toolBase(t)
		for _, name := range g.Actions {
			if name == policy.Wildcard {
				for i := range t.Actions {
					ids = append(ids, base+i)
				}
				continue
			}
			if i, ok := slices.BinarySearchFunc(t.Actions, name, func(a *policy.Action, n string) int {
				return strings.Compare(a.Name, n)
			}); ok {
				ids = append(ids, base+i)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// toolBase returns the capability id of the tool's first action: the index numbers tools in
// name order and their (sorted) actions consecutively, so action i of t is base+i.
func (f *facts) toolBase(t *policy.Tool) int {
	if f.bases == nil {
		// A tool's ids are consecutive in the index; its first action's id is the base.
		f.bases = make(map[*policy.Tool]int, len(f.p.Tools))
		for _, tool := range f.p.Tools {
			if len(tool.Actions) > 0 {
				f.bases[tool], _ = f.p.Caps().ID(tool.Actions[0].Capability())
			}
		}
	}
	return f.bases[t]
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

// agentCaps returns C(a) of agent index i as sorted ids.
func (f *facts) agentCaps(i int) []int {
	if f.caps[i] == nil {
		var ids []int
		for j := range f.p.Agents[i].Grants {
			gi := f.grantIDs(i, j)
			if len(gi) == f.p.Caps().Len() { // holds everything: no need to merge
				ids = gi
				break
			}
			ids = append(ids, gi...)
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
		effects, data := toSet(r.Match.Effects), toSet(r.Match.Data)
		f.eachCandidate(r.Match, func(id int) {
			if a := ix.Action(id); matches(effects, a.Effect) && matches(data, a.Data) {
				set.Set(id)
			}
		})
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

// eachCandidate calls fn for every capability a rule's actions and tools filters admit:
// the listed actions, else the listed tools' actions, else every capability. Listing the
// candidates keeps a narrow rule cheap however many tools the estate has.
func (f *facts) eachCandidate(m policy.Match, fn func(id int)) {
	ix := f.p.Caps()
	tools := toSet(m.Tools)
	switch {
	case m.Actions != nil:
		seen := map[int]bool{}
		for _, name := range m.Actions {
			tool, _, _ := policy.SplitCapability(name)
			if id, ok := ix.ID(name); ok && matches(tools, tool) && !seen[id] {
				seen[id] = true
				fn(id)
			}
		}
	case m.Tools != nil:
		for name := range tools {
			if t := f.p.Tool(name); t != nil {
				for i := range t.Actions {
					fn(f.toolBase(t) + i)
				}
			}
		}
	default:
		for id := range ix.Len() {
			fn(id)
		}
	}
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

// sample is a capability set as messages show it: its first few ids and its size. Checks
// build samples instead of lists so wildcard grants (thousands of capabilities) cost no
// allocation beyond what a message shows.
type sample struct {
	first [sampleSize]int
	n     int
}

const sampleSize = 5

func (s *sample) add(id int) {
	if s.n < sampleSize {
		s.first[s.n] = id
	}
	s.n++
}

// ids returns the sampled ids.
func (s *sample) ids() []int { return s.first[:min(s.n, sampleSize)] }

// sampleOf samples the ids of list in mask.
func sampleOf(list []int, mask policy.Bitset) sample {
	var s sample
	for _, id := range list {
		if mask.Has(id) {
			s.add(id)
		}
	}
	return s
}
