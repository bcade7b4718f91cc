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
	for i, h := range f.p.Handoffs {
		from, ok1 := f.agent[h.From]
		to, ok2 := f.agent[h.To]
		if ok1 && ok2 {
			g.out[from] = append(g.out[from], arc{to, i})
			g.ends[i] = [2]int{from, to}
		} else {
			g.ends[i] = [2]int{-1, -1}
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
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				g.comp[w] = len(g.sccs)
				comp = append(comp, w)
				if w == v {
					break
				}
			}
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
	parent := map[int]int{to: -1}
	queue := []int{to}
	for len(queue) > 0 && from != to {
		v := queue[0]
		queue = queue[1:]
		if v == from {
			break
		}
		for _, a := range g.out[v] {
			if _, seen := parent[a.to]; !seen && g.comp[a.to] == c {
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
	best := make([][]int, len(g.names))
	extend := func(prefix []int, e int, rest []int) []int {
		p := make([]int, 0, len(prefix)+1+len(rest)) // one allocation: paths are made often
		p = append(append(append(p, prefix...), e), rest...)
		return p[:min(len(p), limit)]
	}
	onPath := make([]bool, len(g.names))
	for c, comp := range g.sccs {
		cyclic := !g.trivial(c)
		for _, v := range comp {
			var b []int
			var walk func(u int, prefix []int)
			walk = func(u int, prefix []int) {
				for _, a := range g.out[u] {
					if len(b) >= limit {
						return
					}
					switch {
					case g.comp[a.to] != c:
						if len(prefix)+1+len(best[a.to]) > len(b) {
							b = extend(prefix, a.edge, best[a.to])
						}
					case cyclic && !onPath[a.to]:
						if len(prefix)+1 > len(b) {
							b = extend(prefix, a.edge, nil)
						}
						if len(prefix)+1 < limit {
							onPath[a.to] = true
							walk(a.to, append(prefix, a.edge))
							onPath[a.to] = false
						}
					}
				}
			}
			onPath[v] = true
			walk(v, nil)
			onPath[v] = false
			if b == nil {
				b = []int{}
			}
			best[v] = b
		}
	}
	return best
}
