// Package simulate answers "if a task enters here, what can the chain of agents end up
// doing?": reachability over the hand-off graph (a least fixpoint on capability bitsets, never
// path enumeration), privilege escalations with shortest witness chains, exfiltration paths,
// approvals needed, what-if changes and scenario expectations.
package simulate

import (
	"fmt"
	"slices"

	"github.com/agentctl/agentctl/policy"
)

// Hand-off modes as small integers for the inner loop.
const (
	modeAttenuate uint8 = iota
	modeDelegate
	modeForward
)

func parseMode(s string) (uint8, bool) {
	switch s {
	case policy.ModeAttenuate:
		return modeAttenuate, true
	case policy.ModeDelegate:
		return modeDelegate, true
	case policy.ModeForwardCredentials:
		return modeForward, true
	}
	return 0, false
}

func modeName(m uint8) string {
	switch m {
	case modeAttenuate:
		return policy.ModeAttenuate
	case modeDelegate:
		return policy.ModeDelegate
	}
	return policy.ModeForwardCredentials
}

type arc struct {
	to   int32
	mode uint8
}

// Estate is a policy prepared for simulation: agents numbered in the policy's sorted order,
// hand-offs as adjacency lists, the capability classes of the exfiltration rule, and C(a)
// computed on first use. Prepare it once per policy and run any number of scenarios on it.
// An Estate caches as it runs, so it is not safe for concurrent use.
type Estate struct {
	p         *policy.Policy
	ix        *policy.CapIndex
	words     int
	depth     int
	names     []string
	id        map[string]int32
	untrusted []bool
	out       [][]arc         // declared hand-offs, duplicates removed
	caps      []policy.Bitset // C(a); nil until first needed
	capNames  []string        // per capability: "tool.action", "" until first needed
	rules     [][]int         // per capability: indexes of the rules that select it for some agent
	rulesDone policy.Bitset   // capabilities whose rules are computed
	// Capability classes of the exfiltration rule.
	sens    policy.Bitset // confidential/regulated reads
	extRead policy.Bitset // reads on external tools
	egress  policy.Bitset // non-read actions on external tools
}

// NewEstate prepares p for simulation. p must be indexed (the loader does it).
func NewEstate(p *policy.Policy) (*Estate, error) {
	ix := p.Caps()
	e := &Estate{
		p:     p,
		ix:    ix,
		words: len(ix.New()),
		depth: p.MaxChainDepth(),
		id:    make(map[string]int32, len(p.Agents)),
		caps:  make([]policy.Bitset, len(p.Agents)),
		out:   make([][]arc, len(p.Agents)),
	}
	for i, a := range p.Agents {
		e.names = append(e.names, a.Name)
		e.id[a.Name] = int32(i)
		e.untrusted = append(e.untrusted, a.UntrustedInput)
	}
	for _, h := range p.Handoffs {
		from, ok1 := e.id[h.From]
		to, ok2 := e.id[h.To]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: hand-off %s -> %s names an undefined agent", h.Path(), h.From, h.To)
		}
		m, ok := parseMode(h.Mode)
		if !ok {
			return nil, fmt.Errorf("%s: unknown hand-off mode %q", h.Path(), h.Mode)
		}
		if a := (arc{to: to, mode: m}); !slices.Contains(e.out[from], a) {
			e.out[from] = append(e.out[from], a)
		}
	}
	e.sens, e.extRead, e.egress = ix.New(), ix.New(), ix.New()
	for id := 0; id < ix.Len(); id++ {
		a := ix.Action(id)
		if policy.SensitiveRead(a) {
			e.sens.Set(id)
		}
		if p.ExternalRead(a) {
			e.extRead.Set(id)
		}
		if p.Egress(a) {
			e.egress.Set(id)
		}
	}
	return e, nil
}

// c returns C(a).
func (e *Estate) c(a int32) policy.Bitset {
	if e.caps[a] == nil {
		e.caps[a] = e.p.C(e.p.Agents[a])
	}
	return e.caps[a]
}

// capName returns "tool.action" of capability id, built once.
func (e *Estate) capName(id int) string {
	if e.capNames == nil {
		e.capNames = make([]string, e.ix.Len())
	}
	if e.capNames[id] == "" {
		e.capNames[id] = e.ix.Name(id)
	}
	return e.capNames[id]
}

// capNamesOf returns the sorted names of the capabilities in s.
func (e *Estate) capNamesOf(s policy.Bitset) []string {
	out := make([]string, 0, s.Count())
	s.Each(func(id int) { out = append(out, e.capName(id)) })
	return out
}

// rulesFor returns the indexes of the approval rules whose match selects capability id for some agent
// (every field but agents matches).
func (e *Estate) rulesFor(id int) []int {
	if e.rules == nil {
		e.rules, e.rulesDone = make([][]int, e.ix.Len()), e.ix.New()
	}
	if !e.rulesDone.Has(id) {
		e.rulesDone.Set(id)
		for i, rule := range e.p.Approvals {
			if rule.Match.SelectsAction(e.ix.Action(id)) {
				e.rules[id] = append(e.rules[id], i)
			}
		}
	}
	return e.rules[id]
}

// net is the estate with one scenario's what-if applied: revoked capabilities masked,
// hand-offs removed or re-moded, agents compromised.
type net struct {
	*Estate
	revoked     policy.Bitset
	masked      map[int32]policy.Bitset // C(a) minus revoked; nil when nothing is revoked
	compromised []bool
	override    map[int32][]arc // adjacency of the agents that lost a hand-off
	mode        uint8           // the what-if's mode for every hand-off, when hasMode
	hasMode     bool
}

// apply applies w (which may be nil) to the estate. Unknown names in w are errors.
func (e *Estate) apply(w *policy.WhatIf) (*net, error) {
	n := &net{Estate: e, revoked: e.ix.New(), compromised: make([]bool, len(e.names))}
	if w == nil {
		return n, nil
	}
	for _, c := range w.Revoke {
		id, ok := e.ix.ID(c)
		if !ok {
			return nil, fmt.Errorf("what-if revoke: %q is not a declared capability (tool.action)", c)
		}
		n.revoked.Set(id)
	}
	if len(w.Revoke) > 0 {
		n.masked = map[int32]policy.Bitset{}
	}
	for _, name := range w.Compromised {
		i, ok := e.id[name]
		if !ok {
			return nil, fmt.Errorf("what-if compromised: no agent %q", name)
		}
		n.compromised[i] = true
	}
	if w.HandoffMode != "" {
		m, ok := parseMode(w.HandoffMode)
		if !ok {
			return nil, fmt.Errorf("what-if handoff_mode: %q is not attenuate, delegate or forward_credentials", w.HandoffMode)
		}
		n.mode, n.hasMode = m, true
	}
	for _, h := range w.RemoveHandoffs {
		from, ok1 := e.id[h.From]
		to, ok2 := e.id[h.To]
		if !ok1 || !ok2 || len(e.p.HandoffModes(h.From, h.To)) == 0 {
			return nil, fmt.Errorf("what-if remove_handoffs: no hand-off %s -> %s is declared", h.From, h.To)
		}
		if n.override == nil {
			n.override = map[int32][]arc{}
		}
		cur, ok := n.override[from]
		if !ok {
			cur = e.out[from]
		}
		n.override[from] = slices.DeleteFunc(slices.Clone(cur), func(x arc) bool { return x.to == to })
	}
	return n, nil
}

// arcs returns the hand-offs out of a after the what-if.
func (n *net) arcs(a int32) []arc {
	if out, ok := n.override[a]; ok {
		return out
	}
	return n.out[a]
}

// capsOf returns C(a) without the revoked capabilities.
func (n *net) capsOf(a int32) policy.Bitset {
	c := n.c(a)
	if n.masked == nil {
		return c
	}
	m, ok := n.masked[a]
	if !ok {
		m = c.Clone()
		m.AndNot(n.revoked)
		n.masked[a] = m
	}
	return m
}

func intersects(a, b policy.Bitset) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// step writes into dst the effective authority after a hand-off in mode into agent b, given
// e before it. Same semantics as policy.Step, without allocating.
func (n *net) step(dst, e policy.Bitset, mode uint8, b int32) {
	cb := n.capsOf(b)
	switch {
	case n.compromised[b] || mode == modeForward:
		for i := range dst {
			dst[i] = e[i] | cb[i]
		}
	case mode == modeAttenuate:
		for i := range dst {
			dst[i] = e[i] & cb[i]
		}
	default: // delegate
		copy(dst, cb)
	}
}

// gains reports whether entering b in mode brings C(b) into the effective authority.
func (n *net) gains(mode uint8, b int32) bool {
	return mode != modeAttenuate || n.compromised[b]
}

// nextFlags returns the exfiltration flags after entering b in mode. Both flags mean "at or
// before this agent", so when a flag is still false the walk's authority so far holds no
// capability of its class, and only C(b) can set it: the flags depend on the state alone,
// not on the walk, which is what makes (agent, untrusted, sensitive) a sound fixpoint state.
func (n *net) nextFlags(u, s bool, mode uint8, b int32) (bool, bool) {
	u = u || n.untrusted[b] || n.compromised[b]
	if n.gains(mode, b) {
		cb := n.capsOf(b)
		u = u || intersects(cb, n.extRead)
		s = s || intersects(cb, n.sens)
	}
	return u, s
}

// modeOf returns the mode of hand-off x after the what-if.
func (n *net) modeOf(x arc) uint8 {
	if n.hasMode {
		return n.mode
	}
	return x.mode
}
