package simulate

import (
	"math/bits"

	"github.com/agentctl/agentctl/policy"
)

// A state is an agent with the two exfiltration flags of the walks that end there:
// agent*4 + untrusted*2 + sensitive. The engine keeps, per state, the union of the effective
// authority of every walk from the start that ends in it. Every hand-off mode distributes over
// union, so the union is a least fixpoint computed layer by layer (layer k = walks of at most
// k hand-offs); each layer only re-propagates the states that changed in the previous one.
type reach struct {
	n      *net
	start  int32
	a0     policy.Bitset // the originator's authority, revocations removed
	e0     policy.Bitset // authority at the start: a0, plus C(start) if it is compromised
	u0, s0 bool
	all    policy.Bitset // Reach: the union over every state, so the capabilities with a witness
	rowOf  []int32       // per state: its row, -1 until reached
	// Per row, that is per reached state, in the order they were reached:
	rows   []uint64 // n.words words: the union of effective authority
	parent []int32  // the state before it on a shortest walk, -1 at the start
	pmode  []uint8  // the mode of that last hand-off
	stamp  []int32  // the last layer that queued it
	state  []int32  // the state itself
	nRows  int32

	wit    []capWitness            // per capability in all: where it first entered Reach
	agentR map[int32]policy.Bitset // per reached agent: union over its states (filled lazily)
	chains map[capWitness]chain
	search walkSearch
}

// capWitness records the hand-off through which a capability first entered Reach: a shortest
// walk to pred, then into agent to. pred is -1 when the capability is held at the start.
type capWitness struct {
	pred int32
	to   int32
	mode uint8
}

func flagBits(u, s bool) int32 {
	var b int32
	if u {
		b |= 2
	}
	if s {
		b |= 1
	}
	return b
}

// run computes the fixpoint for a task entering at start with authority a0 (already without
// revoked capabilities); untrusted says whether the task carries outsider content.
func (n *net) run(start int32, a0 policy.Bitset, untrusted bool) *reach {
	w := n.words
	ns := len(n.names) * 4
	r := &reach{
		n:     n,
		start: start,
		a0:    a0,
		rowOf: make([]int32, ns),
		wit:   make([]capWitness, n.ix.Len()),
		all:   n.ix.New(),
	}
	for i := range r.rowOf {
		r.rowOf[i] = -1
	}
	e0 := a0.Clone()
	if n.compromised[start] {
		e0.Or(n.capsOf(start))
	}
	r.e0 = e0
	r.u0 = untrusted || n.compromised[start] || intersects(e0, n.extRead)
	r.s0 = intersects(e0, n.sens)
	s0 := start*4 + flagBits(r.u0, r.s0)
	r.addRow(s0, -1, 0)
	copy(r.row(s0), e0)
	r.all.Or(e0)
	e0.Each(func(id int) { r.wit[id] = capWitness{pred: -1, to: start} })

	frontier := []int32{s0}
	var snap []uint64
	tmp := n.ix.New()
	for k := int32(1); k <= int32(n.depth) && len(frontier) > 0; k++ {
		// Propagate from a snapshot, so updates made in this layer do not leak into it and
		// a walk never grows by two hand-offs in one layer.
		snap = snap[:0]
		for _, s := range frontier {
			snap = append(snap, r.row(s)...)
		}
		var next []int32
		for i, s := range frontier {
			e := policy.Bitset(snap[i*w : (i+1)*w])
			a, u, sf := s/4, s&2 != 0, s&1 != 0
			for _, x := range n.arcs(a) {
				m := n.modeOf(x)
				n.step(tmp, e, m, x.to)
				u2, s2 := n.nextFlags(u, sf, m, x.to)
				t := x.to*4 + flagBits(u2, s2)
				fresh := r.rowOf[t] < 0
				if fresh {
					r.addRow(t, s, m)
				}
				if changed := r.row(t).OrChanged(tmp); (fresh || changed) && r.stamp[r.rowOf[t]] != k {
					r.stamp[r.rowOf[t]] = k
					next = append(next, t)
				}
				// A capability new to Reach here came from C(x.to) (anything from e was
				// already reached), so any walk to s followed by this hand-off carries it.
				for j := range tmp {
					if nw := tmp[j] &^ r.all[j]; nw != 0 {
						r.all[j] |= nw
						policy.Bitset{nw}.Each(func(b int) {
							r.wit[j*64+b] = capWitness{pred: s, to: x.to, mode: m}
						})
					}
				}
			}
		}
		frontier = next
	}
	return r
}

// row returns the authority union of a reached state. Rows live in one growing slice, so a
// row must not be held across addRow.
func (r *reach) row(s int32) policy.Bitset {
	w, i := r.n.words, int(r.rowOf[s])
	return policy.Bitset(r.rows[i*w : (i+1)*w : (i+1)*w])
}

// addRow records state s, first reached from state parent by mode.
func (r *reach) addRow(s, parent int32, mode uint8) {
	r.rowOf[s] = r.nRows
	r.nRows++
	r.rows = append(r.rows, make([]uint64, r.n.words)...)
	r.parent = append(r.parent, parent)
	r.pmode = append(r.pmode, mode)
	r.stamp = append(r.stamp, 0)
	r.state = append(r.state, s)
}

// walkTo returns a shortest walk from the start to state s: its agents and hand-off modes.
func (r *reach) walkTo(s int32) ([]int32, []uint8) {
	var agents []int32
	var modes []uint8
	for s >= 0 {
		i := r.rowOf[s]
		agents = append(agents, s/4)
		if r.parent[i] >= 0 {
			modes = append(modes, r.pmode[i])
		}
		s = r.parent[i]
	}
	reverseInts(agents)
	reverseInts(modes)
	return agents, modes
}

// capChain returns a shortest witness walk for capability id, which must be in Reach.
func (r *reach) capChain(id int) ([]int32, []uint8) {
	w := r.wit[id]
	if w.pred < 0 {
		return []int32{r.start}, nil
	}
	agents, modes := r.walkTo(w.pred)
	return append(agents, w.to), append(modes, w.mode)
}

// reached reports whether some walk reaches agent a.
func (r *reach) reached(a int32) bool {
	for f := int32(0); f < 4; f++ {
		if r.rowOf[a*4+f] >= 0 {
			return true
		}
	}
	return false
}

// escalation returns capability id with a shortest witness chain. Capabilities that entered
// Reach through the same hand-off share one chain (callers must not modify it).
func (r *reach) escalation(id int) Escalation {
	w := r.wit[id]
	ch, ok := r.chains[w]
	if !ok {
		agents, modes := r.capChain(id)
		ch = chain{r.n.agentNames(agents), modeStrings(modes)}
		if r.chains == nil {
			r.chains = map[capWitness]chain{}
		}
		r.chains[w] = ch
	}
	name := r.n.capName(id)
	return Escalation{Capability: name, Chain: ch.agents, Modes: ch.modes, Conditions: grantConditions(r.n.p, ch.agents, name)}
}

type chain struct{ agents, modes []string }

// agentReach returns the union of the effective authority agent a holds on any walk.
func (r *reach) agentReach(a int32) policy.Bitset {
	if u, ok := r.agentR[a]; ok {
		return u
	}
	if r.agentR == nil {
		r.agentR = map[int32]policy.Bitset{}
	}
	u := r.n.ix.New()
	for f := int32(0); f < 4; f++ {
		if r.rowOf[a*4+f] >= 0 {
			u.Or(r.row(a*4 + f))
		}
	}
	r.agentR[a] = u
	return u
}

// exfilWalk is one exfiltration witness.
type exfilWalk struct {
	agents    []int32
	modes     []uint8
	sensitive int32 // the first agent on the walk holding a sensitive read
	egress    int   // the egress capability the last agent holds
}

// exfiltration returns, per agent where exfiltration is possible (untrusted context, an
// earlier or local sensitive read, and an egress capability), one shortest witness walk for
// the lowest egress capability it holds there.
func (r *reach) exfiltration() []exfilWalk {
	n := r.n
	byCap := map[int][]int32{}
	var capsInUse []int
	for a := int32(0); a < int32(len(n.names)); a++ {
		s := a*4 + 3
		if r.rowOf[s] < 0 {
			continue
		}
		first := firstCommon(r.row(s), n.egress)
		if first < 0 {
			continue
		}
		if byCap[first] == nil {
			capsInUse = append(capsInUse, first)
		}
		byCap[first] = append(byCap[first], a)
	}
	var out []exfilWalk
	for _, c := range capsInUse {
		walk := r.bitWalks(c)
		for _, a := range byCap[c] {
			agents, modes := walk(a)
			out = append(out, exfilWalk{agents: agents, modes: modes, sensitive: r.firstSensitive(agents, modes), egress: c})
		}
	}
	return out
}

// firstCommon returns the lowest element of both a and b, or -1.
func firstCommon(a, b policy.Bitset) int {
	for i := range a {
		if w := a[i] & b[i]; w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}

// walkSearch is the scratch space of bitWalks, shared by the searches of one scenario.
// A search state (agent, untrusted, sensitive, held) is indexed by the fixpoint row of
// (agent, untrusted, sensitive), which the fixpoint has reached if the search does: 2*row+held.
type walkSearch struct {
	parent  []int32 // per search state: the search state before, -1 at the start, -2 unseen
	pmode   []uint8
	touched []int32
}

// bitWalks runs a breadth-first search over (agent, untrusted, sensitive, c held), where how
// c evolves along a hand-off depends only on c itself, and returns a function giving a
// shortest walk that ends at an agent with both flags set and c held. It runs only for
// exfiltration witnesses; the function is valid until the next call.
func (r *reach) bitWalks(c int) func(target int32) ([]int32, []uint8) {
	n := r.n
	ws := &r.search
	if ws.parent == nil {
		ws.parent = make([]int32, 2*r.nRows)
		ws.pmode = make([]uint8, 2*r.nRows)
		for i := range ws.parent {
			ws.parent[i] = -2
		}
	}
	for _, x := range ws.touched {
		ws.parent[x] = -2
	}
	ws.touched = ws.touched[:0]
	enc := func(a int32, u, s, held bool) int32 {
		x := 2 * r.rowOf[a*4+flagBits(u, s)]
		if held {
			x++
		}
		return x
	}
	// dec recovers the agent and flags of a search state from its row.
	dec := func(x int32) (int32, bool, bool, bool) {
		st := r.state[x/2]
		return st / 4, st&2 != 0, st&1 != 0, x&1 != 0
	}
	init := enc(r.start, r.u0, r.s0, r.e0.Has(c))
	ws.parent[init] = -1
	ws.touched = append(ws.touched, init)
	frontier := []int32{init}
	for k := 0; k < n.depth && len(frontier) > 0; k++ {
		var next []int32
		for _, x := range frontier {
			a, u, s, held := dec(x)
			for _, h := range n.arcs(a) {
				m := n.modeOf(h)
				cb := n.capsOf(h.to).Has(c)
				var held2 bool
				switch {
				case n.compromised[h.to] || m == modeForward:
					held2 = held || cb
				case m == modeAttenuate:
					held2 = held && cb
				default:
					held2 = cb
				}
				u2, s2 := n.nextFlags(u, s, m, h.to)
				y := enc(h.to, u2, s2, held2)
				if ws.parent[y] == -2 {
					ws.parent[y], ws.pmode[y] = x, m
					ws.touched = append(ws.touched, y)
					next = append(next, y)
				}
			}
		}
		frontier = next
	}
	return func(target int32) ([]int32, []uint8) {
		var agents []int32
		var modes []uint8
		x := enc(target, true, true, true)
		if ws.parent[x] == -2 {
			return nil, nil // not reached: callers only ask for states the fixpoint reached
		}
		for ; x >= 0; x = ws.parent[x] {
			a, _, _, _ := dec(x)
			agents = append(agents, a)
			if ws.parent[x] >= 0 {
				modes = append(modes, ws.pmode[x])
			}
		}
		reverseInts(agents)
		reverseInts(modes)
		return agents, modes
	}
}

// firstSensitive replays a walk and returns the first agent whose effective authority holds
// a sensitive read.
func (r *reach) firstSensitive(agents []int32, modes []uint8) int32 {
	n := r.n
	e := r.e0.Clone()
	for i, a := range agents {
		if i > 0 {
			next := n.ix.New()
			n.step(next, e, modes[i-1], a)
			e = next
		}
		if intersects(e, n.sens) {
			return a
		}
	}
	return -1
}

func reverseInts[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
