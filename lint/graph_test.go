package lint

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/agentctl/agentctl/policy"
)

// randomGraph builds an indexed policy with n agents and random hand-offs (self-loops and
// cycles included).
func randomGraph(r *rand.Rand, n int) *policy.Policy {
	p := &policy.Policy{}
	for i := range n {
		p.Agents = append(p.Agents, &policy.Agent{Name: fmt.Sprintf("a%d", i)})
	}
	for range r.IntN(3 * n) {
		p.Handoffs = append(p.Handoffs, &policy.Handoff{
			From: fmt.Sprintf("a%d", r.IntN(n)), To: fmt.Sprintf("a%d", r.IntN(n)), Mode: policy.ModeAttenuate, Index: len(p.Handoffs),
		})
	}
	p.Index()
	return p
}

// bruteLongest is the longest simple path from v by exhaustive search, capped at limit.
func bruteLongest(g *handoffGraph, v, limit int, on []bool) int {
	best := 0
	on[v] = true
	for _, a := range g.out[v] {
		if !on[a.to] {
			best = max(best, 1+bruteLongest(g, a.to, limit, on))
		}
	}
	on[v] = false
	return min(best, limit)
}

// TestLongestPathsMatchesBruteForce checks the SCC-memoised search against exhaustive
// enumeration, and that every witness is a simple path over declared hand-offs.
func TestLongestPathsMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		n := 1 + r.IntN(8)
		p := randomGraph(r, n)
		g := newFacts(p).graph()
		limit := 1 + r.IntN(6)
		paths := g.longestPaths(limit)
		for v := range n {
			want := bruteLongest(g, v, limit, make([]bool, n))
			if len(paths[v]) != want {
				t.Fatalf("graph %d, node a%d, limit %d: path length %d, want %d", iter, v, limit, len(paths[v]), want)
			}
			seen := map[string]bool{g.names[v]: true}
			at := g.names[v]
			for _, e := range paths[v] {
				h := p.Handoffs[e]
				if h.From != at || seen[h.To] {
					t.Fatalf("graph %d: witness from a%d is not a simple path: %v", iter, v, paths[v])
				}
				seen[h.To], at = true, h.To
			}
		}
		// Cycles: a node is in a reported component iff it lies on some cycle.
		onCycle := map[int]bool{}
		for _, comp := range g.cyclic() {
			e, cycle := g.cycleWitness(comp)
			if cycle[0] != cycle[len(cycle)-1] || cycle[0] != p.Handoffs[e].From || cycle[1] != p.Handoffs[e].To {
				t.Fatalf("graph %d: bad cycle witness %v for hand-off %d", iter, cycle, e)
			}
			for i := 1; i < len(cycle); i++ {
				if len(p.HandoffModes(cycle[i-1], cycle[i])) == 0 {
					t.Fatalf("graph %d: cycle %v uses an undeclared hand-off", iter, cycle)
				}
			}
			for _, v := range comp {
				onCycle[v] = true
			}
		}
		for v := range n {
			if reach := reachesItself(g, v); reach != onCycle[v] {
				t.Fatalf("graph %d: a%d on a cycle = %v, reported %v", iter, v, reach, onCycle[v])
			}
		}
	}
}

func reachesItself(g *handoffGraph, v int) bool {
	seen := make([]bool, len(g.names))
	stack := []int{v}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range g.out[u] {
			if a.to == v {
				return true
			}
			if !seen[a.to] {
				seen[a.to] = true
				stack = append(stack, a.to)
			}
		}
	}
	return false
}
