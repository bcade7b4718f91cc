package simulate

import (
	"sort"

	"github.com/agentctl/agentctl/policy"
)

// Graph is the hand-off graph as plain data for renderers: agents as nodes, hand-offs as
// edges. For a scenario it shows the policy after the what-if and marks the witnesses.
type Graph struct {
	Scenario string // empty for the plain policy graph
	Agents   []GraphAgent
	Edges    []GraphEdge
}

// GraphAgent is a node.
type GraphAgent struct {
	Name        string
	Untrusted   bool     // reads outsider content
	Start       bool     // the scenario's start agent
	Compromised bool     // hijacked by the scenario's what-if
	Gained      []string // capabilities beyond the originator's authority it holds on some chain
	Egress      bool     // an exfiltration path ends here
}

// GraphEdge is a hand-off.
type GraphEdge struct {
	From, To, Mode string
	Escalation     bool // on an escalation witness chain
	Exfiltration   bool // on an exfiltration witness chain
	Removed        bool // removed by the scenario's what-if
}

// NewGraph builds the graph of p, or, when sc is not nil, of p under sc's what-if with sc's
// witnesses highlighted.
func NewGraph(p *policy.Policy, sc *policy.Scenario) (*Graph, error) {
	g := &Graph{}
	type key struct{ from, to, mode string }
	edges := map[key]*GraphEdge{}
	add := func(e GraphEdge) *GraphEdge {
		k := key{e.From, e.To, e.Mode}
		if edges[k] == nil {
			edges[k] = &e
		}
		return edges[k]
	}
	for _, a := range p.Agents {
		g.Agents = append(g.Agents, GraphAgent{Name: a.Name, Untrusted: a.UntrustedInput})
	}
	if sc == nil {
		for _, h := range p.Handoffs {
			add(GraphEdge{From: h.From, To: h.To, Mode: h.Mode})
		}
	} else {
		e, err := NewEstate(p)
		if err != nil {
			return nil, err
		}
		res, r, err := e.run(sc)
		if err != nil {
			return nil, err
		}
		n := r.n
		g.Scenario = sc.Name
		for a := range n.names {
			for _, x := range n.arcs(int32(a)) {
				add(GraphEdge{From: n.names[a], To: n.names[x.to], Mode: modeName(n.modeOf(x))})
			}
		}
		if sc.WhatIf != nil {
			for _, e := range sc.WhatIf.RemoveHandoffs {
				for _, m := range p.HandoffModes(e.From, e.To) {
					add(GraphEdge{From: e.From, To: e.To, Mode: m, Removed: true})
				}
			}
		}
		for _, e := range res.Escalations {
			for i := 1; i < len(e.Chain); i++ {
				add(GraphEdge{From: e.Chain[i-1], To: e.Chain[i], Mode: e.Modes[i-1]}).Escalation = true
			}
		}
		egress := map[string]bool{}
		for _, x := range res.Exfiltration {
			egress[x.Egress] = true
			for i := 1; i < len(x.Chain); i++ {
				add(GraphEdge{From: x.Chain[i-1], To: x.Chain[i], Mode: x.Modes[i-1]}).Exfiltration = true
			}
		}
		for i := range g.Agents {
			ga := &g.Agents[i]
			ga.Start = ga.Name == sc.Start
			ga.Compromised = n.compromised[i]
			ga.Egress = egress[ga.Name]
			if r.reached(int32(i)) {
				gained := r.agentReach(int32(i)).Clone()
				gained.AndNot(r.a0)
				ga.Gained = n.capNamesOf(gained)
			}
		}
	}
	for _, e := range edges {
		g.Edges = append(g.Edges, *e)
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Mode < b.Mode
	})
	return g, nil
}

// Witnesses returns the scenario view of a scenario graph, for estates too large to draw
// whole: the start agent, the hijacked agents, and the agents and hand-offs on escalation
// and exfiltration witness chains, plus removed hand-offs between the agents kept.
func (g *Graph) Witnesses() *Graph {
	keep := map[string]bool{}
	for _, e := range g.Edges {
		if e.Escalation || e.Exfiltration {
			keep[e.From], keep[e.To] = true, true
		}
	}
	w := &Graph{Scenario: g.Scenario}
	for _, a := range g.Agents {
		if a.Start || a.Compromised || keep[a.Name] {
			keep[a.Name] = true
			w.Agents = append(w.Agents, a)
		}
	}
	for _, e := range g.Edges {
		if e.Escalation || e.Exfiltration || (e.Removed && keep[e.From] && keep[e.To]) {
			w.Edges = append(w.Edges, e)
		}
	}
	return w
}
