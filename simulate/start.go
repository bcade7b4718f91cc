package simulate

import (
	"fmt"
	"slices"
	"strings"
)

// Reach is the fixpoint of a task entering at one agent with that agent's own authority and
// input trust (an ad-hoc scenario without what-if): what `agentctl diff` compares for every
// start a change can affect. Unlike Run it builds no witness, exfiltration path or approval
// list until asked, so comparing thousands of starts stays cheap.
type Reach struct {
	r *reach
}

// ReachFrom computes the reach of a task entering at start.
func (e *Estate) ReachFrom(start string) (*Reach, error) {
	n, err := e.apply(nil)
	if err != nil {
		return nil, err
	}
	id, ok := e.id[start]
	if !ok {
		return nil, fmt.Errorf("start agent %q is not defined", start)
	}
	return &Reach{n.run(id, n.capsOf(id).Clone(), e.p.Agent(start).UntrustedInput)}, nil
}

// Capabilities lists the reachable capabilities, sorted.
func (x *Reach) Capabilities() []string { return x.r.n.capNamesOf(x.r.all) }

// Own reports whether the start's own authority holds capability c.
func (x *Reach) Own(c string) bool {
	id, ok := x.r.n.ix.ID(c)
	return ok && x.r.a0.Has(id)
}

// Witness returns a shortest chain that reaches capability c, if any does.
func (x *Reach) Witness(c string) (Escalation, bool) {
	id, ok := x.r.n.ix.ID(c)
	if !ok || !x.r.all.Has(id) {
		return Escalation{}, false
	}
	return x.r.escalation(id), true
}

// Egress lists, sorted, the agents at which some chain from the start is an exfiltration path.
func (x *Reach) Egress() []string {
	r := x.r
	var out []string
	for a := int32(0); a < int32(len(r.n.names)); a++ {
		if s := a*4 + 3; r.rowOf[s] >= 0 && firstCommon(r.row(s), r.n.egress) >= 0 {
			out = append(out, r.n.names[a])
		}
	}
	slices.Sort(out)
	return out
}

// Exfiltration returns the exfiltration paths that end at the egress agents named (all when
// nil), as Run reports them.
func (x *Reach) Exfiltration(egress []string) []Exfiltration { return x.r.exfilPaths(egress) }

// exfilPaths turns the exfiltration witnesses ending at the egress agents named (all when
// nil) into results, sorted by egress agent: there is one witness per agent.
func (r *reach) exfilPaths(egress []string) []Exfiltration {
	n, p := r.n, r.n.p
	var out []Exfiltration
	for _, w := range r.exfiltration() {
		at := n.names[w.agents[len(w.agents)-1]]
		if egress != nil && !slices.Contains(egress, at) {
			continue
		}
		chain, act := n.agentNames(w.agents), n.ix.Action(w.egress)
		out = append(out, Exfiltration{Chain: chain, Modes: modeStrings(w.modes),
			SensitiveRead: n.names[w.sensitive], Egress: at, Capability: n.capName(w.egress),
			Runtime:    p.FlowVerdict(p.Agent(at), act),
			Conditions: append(egressConditions(act), grantConditions(p, chain, n.capName(w.egress))...)})
	}
	slices.SortFunc(out, func(a, b Exfiltration) int { return strings.Compare(a.Egress, b.Egress) })
	return out
}
