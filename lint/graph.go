package lint

import "slices"

// handoffGraph is the hand-off graph over agents (nodes are indexes of p.Agents), with its
// strongly connected components.
type handoffGraph struct {
	names []string
	out   [][]arc
	ends  [][2]int // per hand-off: sender and receiver node, -1 when undeclared
	sccs  [][]int  // Tarjan's order: every component after the components it reaches
	comp  []int    // node -> index in sccs
}

type arc struct{ to, edge int } // edge indexes p.Handoffs

func (f *facts) graph() *handoffGraph {
	if f.hg != nil {
		return f.hg
	}
	n := len(f.p.Agents)
	g := &handoffGraph{names: make([]string, n), out: make([][]arc, n)}
	for i, a := range f.p.Agents {
		g.names[i] = a.Name
	}
	g.ends = make([][2]int, len(f.p.Handoffs))
	degree := make([]int, n)
	for i, h := range f.p.Handoffs {
		from, ok1 := f.agent[h.From]
		to, ok2 := f.agent[h.To]
		if ok1 && ok2 {
			g.ends[i] = [2]int{from, to}
			degree[from]++
		} else {
			g.ends[i] = [2]int{-1, -1}
		}
	}
	// Every node's arcs are a window of one array: one allocation instead of one per node.
	arcs := make([]arc, 0, len(f.p.Handoffs))
	for v, d := range degree {
		g.out[v] = arcs[len(arcs) : len(arcs) : len(arcs)+d]
		arcs = arcs[:len(arcs)+d]
	}
	for i, e := range g.ends {
		if e[0] >= 0 {
			g.out[e[0]] = append(g.out[e[0]], arc{e[1], i})
		}
	}
	g.tarjan()
	f.hg = g
	return g
}

// tarjan computes the strongly connected components in O(V+E).
func (g *handoffGraph) tarjan() {
	n := len(g.names)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	g.comp = make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	members := make([]int, 0, n) // the components, one after the other
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, a := range g.out[v] {
			switch {
			case index[a.to] < 0:
				visit(a.to)
				low[v] = min(low[v], low[a.to])
			case onStack[a.to]:
				low[v] = min(low[v], index[a.to])
			}
		}
		if low[v] == index[v] {
			start := len(members)
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				g.comp[w] = len(g.sccs)
				members = append(members, w)
				if w == v {
					break
				}
			}
			comp := members[start:len(members):len(members)]
			slices.Sort(comp)
			g.sccs = append(g.sccs, comp)
		}
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
}

// trivial reports whether component c holds no cycle: one node without a self-loop.
func (g *handoffGraph) trivial(c int) bool {
	comp := g.sccs[c]
	if len(comp) > 1 {
		return false
	}
	for _, a := range g.out[comp[0]] {
		if a.to == comp[0] {
			return false
		}
	}
	return true
}

// cyclic returns the components that contain a cycle.
func (g *handoffGraph) cyclic() [][]int {
	var out [][]int
	for c, comp := range g.sccs {
		if !g.trivial(c) {
			out = append(out, comp)
		}
	}
	return out
}

// sortedNames returns the names of the agents vs, sorted.
func (g *handoffGraph) sortedNames(vs []int) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = g.names[v]
	}
	slices.Sort(out)
	return out
}

// cycleWitness returns the first hand-off (in source order) inside comp and a cycle through
// it, as agent names from the hand-off's sender back to it.
func (g *handoffGraph) cycleWitness(comp []int) (edge int, cycle []string) {
	c := g.comp[comp[0]]
	edge, from, to := -1, 0, 0
	for _, v := range comp {
		for _, a := range g.out[v] {
			if g.comp[a.to] == c && (edge < 0 || a.edge < edge) {
				edge, from, to = a.edge, v, a.to
			}
		}
	}
	// Breadth-first from the receiver back to the sender, inside the component.
	const unseen = -2
	parent := make([]int, len(g.names))
	for i := range parent {
		parent[i] = unseen
	}
	parent[to] = -1
	queue := []int{to}
	for len(queue) > 0 && from != to {
		v := queue[0]
		queue = queue[1:]
		if v == from {
			break
		}
		for _, a := range g.out[v] {
			if parent[a.to] == unseen && g.comp[a.to] == c {
				parent[a.to] = v
				queue = append(queue, a.to)
			}
		}
	}
	var back []string
	for v := from; v != -1 && from != to; v = parent[v] {
		back = append(back, g.names[v])
	}
	slices.Reverse(back)
	cycle = append([]string{g.names[from]}, back...)
	if from == to {
		cycle = append(cycle, g.names[to])
	}
	return edge, cycle
}

// longestPaths returns, per node, the hand-offs of a longest simple path starting there,
// cut at limit hand-offs. Components are processed sinks first, so a path leaving a
// component continues with the memoised best path of the node it enters (it can never come
// back). Inside a cyclic component a depth-first search bounded by limit enumerates simple
// paths: polynomial for the bounded depth, and linear when the graph is acyclic.
func (g *handoffGraph) longestPaths(limit int) [][]int {
	limit = max(limit, 0)
	best := make([][]int, len(g.names))
	onPath := make([]bool, len(g.names))
	prefix := make([]int, 0, limit) // the path being walked; it never outgrows limit
	var b []int                     // the best path from the current node so far
	var store []int                 // backs the paths in best, a block at a time
	var c int
	var cyclic bool
	// set makes b the path prefix, e, rest, cut at limit.
	set := func(prefix []int, e int, rest []int) {
		b = append(append(b[:0], prefix...), e)
		b = append(b, rest[:min(len(rest), limit-len(b))]...)
	}
	var walk func(u int, prefix []int)
	walk = func(u int, prefix []int) {
		for _, a := range g.out[u] {
			if len(b) >= limit {
				return
			}
			switch {
			case g.comp[a.to] != c:
				if len(prefix)+1+len(best[a.to]) > len(b) {
					set(prefix, a.edge, best[a.to])
				}
			case cyclic && !onPath[a.to]:
				if len(prefix)+1 > len(b) {
					set(prefix, a.edge, nil)
				}
				if len(prefix)+1 < limit {
					onPath[a.to] = true
					walk(a.to, append(prefix, a.edge))
					onPath[a.to] = false
				}
			}
		}
	}
	for c = range g.sccs {
		cyclic = !g.trivial(c)
		for _, v := range g.sccs[c] {
			b = b[:0]
			onPath[v] = true
			walk(v, prefix)
			onPath[v] = false
			if cap(store)-len(store) < len(b) {
				store = make([]int, 0, max(4096, limit))
			}
			start := len(store)
			store = append(store, b...)
			best[v] = store[start:len(store):len(store)]
		}
	}
	return best
}
