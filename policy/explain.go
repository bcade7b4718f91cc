package policy

// Explanation says why Decide decided as it did: the chain's effective authority hop by hop,
// the grant that allowed the call, and the approval rules still unmet.
type Explanation struct {
	Decision Decision
	// Chain is the request's chain ([agent] when absent), empty when it is malformed.
	Chain []string
	// Hops has one entry per chain agent when the chain and capability are declared.
	Hops []Hop
	// AllowedBy is the grant the capability (and resource) came from, when it is carried.
	AllowedBy *Grant
	// Approvals are the unmet rules that make the outcome needs_approval.
	Approvals []*Approval
}

// Hop is one agent of the chain.
type Hop struct {
	Agent string
	// Modes of the declared hand-offs into this agent; empty for the originator.
	Modes []string
	// Authority is the effective authority after this hop (capabilities, sorted).
	Authority []string
	// Holds and HoldsResource say whether the requested capability (and resource) is in
	// the effective authority after this hop.
	Holds, HoldsResource bool
	// Grant is the agent's own grant covering the capability and resource, if any.
	Grant *Grant
}

// Explain decides input and explains the decision.
func (p *Policy) Explain(input any, env Env) Explanation {
	d := decider{p: p, env: env}
	r := d.run(input)
	x := Explanation{Decision: d.decision(), Chain: r.chain}
	if x.Decision.Outcome != OutcomeNeedsApproval {
		d.pending = nil
	}
	for _, pr := range d.pending {
		for _, a := range p.Approvals {
			if a.Name == pr.Rule {
				x.Approvals = append(x.Approvals, a)
			}
		}
	}
	if !d.walkable(r) {
		return x
	}
	resource := r.resource()
	capID, _ := p.Caps().ID(r.capability)
	var e Bitset
	decisive := 0
	for i, name := range r.chain {
		a := p.Agent(name)
		ca := p.C(a) // C recomputes on every call: build it once per hop, not once per mode
		h := Hop{Agent: name, Grant: a.GrantFor(p, r.capability, resource, false)}
		if i == 0 {
			e = ca
		} else {
			h.Modes = p.HandoffModes(r.chain[i-1], name)
			next := p.Caps().New()
			for _, m := range h.Modes {
				next.Or(Step(e, m, ca, false))
				if h.Grant != nil && m != ModeAttenuate {
					decisive = i
				}
			}
			e = next
		}
		h.Authority = p.Caps().Names(e)
		h.Holds = e.Has(capID)
		h.HoldsResource = p.Carried(r.chain[:i+1], func(a *Agent) bool { return a.GrantFor(p, r.capability, resource, false) != nil })
		x.Hops = append(x.Hops, h)
	}
	if last := x.Hops[len(x.Hops)-1]; last.HoldsResource {
		x.AllowedBy = x.Hops[decisive].Grant
	}
	return x
}
