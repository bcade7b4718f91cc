package lint

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// facts are derived data several checks need, computed at most once per run.
type facts struct {
	p         *policy.Policy
	agent     map[string]int // agent name -> index in p.Agents
	caps      []capSet       // C(a) per agent index, nil until computed
	grants    []capSet       // per grant, agent by agent: the capabilities it covers
	first     []int          // per agent index: the index in grants of its first grant
	words     []capWord      // backs the capSets, a block at a time
	all       capSet         // every capability: what a "*"/"*" grant covers
	tool      map[string]int // tool name -> index in p.Tools, for tools with actions
	base      []int          // per tool index: the id of the tool's first action
	acts      [][]string     // per tool index: its action names, sorted
	toolOf    []int          // capability id -> tool index
	name      []string       // capability id -> "tool.action"
	label     []string       // capability id -> "tool.action (effect)", as messages show it
	quoted    []string       // agent index -> q(name)
	union     []capWord      // scratch for agentCaps
	masks     *capMasks
	cover     *approvalCover
	known     map[string]bool // every check ID and slug, for AC054
	hg        *handoffGraph
	untrusted []untrusted // per agent index, see untrustedContext
	subj      subjects
}

func newFacts(p *policy.Policy) *facts {
	f := &facts{p: p, agent: make(map[string]int, len(p.Agents)), caps: make([]capSet, len(p.Agents)), subj: subjects{p: p}}
	for i, a := range p.Agents {
		f.agent[a.Name] = i
	}
	// Here rather than in AC054's Run: a check referring to Checks is an initialization cycle.
	f.known = map[string]bool{}
	for _, c := range Checks() {
		f.known[c.ID], f.known[c.Slug] = true, true
	}
	return f
}

// capSet is a capability set as the non-zero words of a policy.Bitset, by increasing word
// index. Checks combine sets with the full-size masks word by word, so a wildcard grant
// (every capability of the estate) costs a few hundred words, not thousands of ids, while
// an agent holding a handful of capabilities costs a handful of words rather than a
// full-size Bitset. Ids are visited only to build the bounded samples messages show.
type capSet []capWord

type capWord struct {
	at   int    // word index in a full-size Bitset
	bits uint64 // never zero
}

// count is the number of capabilities.
func (s capSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w.bits)
	}
	return n
}

// sample samples the ids of s in mask (a full-size Bitset).
func (s capSet) sample(mask policy.Bitset) sample {
	var out sample
	for _, w := range s {
		out.addWord(w.at, w.bits&mask[w.at])
	}
	return out
}

// newCapSet returns an empty, non-nil set with room for n words. A large estate has tens of
// thousands of grants, each with a set of a word or two: they share blocks.
func (f *facts) newCapSet(n int) capSet {
	if f.words == nil || cap(f.words)-len(f.words) < n {
		f.words = make([]capWord, 0, max(n, 4096))
	}
	s := f.words[len(f.words) : len(f.words) : len(f.words)+n]
	f.words = f.words[:len(f.words)+n]
	return s
}

// toCapSet returns the non-zero words of b, each at offset plus its index.
func (f *facts) toCapSet(b policy.Bitset, offset int) capSet {
	n := 0
	for _, w := range b {
		if w != 0 {
			n++
		}
	}
	s := f.newCapSet(n)
	for i, w := range b {
		if w != 0 {
			s = append(s, capWord{offset + i, w})
		}
	}
	return s
}

// grantCaps returns the capabilities grant gi of agent ai covers, with "*" expanded.
func (f *facts) grantCaps(ai, gi int) capSet {
	if f.first == nil {
		f.expandGrants()
	}
	return f.grants[f.first[ai]+gi]
}

// expandGrants expands every grant of every agent.
func (f *facts) expandGrants() {
	f.indexTools()
	f.first = make([]int, len(f.p.Agents))
	n := 0
	for ai, a := range f.p.Agents {
		f.first[ai] = n
		n += len(a.Grants)
	}
	f.grants = make([]capSet, 0, n)
	for _, a := range f.p.Agents {
		for _, g := range a.Grants {
			f.grants = append(f.grants, f.expand(g))
		}
	}
}

// expand returns the capabilities g covers; indexTools must have run.
func (f *facts) expand(g *policy.Grant) capSet {
	if g.Tool == policy.Wildcard {
		if slices.Contains(g.Actions, policy.Wildcard) {
			return f.all
		}
		b := f.p.Caps().New()
		for ti := range f.p.Tools {
			addActions(b, f.base[ti], f.acts[ti], g.Actions)
		}
		return f.toCapSet(b, 0)
	}
	ti, ok := f.tool[g.Tool]
	if !ok {
		return nil
	}
	// A tool's ids are consecutive: a window of a word or two holds them.
	acts, base := f.acts[ti], f.base[ti]
	first := base / 64
	var window [4]uint64
	b := policy.Bitset(window[:])
	if n := (base+len(acts)-1)/64 + 1 - first; n > len(window) {
		b = make(policy.Bitset, n)
	} else {
		b = b[:n]
	}
	addActions(b, base-64*first, acts, g.Actions)
	return f.toCapSet(b, first)
}

// addActions sets in b the ids of the named actions ("*" for all) of a tool whose sorted
// action names are acts, numbered from base.
func addActions(b policy.Bitset, base int, acts, names []string) {
	for _, name := range names {
		if name == policy.Wildcard {
			for i := range acts {
				b.Set(base + i)
			}
		} else if i, ok := slices.BinarySearch(acts, name); ok {
			b.Set(base + i)
		}
	}
}

// indexTools numbers the tools' capabilities: the index sorts "tool.action", so a tool's
// ids are consecutive, in the order of its sorted actions, from the id of its first action.
//
// It also copies the names grants look up and messages print into one block of text. On a
// large estate they are looked up and printed hundreds of thousands of times, and reading
// one block costs far less than following pointers through the loaded policy each time.
func (f *facts) indexTools() {
	if f.tool != nil {
		return
	}
	ix := f.p.Caps()
	n := ix.Len()
	size := 0
	for id := range n {
		a := ix.Action(id)
		size += len(a.Tool) + len(a.Name) + len(a.Effect) + 4
	}
	var b strings.Builder
	b.Grow(size)
	for id := range n {
		a := ix.Action(id)
		b.WriteString(a.Tool)
		b.WriteByte('.')
		b.WriteString(a.Name)
		b.WriteString(" (")
		b.WriteString(a.Effect)
		b.WriteByte(')')
	}
	text := b.String()
	f.name, f.label = make([]string, n), make([]string, n)
	action := make([]string, n) // capability id -> action name
	at := 0
	for id := range n {
		a := ix.Action(id)
		dot, end := at+len(a.Tool), at+len(a.Tool)+1+len(a.Name)
		next := end + 2 + len(a.Effect) + 1
		f.name[id], f.label[id], action[id] = text[at:end], text[at:next], text[dot+1:end]
		at = next
	}

	all := ix.New()
	f.tool = make(map[string]int, len(f.p.Tools))
	f.base = make([]int, len(f.p.Tools))
	f.acts = make([][]string, len(f.p.Tools))
	f.toolOf = make([]int, n)
	for ti, t := range f.p.Tools {
		if len(t.Actions) == 0 {
			continue
		}
		base, _ := ix.ID(t.Actions[0].Capability())
		f.base[ti], f.acts[ti] = base, action[base:base+len(t.Actions)]
		f.tool[t.Name] = ti
		for i := range t.Actions {
			all.Set(base + i)
			f.toolOf[base+i] = ti
		}
	}
	f.all = f.toCapSet(all, 0)
}

// quotedAgent returns q of the name of agent index i. Messages quote agent names tens of
// thousands of times on a large estate: quote each once, into one block.
func (f *facts) quotedAgent(i int) string {
	if f.quoted == nil {
		size := 0
		for _, a := range f.p.Agents {
			size += len(a.Name) + 2
		}
		var b strings.Builder
		b.Grow(size)
		ends := make([]int, len(f.p.Agents))
		for i, a := range f.p.Agents {
			writeQuoted(&b, a.Name)
			ends[i] = b.Len()
		}
		text := b.String()
		f.quoted = make([]string, len(f.p.Agents))
		start := 0
		for i, end := range ends {
			f.quoted[i], start = text[start:end], end
		}
	}
	return f.quoted[i]
}

// capText returns, per capability id, "tool.action" and "tool.action (effect)".
func (f *facts) capText() (name, label []string) {
	f.indexTools()
	return f.name, f.label
}

// agentCaps returns C(a) of agent index i: the union of its grants' sets.
func (f *facts) agentCaps(i int) capSet {
	if f.caps[i] != nil {
		return f.caps[i]
	}
	u := f.union[:0]
	for j := range f.p.Agents[i].Grants {
		u = append(u, f.grantCaps(i, j)...)
	}
	slices.SortFunc(u, func(a, b capWord) int { return a.at - b.at })
	c := f.newCapSet(len(u)) // non-nil: computed
	for _, w := range u {
		if n := len(c); n > 0 && c[n-1].at == w.at {
			c[n-1].bits |= w.bits
		} else {
			c = append(c, w)
		}
	}
	f.union = u
	f.caps[i] = c
	return c
}

// capMasks classify every capability once.
type capMasks struct {
	read, nonRead, highRisk       policy.Bitset
	sensitiveRead                 policy.Bitset            // read of confidential or regulated data
	externalRead, externalNonRead policy.Bitset            // on tools with external: true
	thirdPartyNonRead             policy.Bitset            // on mcp or third_party tools
	sharedAuth                    policy.Bitset            // on tools with shared_token or static_key auth
	byEffect, byData              map[string]policy.Bitset // capabilities per effect, per data class
}

func (f *facts) capMasks() *capMasks {
	if f.masks != nil {
		return f.masks
	}
	ix := f.p.Caps()
	m := &capMasks{
		read: ix.New(), nonRead: ix.New(), highRisk: ix.New(), sensitiveRead: ix.New(),
		externalRead: ix.New(), externalNonRead: ix.New(), thirdPartyNonRead: ix.New(),
		sharedAuth: ix.New(), byEffect: map[string]policy.Bitset{}, byData: map[string]policy.Bitset{},
	}
	f.indexTools()
	for id := range ix.Len() {
		a := ix.Action(id)
		t := f.p.Tools[f.toolOf[id]]
		classify(ix, m.byEffect, a.Effect, id)
		classify(ix, m.byData, a.Data, id)
		isRead := a.Effect == policy.EffectRead
		if isRead {
			m.read.Set(id)
		} else {
			m.nonRead.Set(id)
		}
		if policy.SensitiveRead(a) {
			m.sensitiveRead.Set(id)
		}
		if policy.HighRisk(a.Effect) {
			m.highRisk.Set(id)
		}
		if f.p.ExternalRead(a) {
			m.externalRead.Set(id)
		}
		if f.p.Egress(a) {
			m.externalNonRead.Set(id)
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

// classify adds id to the set of class in by.
func classify(ix *policy.CapIndex, by map[string]policy.Bitset, class string, id int) {
	s, ok := by[class]
	if !ok {
		s = ix.New()
		by[class] = s
	}
	s.Set(id)
}

// classes returns the capabilities in any of the named classes of by; nil names every class.
func classes(ix *policy.CapIndex, by map[string]policy.Bitset, names []string) policy.Bitset {
	out := ix.New()
	for class, s := range by {
		if names == nil || slices.Contains(names, class) {
			out.Or(s)
		}
	}
	return out
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
	ix, m := f.p.Caps(), f.capMasks()
	c := &approvalCover{any: ix.New(), perAgent: map[string]policy.Bitset{}}
	for _, r := range f.p.Approvals {
		set := c.any
		if r.Match.Agents != nil {
			set = ix.New()
		}
		if r.Match.Actions == nil && r.Match.Tools == nil {
			// Every capability is a candidate: combine the classes word by word.
			match := classes(ix, m.byEffect, r.Match.Effects)
			match.And(classes(ix, m.byData, r.Match.Data))
			set.Or(match)
		} else {
			effects, data := toSet(r.Match.Effects), toSet(r.Match.Data)
			f.eachCandidate(r.Match, func(id int) {
				if a := ix.Action(id); matches(effects, a.Effect) && matches(data, a.Data) {
					set.Set(id)
				}
			})
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

// eachCandidate calls fn for every capability a rule's actions and tools filters admit:
// the listed actions, else the listed tools' actions. Listing the candidates keeps a narrow
// rule cheap however many tools the estate has.
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
	default:
		f.indexTools()
		for name := range tools {
			if ti, ok := f.tool[name]; ok {
				for i := range f.p.Tools[ti].Actions {
					fn(f.base[ti] + i)
				}
			}
		}
	}
}

// of returns the capabilities rules filtered to agent cover besides c.any, or nil.
func (c *approvalCover) of(agent string) policy.Bitset { return c.perAgent[agent] }

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

// addWord adds the ids of w, word i of a Bitset: the first ones while the sample has room,
// then only their count.
func (s *sample) addWord(i int, w uint64) {
	for ; w != 0 && s.n < sampleSize; w &= w - 1 {
		s.first[s.n] = 64*i + bits.TrailingZeros64(w)
		s.n++
	}
	s.n += bits.OnesCount64(w)
}

// ids returns the sampled ids.
func (s *sample) ids() []int { return s.first[:min(s.n, sampleSize)] }

// difference samples the ids of a not in b.
func difference(a, b capSet) sample {
	var out sample
	j := 0
	for _, w := range a {
		for j < len(b) && b[j].at < w.at {
			j++
		}
		x := w.bits
		if j < len(b) && b[j].at == w.at {
			x &^= b[j].bits
		}
		out.addWord(w.at, x)
	}
	return out
}

// untrusted is what an agent can do in a task whose context is untrusted.
type untrusted struct {
	why  string // its own untrusted_input, its untrusted-class reads, or the hand-off it came by
	caps capSet // the capabilities it can exercise in such a task
}

// untrustedContext returns, per agent index, what the agent can do in a task that carries
// content outsiders control (why is "" when no such task reaches it). An agent with
// untrusted input or an untrusted-class read can use all it holds; a hand-off from such an
// agent passes on what its mode allows: attenuate the intersection, delegate the receiver's
// own grants, forward_credentials both. A least fixpoint over the hand-off graph, at any
// depth and without what-ifs: a sound over-approximation of the chains simulate walks.
func (f *facts) untrustedContext() []untrusted {
	if f.untrusted != nil {
		return f.untrusted
	}
	p, m := f.p, f.capMasks()
	name, _ := f.capText()
	out := make([]untrusted, len(p.Agents))
	var queue []int
	for ai, a := range p.Agents {
		if a.UntrustedInput {
			out[ai].why = "untrusted_input"
		} else if s := f.agentCaps(ai).sample(m.externalRead); s.n > 0 {
			out[ai].why = s.list(name, "untrusted reads ")
		} else {
			continue
		}
		out[ai].caps = f.agentCaps(ai)
		queue = append(queue, ai)
	}
	g := f.graph()
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range g.out[v] {
			own := f.agentCaps(e.to)
			var passed capSet
			switch p.Handoffs[e.edge].Mode {
			case policy.ModeAttenuate:
				passed = intersect(out[v].caps, own)
			case policy.ModeDelegate:
				passed = own
			default:
				passed = union(out[v].caps, own)
			}
			grown := union(out[e.to].caps, passed)
			if grown.count() == out[e.to].caps.count() && out[e.to].why != "" {
				continue
			}
			if out[e.to].why == "" {
				out[e.to].why = "hand-off from " + f.quotedAgent(v)
			}
			out[e.to].caps = grown
			queue = append(queue, e.to)
		}
	}
	f.untrusted = out
	return out
}

// intersect and union combine two capability sets word by word.
func intersect(a, b capSet) capSet {
	var out capSet
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].at < b[j].at:
			i++
		case a[i].at > b[j].at:
			j++
		default:
			if x := a[i].bits & b[j].bits; x != 0 {
				out = append(out, capWord{a[i].at, x})
			}
			i, j = i+1, j+1
		}
	}
	return out
}

func union(a, b capSet) capSet {
	out := make(capSet, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].at < b[j].at:
			out = append(out, a[i])
			i++
		case a[i].at > b[j].at:
			out = append(out, b[j])
			j++
		default:
			out = append(out, capWord{a[i].at, a[i].bits | b[j].bits})
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// held returns the first of ids (in order) that s holds.
func (s capSet) held(ids []int) (int, bool) {
	for _, id := range ids {
		i, ok := slices.BinarySearchFunc(s, id/64, func(w capWord, at int) int { return w.at - at })
		if ok && s[i].bits&(1<<(id%64)) != 0 {
			return id, true
		}
	}
	return 0, false
}

// integrityGuarded is the set of capabilities the integrity rule stops in an untrusted
// task: its effects, minus actions that opt out with flow_exempt. Empty when the rule is
// absent or off.
func (f *facts) integrityGuarded() policy.Bitset {
	ix := f.p.Caps()
	out := ix.New()
	rule := f.p.IntegrityRule()
	if rule == nil {
		return out
	}
	m := f.capMasks()
	for _, e := range rule.Effects {
		if s := m.byEffect[e]; s != nil {
			out.Or(s)
		}
	}
	exempt := ix.New()
	for id := range ix.Len() {
		if ix.Action(id).FlowExempt != "" {
			exempt.Set(id)
		}
	}
	out.AndNot(exempt)
	return out
}
