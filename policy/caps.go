package policy

import (
	"math/bits"
	"sort"
	"strings"
)

// CapIndex gives every declared capability ("tool.action") a dense integer, in sorted order,
// so capability sets can be bitsets. A tool's capabilities have consecutive ids, in the
// order of its (sorted) actions: all strings "tool." form one block of the sorted order.
type CapIndex struct {
	caps []*Action
	ids  map[string]int
}

func newCapIndex(tools []*Tool) *CapIndex {
	ix := &CapIndex{ids: map[string]int{}}
	for _, t := range tools {
		ix.caps = append(ix.caps, t.Actions...)
	}
	// Sorted by "tool.action" (not by tool, then action: "crm-x.a" sorts before "crm.a"), so
	// that ids, bitset iteration and Names all follow the order users read.
	sort.Slice(ix.caps, func(i, j int) bool { return ix.caps[i].Capability() < ix.caps[j].Capability() })
	for id, a := range ix.caps {
		ix.ids[a.Capability()] = id
	}
	return ix
}

// Len is the number of capabilities.
func (ix *CapIndex) Len() int { return len(ix.caps) }

// ID returns the index of "tool.action".
func (ix *CapIndex) ID(capability string) (int, bool) {
	id, ok := ix.ids[capability]
	return id, ok
}

// Action returns the action behind capability id.
func (ix *CapIndex) Action(id int) *Action { return ix.caps[id] }

// Name returns "tool.action" for id.
func (ix *CapIndex) Name(id int) string { return ix.caps[id].Capability() }

// New returns an empty set sized for the index.
func (ix *CapIndex) New() Bitset { return make(Bitset, (len(ix.caps)+63)/64) }

// Names returns the sorted capability names of s.
func (ix *CapIndex) Names(s Bitset) []string {
	out := make([]string, 0, s.Count())
	s.Each(func(id int) { out = append(out, ix.Name(id)) })
	return out
}

// Capability names the capability of action on tool: "tool.action".
func Capability(tool, action string) string { return tool + "." + action }

// SplitCapability splits "tool.action"; ok is false when there is no dot.
func SplitCapability(c string) (tool, action string, ok bool) {
	return strings.Cut(c, ".")
}

// Bitset is a set of capability ids.
type Bitset []uint64

// Set adds id.
func (s Bitset) Set(id int) { s[id/64] |= 1 << (uint(id) % 64) }

// Has reports whether id is in s.
func (s Bitset) Has(id int) bool { return s[id/64]&(1<<(uint(id)%64)) != 0 }

// Clone returns a copy.
func (s Bitset) Clone() Bitset { return append(Bitset(nil), s...) }

// Or adds every element of t (same size) to s.
func (s Bitset) Or(t Bitset) {
	for i := range s {
		s[i] |= t[i]
	}
}

// And keeps only elements also in t.
func (s Bitset) And(t Bitset) {
	for i := range s {
		s[i] &= t[i]
	}
}

// AndNot removes every element of t.
func (s Bitset) AndNot(t Bitset) {
	for i := range s {
		s[i] &^= t[i]
	}
}

// OrChanged adds t to s and reports whether s grew.
func (s Bitset) OrChanged(t Bitset) bool {
	changed := false
	for i := range s {
		if n := s[i] | t[i]; n != s[i] {
			s[i] = n
			changed = true
		}
	}
	return changed
}

// Empty reports whether s has no element.
func (s Bitset) Empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

// Count is the number of elements.
func (s Bitset) Count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Each calls f for every element in increasing order.
func (s Bitset) Each(f func(id int)) {
	for i, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			f(i*64 + b)
			w &= w - 1
		}
	}
}

// GrantCaps returns the capabilities a list of grants covers, with "*" expanded over the
// declared tools and their actions. Resources do not narrow capabilities.
func (p *Policy) GrantCaps(grants []*Grant) Bitset {
	s := p.caps.New()
	for _, g := range grants {
		p.addGrant(s, g)
	}
	return s
}

func (p *Policy) addGrant(s Bitset, g *Grant) {
	tools := p.Tools
	if g.Tool != Wildcard {
		t := p.Tool(g.Tool)
		if t == nil {
			return
		}
		tools = []*Tool{t}
	}
	for _, t := range tools {
		for _, name := range g.Actions {
			if name == Wildcard {
				for _, a := range t.Actions {
					s.Set(p.caps.ids[a.Capability()])
				}
				continue
			}
			if a := t.Action(name); a != nil {
				s.Set(p.caps.ids[a.Capability()])
			}
		}
	}
}

// C returns C(a): the capabilities of agent a. It is computed on each call; callers that
// need it repeatedly keep the result.
func (p *Policy) C(a *Agent) Bitset { return p.GrantCaps(a.Grants) }

// Step is the effective authority after a hand-off in mode into an agent whose capabilities
// are ca, given the effective authority e before it. A compromised receiver acts with
// e ∪ ca whatever the mode. The result is a new set.
func Step(e Bitset, mode string, ca Bitset, compromised bool) Bitset {
	out := e.Clone()
	switch {
	case compromised || mode == ModeForwardCredentials:
		out.Or(ca)
	case mode == ModeAttenuate:
		out.And(ca)
	case mode == ModeDelegate:
		copy(out, ca)
	default:
		// Unknown modes grant nothing: deny by default.
		clear(out)
	}
	return out
}

// ChainAuthority returns the effective authority after each agent of chain: result[i] is
// E_i. a0 is the originator's authority (nil means C(chain[0])); modes[i] is the mode of
// the hand-off chain[i] -> chain[i+1]; compromised names hijacked agents. A compromised
// originator acts with a0 ∪ C(chain[0]).
func (p *Policy) ChainAuthority(chain []string, modes []string, a0 Bitset, compromised map[string]bool) []Bitset {
	if len(chain) == 0 {
		return nil
	}
	out := make([]Bitset, len(chain))
	first := p.capsOf(chain[0])
	e := a0
	if e == nil {
		e = first
	}
	e = e.Clone()
	if compromised[chain[0]] {
		e.Or(first)
	}
	out[0] = e
	for i := 1; i < len(chain); i++ {
		e = Step(e, modes[i-1], p.capsOf(chain[i]), compromised[chain[i]])
		out[i] = e
	}
	return out
}

func (p *Policy) capsOf(name string) Bitset {
	if a := p.Agent(name); a != nil {
		return p.C(a)
	}
	return p.caps.New()
}

// HandoffModes returns the modes of the declared hand-offs from -> to (several may exist).
func (p *Policy) HandoffModes(from, to string) []string {
	return p.handoffs[Edge{from, to}]
}
