package policy

import "slices"

// Explanation says why Decide decided as it did: the chain's effective authority hop by hop,
// the grant that allowed the call (on an allow only), the approval rules still unmet, and on
// a deny the rules that denied.
type Explanation struct {
	Decision Decision
	// Chain is the request's chain ([agent] when absent), empty when it is malformed.
	Chain []string
	// Hops has one entry per chain agent when the chain and capability are declared.
	Hops []Hop
	// AllowedBy is the grant the capability (and resource) came from, on an allow only.
	AllowedBy *Grant
	// Approvals are the unmet rules that make the outcome needs_approval.
	Approvals []*Approval
	// FlowApproval is the flow rule's unmet approval, when it is one of the reasons for
	// needs_approval.
	FlowApproval *FlowApproval
	// IntegrityApproval is the integrity rule's unmet approval (settings.flow.integrity),
	// when it is one of the reasons for needs_approval.
	IntegrityApproval *FlowApproval
	// DeniedBy names, on a deny, what made each reason code, in the order of the reasons.
	DeniedBy []Cause
	// Conditions are the policy's conditions the decision tested, with what each said.
	Conditions []ConditionResult
}

// ConditionResult is one condition the decision tested on the request: a grant's (Use
// "grant"), an approval rule's ("approval"), an action's flow class ("untrusted",
// "egress") or the integrity rule's exception ("integrity unless").
type ConditionResult struct {
	Use       string
	Condition *Condition
	// Result is "holds", "fails" or "untested" (the attribute is absent or of a type the
	// operator does not test: a grant does not cover, an approval and a flow class apply,
	// the integrity exception does not hold).
	Result string
}

// Cause is what made a deny reason: an element of the policy ("agents.billing.identity",
// "settings.max_chain_depth", with its position when it is written) or of the revocations
// ("data.agentctl_revocations.agents.billing"). For a reason that something is missing
// (NOT_GRANTED, UNDECLARED_HANDOFF) it is where the missing element would be declared.
type Cause struct {
	Code string `json:"code"`
	Path string `json:"path"`
	Pos  Pos    `json:"-"`
	// Labels, for FLOW_BLOCKED, say what set the session's flow labels (flowLabels).
	Labels []string `json:"labels,omitempty"`
}

// FlowApproval is the approval the flow rule requires (settings.flow, written at Pos when
// the policy sets it) and the labels that triggered the rule.
type FlowApproval struct {
	RequiredApproval
	Path   string
	Pos    Pos
	Labels []string
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
	x.Conditions = d.conditionResults(r)
	for _, pr := range d.pending {
		switch pr.Rule {
		case FlowRule:
			x.FlowApproval = &FlowApproval{RequiredApproval: pr, Path: "settings.flow", Pos: p.Pos("settings.flow"), Labels: d.flowLabels(r)}
		case IntegrityRule:
			x.IntegrityApproval = &FlowApproval{RequiredApproval: pr, Path: "settings.flow.integrity", Pos: p.Settings.Flow.Integrity.Pos, Labels: d.flowLabels(r)}
		}
		for _, a := range p.Approvals {
			if a.Name == pr.Rule {
				x.Approvals = append(x.Approvals, a)
			}
		}
	}
	if x.Decision.Outcome == OutcomeDeny {
		x.DeniedBy = d.causes(r)
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
	if last := x.Hops[len(x.Hops)-1]; last.HoldsResource && x.Decision.Allow {
		x.AllowedBy = x.Hops[decisive].Grant
	}
	return x
}

// causes returns the cause of each deny reason of the decision.
func (d *decider) causes(r *request) []Cause {
	p := d.p
	var out []Cause
	add := func(code, path string, fallback Pos) *Cause {
		c := Cause{Code: code, Path: path, Pos: p.Pos(path)}
		if !c.Pos.IsValid() {
			c.Pos = fallback
		}
		i := slices.IndexFunc(out, func(o Cause) bool { return o.Code == code && o.Path == path })
		if i < 0 {
			i = len(out)
			out = append(out, c)
		}
		return &out[i]
	}
	agent := p.Agent(r.agent)
	agentPath, agentPos := "agents", Pos{}
	if agent != nil {
		agentPath, agentPos = agent.Path(), agent.Pos
	}
	for _, reason := range d.reasons {
		switch reason.Code {
		case CodeUnknownAgent:
			add(reason.Code, "agents", Pos{})
		case CodeIdentityMismatch:
			add(reason.Code, agentPath+".identity.spiffe_id", agentPos)
		case CodeUnknownCapability:
			tool, _, _ := SplitCapability(r.capability)
			if t := p.Tool(tool); t != nil {
				add(reason.Code, t.Path()+".actions", t.Pos)
			} else {
				add(reason.Code, "tools", Pos{})
			}
		case CodeUndeclaredHandoff:
			add(reason.Code, "handoffs", Pos{})
		case CodeChainTooDeep:
			add(reason.Code, "settings.max_chain_depth", Pos{})
		case CodeNotGranted:
			add(reason.Code, agentPath+".grants", agentPos)
		case CodeResourceNotGranted:
			if agent == nil {
				break
			}
			if g := agent.GrantFor(p, r.capability, nil, true); g != nil {
				add(reason.Code, g.Path+".resources", g.Pos)
			} else {
				add(reason.Code, agentPath+".grants", agentPos)
			}
		case CodeCredentialExpired:
			add(reason.Code, agentPath+".credential.ttl", agentPos)
		case CodeSessionLimit:
			add(reason.Code, agentPath+".session", agentPos)
		case CodeRevoked:
			for _, n := range r.names() {
				if revoked(d.env.Revocations, revocationAgents, n) {
					add(reason.Code, "data.agentctl_revocations."+revocationAgents+"."+n, Pos{})
				}
			}
			if t, ok := r.in["task"].(string); ok && revoked(d.env.Revocations, revocationTasks, t) {
				add(reason.Code, "data.agentctl_revocations."+revocationTasks+"."+t, Pos{})
			}
		case CodeConditionNotMet:
			for _, c := range d.conditionResults(r) {
				if c.Use == "grant" && c.Result != "holds" {
					add(reason.Code, c.Condition.Path, c.Condition.Pos)
				}
			}
		case CodeFlowBlocked:
			add(reason.Code, "settings.flow.on_egress", p.Pos("settings.flow")).Labels = d.flowLabels(r)
		case CodeIntegrityBlocked:
			add(reason.Code, "settings.flow.integrity", p.Settings.Flow.Integrity.Pos).Labels = d.flowLabels(r)
		}
	}
	return out
}

// flowLabels says what set the session's flow labels when the flow rule stops an egress
// call: the request's session.flow labels and the agents with untrusted_input. (The call is
// not a read, so it sets neither label itself.)
func (d *decider) flowLabels(r *request) []string {
	var out []string
	if flowLabel(r.in, "untrusted") {
		out = append(out, "untrusted: input.session.flow.untrusted")
	}
	for _, n := range r.names() {
		if a := d.p.Agent(n); a != nil && a.UntrustedInput {
			if l := "untrusted: " + a.Path() + ".untrusted_input"; !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	if flowLabel(r.in, "sensitive") {
		out = append(out, "sensitive: input.session.flow.sensitive")
	}
	return out
}

// conditionResults evaluates the conditions that bear on the request: those of the chain
// agents' grants covering the capability on the resource, of the approval rules selecting
// it, of the action's flow classes, and of the integrity rule's exception when the rule
// guards the action's effect.
func (d *decider) conditionResults(r *request) []ConditionResult {
	p := d.p
	id, ok := p.Caps().ID(r.capability)
	if !r.hasCapability || !ok {
		return nil
	}
	act := p.Caps().Action(id)
	ce := d.conditions(r)
	var out []ConditionResult
	add := func(use string, conds []*Condition) {
		for _, c := range conds {
			res := map[truth]string{condHolds: "holds", condFails: "fails", condUnknown: "untested"}[ce.eval(c)]
			out = append(out, ConditionResult{Use: use, Condition: c, Result: res})
		}
	}
	resource := r.resource()
	seen := map[*Grant]bool{}
	for _, n := range r.chain {
		a := p.Agent(n)
		if a == nil {
			continue
		}
		for _, g := range a.Grants {
			if !seen[g] && g.Covers(act.Tool, act.Name) && (g.AllResources() || resource != nil && matchAny(g.Resources, *resource)) {
				seen[g] = true
				add("grant", g.When)
			}
		}
	}
	if r.hasAgent {
		for _, rule := range p.MatchingApprovals(r.agent, act) {
			add("approval", rule.Match.When)
		}
	}
	if act.Untrusted != nil {
		add("untrusted", act.Untrusted.When)
	}
	if act.Egress != nil {
		add("egress", act.Egress.When)
	}
	if rule := p.IntegrityRule(); rule != nil && slices.Contains(rule.Effects, act.Effect) {
		add("integrity unless", rule.Unless)
	}
	return out
}
