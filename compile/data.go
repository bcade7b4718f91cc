package compile

import (
	"fmt"
	"slices"

	"github.com/agentctl/agentctl/policy"
)

// model is data.agentctl_model: the policy laid out for keyed lookups, so a decision never
// scans the agents. User strings only ever appear here, as data.
type model struct {
	MaxChainDepth int                                `json:"max_chain_depth"`
	Agents        map[string]agentData               `json:"agents"`
	Principals    map[string]bool                    `json:"principals"` // agents' canonical names and SPIFFE IDs: never approvers
	Capabilities  map[string]capabilityData          `json:"capabilities"`
	Handoffs      map[string]map[string]*handoffData `json:"handoffs"` // from -> to
	Flow          flowData                           `json:"flow"`
	Integrity     *integrityData                     `json:"integrity,omitempty"` // absent: the rule is off
}

// integrityData is settings.flow.integrity with its defaults, when the rule is on. The
// effects it guards are marked on the capabilities.
type integrityData struct {
	On        string          `json:"on"`
	Role      string          `json:"role"`
	RoleKey   string          `json:"role_key"`
	Approvers int             `json:"approvers"`
	Unless    []conditionData `json:"unless"`
}

// conditionData is a condition laid out for the library: its operator and operand, and its
// text as messages show it (policy.Condition.String). A static list's values are inlined;
// a runtime list is named, with the request path of its key when it has one.
type conditionData map[string]any

func buildConditions(p *policy.Policy, conds []*policy.Condition) []conditionData {
	out := make([]conditionData, 0, len(conds))
	for _, c := range conds {
		cd := conditionData{"attribute": c.Attribute, "op": c.Op, "text": c.String()}
		switch c.Op {
		case policy.OpIn, policy.OpNotIn:
			values := c.Values
			if l := p.List(c.List); l != nil && l.Runtime {
				cd["list"] = l.Name
				if kp := l.KeyPath(); kp != nil {
					cd["key"] = kp
				}
				break
			} else if l != nil {
				values = l.Values
			}
			if values == nil {
				values = []any{}
			}
			cd["values"] = values
		case policy.OpMatches, policy.OpNotMatches:
			cd["pattern"] = policy.ResourceRegexp(c.Pattern)
		default:
			cd["number"] = c.Number
		}
		out = append(out, cd)
	}
	return out
}

// flowData is settings.flow, with the role's canonical form.
type flowData struct {
	OnEgress  string `json:"on_egress"`
	Role      string `json:"role"`
	RoleKey   string `json:"role_key"`
	Approvers int    `json:"approvers"`
}

// handoffData is the declared hand-offs from one agent to another, merged: Held and Lacking
// are the step the library's closed-form fold takes for them (see carries in the library).
type handoffData struct {
	Modes   []string `json:"modes"`
	Held    string   `json:"held"`    // "set" or "keep": its effect when the receiver holds the capability
	Lacking string   `json:"lacking"` // "keep" or "clear": its effect when the receiver lacks it
	// Untrusted is whether the sender or the receiver has untrusted_input: the flow label
	// the hop's agents add (the library's fast path reads it instead of both agents).
	Untrusted bool `json:"untrusted"`
}

// agentData is an agent. Optional parts are omitted when unset, so a rule that needs one
// fails at its first lookup for the agents without it.
type agentData struct {
	Identity      *string              `json:"identity,omitempty"`
	Caps          map[string]scopeData `json:"caps"`               // by capability: what its grants naming a tool cover
	AnyTool       map[string]scopeData `json:"any_tool,omitempty"` // by action name or "*": its grants on every tool, unexpanded
	CredentialTTL bool                 `json:"credential_ttl,omitempty"`
	Session       *sessionData         `json:"session,omitempty"` // only when it sets a limit
	Untrusted     bool                 `json:"untrusted_input"`   // explicit: the fast path reads it
	FlowExempt    bool                 `json:"flow_exempt,omitempty"`
}

type sessionData struct {
	MaxActions    *int    `json:"max_actions,omitempty"`
	MaxDurationNS *int64  `json:"max_duration_ns,omitempty"`
	MaxDuration   *string `json:"max_duration,omitempty"`
}

// scopeData is where an agent holds a capability: every resource, or resources matching
// one of the patterns (anchored RE2, see policy.ResourceRegexp).
type scopeData struct {
	All      bool     `json:"all"`
	Patterns []string `json:"patterns"`
	// When holds the grants with conditions, one entry each: they cover a call only when
	// their conditions hold, so they are not merged into All and Patterns.
	When []conditionalGrant `json:"when,omitempty"`
}

type conditionalGrant struct {
	All        bool            `json:"all"`
	Patterns   []string        `json:"patterns"`
	Conditions []conditionData `json:"conditions"`
}

// capabilityData is a capability, with its flow classes (policy.ExternalRead, SensitiveRead,
// Egress); its opt-out is present only when true.
type capabilityData struct {
	Effect    string         `json:"effect"`
	Data      string         `json:"data"`
	Approvals []approvalData `json:"approvals,omitempty"` // the rules that may apply, omitted when none
	// ExternalRead is the untrusted class when it does not depend on the request; absent
	// when it does (UntrustedWhen), which sends every call to the full rules.
	ExternalRead  *bool           `json:"external_read,omitempty"`
	UntrustedWhen []conditionData `json:"untrusted_when,omitempty"`
	SensitiveRead bool            `json:"sensitive_read"`
	Egress        bool            `json:"egress"` // the egress class when it does not depend on the request
	EgressWhen    []conditionData `json:"egress_when,omitempty"`
	FlowExempt    bool            `json:"flow_exempt,omitempty"`
	Integrity     bool            `json:"integrity,omitempty"` // the integrity rule guards its effect
	// Sources is what the call adds to the flow sources when its classes do not depend on
	// the request; null when it adds nothing (the fast path's default).
	Sources *policy.FlowSources `json:"sources"`
	// Pass lists the [untrusted, sensitive] labels after the call for which the fast path
	// may allow it: all four, less those where the flow or the integrity rule may stop it.
	Pass [][2]bool `json:"pass"`
}

// approvalData is an approval rule matching the capability whatever the agent; Agents
// narrows it (absent: any agent). A rule whose agents list is empty selects no agent and
// is left out.
type approvalData struct {
	Rule      string          `json:"rule"`
	Role      string          `json:"role"`
	RoleKey   string          `json:"role_key"` // the role's canonical form, "" when it has none
	Approvers int             `json:"approvers"`
	Agents    map[string]bool `json:"agents,omitempty"`
	Threshold *thresholdData  `json:"threshold,omitempty"`
	When      []conditionData `json:"when,omitempty"`
}

type thresholdData struct {
	Attribute string  `json:"attribute"`
	Above     float64 `json:"above"`
}

// testCase is one entry of data.agentctl.cases, read by the generated Rego tests.
type testCase struct {
	Name   string         `json:"name"`
	Input  map[string]any `json:"input"`
	Lists  map[string]any `json:"lists,omitempty"`
	Expect map[string]any `json:"expect"`
}

func buildModel(p *policy.Policy) model {
	m := model{
		MaxChainDepth: p.MaxChainDepth(),
		Agents:        map[string]agentData{},
		Principals:    map[string]bool{},
		Capabilities:  map[string]capabilityData{},
		Handoffs:      map[string]map[string]*handoffData{},
	}
	f := p.Flow()
	m.Flow = flowData{OnEgress: f.OnEgress, Role: f.Role, RoleKey: canonical(f.Role), Approvers: f.Approvers}
	integrity := p.IntegrityRule()
	if integrity != nil {
		m.Integrity = &integrityData{On: integrity.On, Role: integrity.Role, RoleKey: canonical(integrity.Role),
			Approvers: integrity.Approvers, Unless: buildConditions(p, integrity.Unless)}
	}
	ix := p.Caps()
	for _, a := range p.Agents {
		ad := agentData{Caps: map[string]scopeData{}, Untrusted: a.UntrustedInput, FlowExempt: a.FlowExempt != ""}
		for _, n := range []string{a.Name, a.SpiffeID} {
			if c := canonical(n); c != "" {
				m.Principals[c] = true
			}
		}
		if a.SpiffeID != "" {
			id := a.SpiffeID
			ad.Identity = &id
		}
		ad.CredentialTTL = a.Credential != nil && a.Credential.HasTTL
		if s := a.Session; s != nil && (s.MaxActions > 0 || s.HasMaxDuration) {
			sd := &sessionData{}
			if s.MaxActions > 0 {
				n := s.MaxActions
				sd.MaxActions = &n
			}
			if s.HasMaxDuration {
				ns, text := int64(s.MaxDuration), s.MaxDuration.String()
				sd.MaxDurationNS, sd.MaxDuration = &ns, &text
			}
			ad.Session = sd
		}
		for _, g := range a.Grants {
			if g.Tool == policy.Wildcard {
				// Kept unexpanded, so the data grows with the policy's text, not with
				// wildcard grants times tools.
				for _, act := range g.Actions {
					ad.AnyTool = addScope(ad.AnyTool, act, g, p)
				}
				continue
			}
			t := p.Tool(g.Tool)
			if t == nil {
				continue
			}
			for _, act := range t.Actions {
				if g.Covers(act.Tool, act.Name) {
					ad.Caps = addScope(ad.Caps, act.Capability(), g, p)
				}
			}
		}
		m.Agents[a.Name] = ad
	}
	for id := 0; id < ix.Len(); id++ {
		act := ix.Action(id)
		cd := capabilityData{Effect: act.Effect, Data: act.Data, SensitiveRead: policy.SensitiveRead(act),
			FlowExempt: act.FlowExempt != ""}
		untrusted := p.ExternalRead(act)
		if u := act.Untrusted; u != nil && u.Value && len(u.When) > 0 {
			cd.UntrustedWhen = buildConditions(p, u.When)
		} else {
			cd.ExternalRead = &untrusted
		}
		if e := act.Egress; e != nil && e.Value && len(e.When) > 0 {
			cd.EgressWhen = buildConditions(p, e.When)
		} else {
			cd.Egress = p.Egress(act)
		}
		if cd.ExternalRead != nil && *cd.ExternalRead || cd.SensitiveRead {
			cd.Sources = &policy.FlowSources{Untrusted: []string{}, Sensitive: []string{}}
			if cd.ExternalRead != nil && *cd.ExternalRead {
				cd.Sources.Untrusted = []string{act.Capability()}
			}
			if cd.SensitiveRead {
				cd.Sources.Sensitive = []string{act.Capability()}
			}
		}
		cd.Integrity = integrity != nil && slices.Contains(integrity.Effects, act.Effect)
		cd.Pass = [][2]bool{{false, false}, {false, true}}
		if !cd.Integrity {
			cd.Pass = append(cd.Pass, [2]bool{true, false})
			if !p.Egress(act) {
				cd.Pass = append(cd.Pass, [2]bool{true, true})
			}
		}
		for _, r := range p.Approvals {
			if !r.Match.SelectsAction(act) {
				continue
			}
			ad := approvalData{Rule: r.Name, Role: r.Require.Role, RoleKey: canonical(r.Require.Role), Approvers: r.Require.Approvers}
			if t := r.Threshold; t != nil {
				ad.Threshold = &thresholdData{t.Attribute, t.Above}
			}
			if len(r.Match.When) > 0 {
				ad.When = buildConditions(p, r.Match.When)
			}
			if r.Match.Agents != nil {
				if len(r.Match.Agents) == 0 {
					continue // an empty agents list selects no agent
				}
				ad.Agents = map[string]bool{}
				for _, n := range r.Match.Agents {
					ad.Agents[n] = true
				}
			}
			cd.Approvals = append(cd.Approvals, ad)
		}
		m.Capabilities[ix.Name(id)] = cd
	}
	for _, h := range p.Handoffs {
		to := m.Handoffs[h.From]
		if to == nil {
			to = map[string]*handoffData{}
			m.Handoffs[h.From] = to
		}
		hd := to[h.To]
		if hd == nil {
			hd = &handoffData{Modes: []string{}, Held: "keep", Lacking: "clear",
				Untrusted: p.Agent(h.From).UntrustedInput || p.Agent(h.To).UntrustedInput}
			to[h.To] = hd
		}
		if !slices.Contains(hd.Modes, h.Mode) {
			hd.Modes = append(hd.Modes, h.Mode)
			slices.Sort(hd.Modes)
		}
		// What the hand-off does to a capability, by whether the receiver holds it:
		// attenuate keeps it only if held, delegate sets it only if held, forwarding keeps
		// it and sets it if held. Parallel hand-offs are alternatives, so the most generous
		// effect wins.
		if h.Mode == policy.ModeDelegate || h.Mode == policy.ModeForwardCredentials {
			hd.Held = "set"
		}
		if h.Mode == policy.ModeForwardCredentials {
			hd.Lacking = "keep"
		}
	}
	return m
}

// canonical is the canonical form of an approver or role name, "" when it has none (no
// request can present such a name: the library rejects it as malformed).
func canonical(name string) string {
	c, _ := policy.CanonicalName(name)
	return c
}

// addScope merges grant g into scopes[key]: every resource, or its patterns; a grant with
// conditions is added as an entry of its own.
func addScope(scopes map[string]scopeData, key string, g *policy.Grant, p *policy.Policy) map[string]scopeData {
	if scopes == nil {
		scopes = map[string]scopeData{}
	}
	s, ok := scopes[key]
	if !ok {
		s.Patterns = []string{}
	}
	if len(g.When) > 0 {
		s.When = append(s.When, conditionalGrant{All: g.AllResources(), Patterns: patterns(g, nil), Conditions: buildConditions(p, g.When)})
	} else {
		s.All = s.All || g.AllResources()
		s.Patterns = patterns(g, s.Patterns)
	}
	scopes[key] = s
	return scopes
}

// patterns adds g's resource patterns to the sorted set into.
func patterns(g *policy.Grant, into []string) []string {
	if into == nil {
		into = []string{}
	}
	for _, r := range g.Resources {
		re := policy.ResourceRegexp(r)
		if i, found := slices.BinarySearch(into, re); !found {
			into = slices.Insert(into, i, re)
		}
	}
	return into
}

func buildCases(p *policy.Policy) []testCase {
	out := make([]testCase, 0, len(p.Tests))
	for _, t := range p.Tests {
		expect := map[string]any{"outcome": t.Expect.Outcome}
		if t.Expect.Code != "" {
			expect["code"] = t.Expect.Code
		}
		out = append(out, testCase{Name: t.Name, Input: t.Input, Lists: t.Lists, Expect: expect})
	}
	return out
}

// dataDocument is data.json: {"agentctl": {"cases": ...}, "agentctl_model": ...}, decoded
// into plain JSON values so OPA stores it as it would after reading the file.
func dataDocument(p *policy.Policy) (map[string]any, error) {
	// The library's fast path takes a declared hand-off as proof that its agents are declared,
	// as the loader ensures.
	for _, h := range p.Handoffs {
		if p.Agent(h.From) == nil || p.Agent(h.To) == nil {
			return nil, fmt.Errorf("%s: hand-off %s -> %s names an undefined agent", h.Path(), h.From, h.To)
		}
	}
	doc := map[string]any{Root: map[string]any{"cases": buildCases(p)}, ModelRoot: buildModel(p)}
	out, err := roundTrip(doc)
	if err != nil {
		return nil, fmt.Errorf("encode data.json: %w", err)
	}
	return out.(map[string]any), nil
}
