package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentctl/agentctl/policy"
)

// NamePattern is what the names of agents, tools, actions, approval rules, scenarios and
// tests match.
const NamePattern = `^[a-z][a-z0-9_-]{0,62}$`

var nameRE = regexp.MustCompile(NamePattern)

// ValidName reports whether name matches NamePattern.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// builder turns the raw policy into the model, collecting reference errors.
type builder struct {
	l    *loader
	p    *policy.Policy
	errs Errors
}

func (b *builder) errorf(path, format string, args ...any) {
	b.errs = append(b.errs, Error{Pos: b.l.errPos(path), Msg: path + ": " + fmt.Sprintf(format, args...)})
}

func (b *builder) duration(path, s string) time.Duration {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		b.errorf(path, "invalid duration %q", s) // the schema already rejects these
	case d <= 0:
		// The schema rejects a sign and all-zero digits; this is what rounds to zero ("0.5ns").
		b.errorf(path, "invalid duration %q %s", s, positiveDuration)
	}
	return d
}

// input converts a test input's numbers, decoded as json.Number, to float64 as the runtime
// decodes a request, and reports the ones no float64 holds.
func (b *builder) input(path string, v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			b.errorf(path, "number out of range (a number in a request must fit a 64-bit float, at most about 1.8e308 in magnitude)")
		}
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = b.input(path+"."+k, e)
		}
	case []any:
		for i, e := range v {
			v[i] = b.input(path+"["+strconv.Itoa(i)+"]", e)
		}
	}
	return v
}

// name checks the name of the element at path, which ends in it.
func (b *builder) name(path, kind, name string) {
	if !ValidName(name) {
		shown := path[:len(path)-len(name)] + showKey(name)
		b.errs = append(b.errs, Error{Pos: b.l.errPos(path),
			Msg: fmt.Sprintf("%s: invalid %s name %q (names match %s)", shown, kind, name, NamePattern)})
	}
}

// reason returns a flow_exempt reason, reporting an empty one: an opt-out says why.
func (b *builder) reason(path string, s *string) string {
	if s == nil {
		return ""
	}
	if strings.TrimSpace(*s) == "" {
		b.errorf(path, "empty reason (say why this egress may follow untrusted content and a sensitive read)")
		return ""
	}
	return *s
}

// role reports a role that no request can present: approvals name roles in canonical form.
func (b *builder) role(path, role string) {
	switch _, ok := policy.CanonicalName(role); {
	case strings.TrimSpace(role) == "":
		b.errorf(path, "empty role (name the human role that approves)")
	case !ok:
		b.errorf(path, "role %q is not printable ASCII without spaces: approvals compare roles in canonical form (PRECIS UsernameCaseMapped), so no approval could match it", role)
	}
}

func (l *loader) build(raw *rawPolicy) (*policy.Policy, Errors) {
	p, errs, _ := l.buildRefs(raw)
	return p, errs
}

// buildRefs is build, also returning where the reference errors start in errs.
func (l *loader) buildRefs(raw *rawPolicy) (*policy.Policy, Errors, int) {
	p := &policy.Policy{Dir: l.dir, Positions: l.positions, Ignores: l.ignores}
	b := &builder{l: l, p: p}
	s := raw.Settings
	p.Settings = policy.Settings{
		RiskTier:         s.RiskTier,
		MaxCredentialTTL: b.duration("settings.max_credential_ttl", s.MaxCredentialTTL),
		MaxChainDepth:    *s.MaxChainDepth,
		Audit:            policy.Audit{ToolCalls: *s.Audit.ToolCalls, Approvals: *s.Audit.Approvals, Chains: *s.Audit.Chains},
		Flow:             policy.FlowSettings{OnEgress: s.Flow.OnEgress, Role: *s.Flow.Role, Approvers: *s.Flow.Approvers},
	}
	b.role("settings.flow.role", p.Settings.Flow.Role)
	// Lists first: conditions refer to them.
	for _, name := range slices.Sorted(maps.Keys(raw.Lists)) {
		p.Lists = append(p.Lists, b.list(name, raw.Lists[name]))
	}
	p.Index() // List lookups for the conditions below; Index runs again once all is built
	if in := s.Flow.Integrity; in != nil {
		path := "settings.flow.integrity"
		p.Settings.Flow.Integrity = &policy.Integrity{Effects: in.Effects, On: in.On,
			Unless: b.conditions(path+".unless", in.Unless), Pos: l.nearestPos(path)}
		if in.Role != nil {
			p.Settings.Flow.Integrity.Role = *in.Role
			b.role(path+".role", *in.Role)
		}
		if in.Approvers != nil {
			p.Settings.Flow.Integrity.Approvers = *in.Approvers
		}
	}

	// Tools first: grants refer to them.
	for _, name := range slices.Sorted(maps.Keys(raw.Tools)) {
		rt, path := raw.Tools[name], "tools."+name
		b.name(path, "tool", name)
		t := &policy.Tool{Name: name, Description: rt.Description, Source: rt.Source, External: *rt.External,
			Auth: policy.Auth{Kind: rt.Auth.Kind}, Pos: l.positions[path]}
		if rt.Auth.TTL != nil {
			t.Auth.TTL, t.Auth.HasTTL = b.duration(path+".auth.ttl", *rt.Auth.TTL), true
		}
		for _, an := range slices.Sorted(maps.Keys(rt.Actions)) {
			ra, apath := rt.Actions[an], path+".actions."+an
			b.name(apath, "action", an)
			act := &policy.Action{Tool: name, Name: an, Effect: ra.Effect, Data: ra.Data,
				FlowExempt: b.reason(apath+".flow_exempt", ra.FlowExempt), Pin: l.pin(apath+".pin", ra.Pin), Pos: l.positions[apath],
				Untrusted: b.flowClass(apath+".untrusted", ra.Untrusted), Egress: b.flowClass(apath+".egress", ra.Egress)}
			if m := ra.Arguments; m != nil {
				act.Arguments = &policy.Arguments{Attributes: m.Attributes}
				if m.Resource != nil {
					act.Arguments.Resource = *m.Resource
				}
			}
			t.Actions = append(t.Actions, act)
		}
		p.Tools = append(p.Tools, t)
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Agents)) {
		ra, path := raw.Agents[name], "agents."+name
		b.name(path, "agent", name)
		a := &policy.Agent{Name: name, Description: ra.Description, Owner: ra.Owner,
			UntrustedInput: *ra.UntrustedInput, Autonomy: ra.Autonomy, FlowExempt: b.reason(path+".flow_exempt", ra.FlowExempt),
			Pos: l.positions[path]}
		if ra.Identity != nil {
			a.SpiffeID = *ra.Identity.SpiffeID
		}
		if c := ra.Credential; c != nil {
			cp := path + ".credential"
			a.Credential = &policy.Credential{Kind: c.Kind, Scope: c.Scope, RevokeOnTaskEnd: *c.RevokeOnTaskEnd, Pos: l.nearestPos(cp)}
			if c.TTL != nil {
				a.Credential.TTL, a.Credential.HasTTL = b.duration(cp+".ttl", *c.TTL), true
			}
		}
		if s := ra.Session; s != nil {
			sp := path + ".session"
			a.Session = &policy.Session{Pos: l.nearestPos(sp)}
			if s.MaxActions != nil {
				a.Session.MaxActions = *s.MaxActions
			}
			if s.MaxDuration != nil {
				a.Session.MaxDuration, a.Session.HasMaxDuration = b.duration(sp+".max_duration", *s.MaxDuration), true
			}
		}
		a.Grants = b.grants(path+".grants", ra.Grants)
		p.Agents = append(p.Agents, a)
	}
	for i, rh := range raw.Handoffs {
		path := fmt.Sprintf("handoffs[%d]", i)
		p.Handoffs = append(p.Handoffs, &policy.Handoff{From: *rh.From, To: *rh.To, Mode: rh.Mode, Index: i, Pos: l.positions[path]})
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Approvals)) {
		ra, path := raw.Approvals[name], "approvals."+name
		b.name(path, "approval", name)
		ap := &policy.Approval{Name: name, Description: ra.Description, Pos: l.positions[path],
			Match: policy.Match{Effects: ra.Match.Effects, Tools: ra.Match.Tools, Actions: ra.Match.Actions,
				Data: ra.Match.Data, Agents: ra.Match.Agents, When: b.conditions(path+".match.when", ra.Match.When)},
			Require: policy.Require{Approvers: *ra.Require.Approvers, Role: *ra.Require.Role}}
		if t := ra.Threshold; t != nil {
			ap.Threshold = &policy.Threshold{Attribute: *t.Attribute, Above: *t.Above}
		}
		if ra.Timeout != nil {
			ap.Timeout, ap.HasTimeout = b.duration(path+".timeout", *ra.Timeout), true
		}
		p.Approvals = append(p.Approvals, ap)
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Scenarios)) {
		rs, path := raw.Scenarios[name], "scenarios."+name
		b.name(path, "scenario", name)
		sc := &policy.Scenario{Name: name, Description: rs.Description, Start: *rs.Start,
			UntrustedInput: rs.UntrustedInput, Pos: l.positions[path]}
		if rs.Authority != nil {
			sc.Authority = b.grants(path+".authority", rs.Authority)
			if sc.Authority == nil {
				sc.Authority = []*policy.Grant{} // authority: [] is "no authority", not the default
			}
		}
		if w := rs.WhatIf; w != nil {
			sc.WhatIf = &policy.WhatIf{Compromised: w.Compromised, HandoffMode: w.HandoffMode, Revoke: w.Revoke}
			for _, e := range w.RemoveHandoffs {
				sc.WhatIf.RemoveHandoffs = append(sc.WhatIf.RemoveHandoffs, policy.Edge{From: *e.From, To: *e.To})
			}
		}
		if e := rs.Expect; e != nil {
			sc.Expect = &policy.Expect{Escalations: e.Escalations, Reachable: e.Reachable, Unreachable: e.Unreachable,
				NeedsApproval: e.NeedsApproval, Exfiltration: e.Exfiltration}
		}
		p.Scenarios = append(p.Scenarios, sc)
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Tests)) {
		rt, path := raw.Tests[name], "tests."+name
		b.name(path, "test", name)
		// applyDefaults made a missing input an empty object.
		input := b.input(path+".input", rt.Input).(map[string]any)
		t := &policy.Test{Name: name, Input: input, Pos: l.positions[path],
			Expect: policy.TestExpect{Outcome: rt.Expect.Outcome, Code: rt.Expect.Code}}
		if rt.Lists != nil {
			t.Lists = b.input(path+".lists", rt.Lists).(map[string]any)
		}
		p.Tests = append(p.Tests, t)
	}
	p.Index()
	refs := len(b.errs)
	b.checkRefs()
	if len(b.errs) > 0 {
		return nil, b.errs, refs
	}
	return p, nil, refs
}

func (b *builder) grants(path string, rgs []rawGrant) []*policy.Grant {
	var out []*policy.Grant
	for i, rg := range rgs {
		gp := fmt.Sprintf("%s[%d]", path, i)
		out = append(out, &policy.Grant{Tool: *rg.Tool, Actions: rg.Actions, Resources: rg.Resources,
			JIT: *rg.JIT, When: b.conditions(gp+".when", rg.When), Path: gp, Pos: b.l.positions[gp]})
	}
	return out
}

func (l *loader) pin(path string, rp *rawPin) *policy.Pin {
	if rp == nil {
		return nil
	}
	h := rp.Hints
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	version := 1
	if rp.Version != nil {
		version = *rp.Version
	}
	return &policy.Pin{Version: version, Tool: *rp.Tool, Description: rp.Description, InputSchema: rp.InputSchema,
		Title: str(rp.Title), OutputSchema: str(rp.OutputSchema), Meta: str(rp.Meta),
		Hints: policy.Hints{ReadOnly: *h.ReadOnly, Destructive: *h.Destructive, Idempotent: *h.Idempotent, OpenWorld: *h.OpenWorld},
		Pos:   l.positions[path]}
}

// list builds lists.<name>: exactly one of values and runtime, key only with runtime.
func (b *builder) list(name string, rl rawList) *policy.List {
	path := "lists." + name
	b.name(path, "list", name)
	l := &policy.List{Name: name, Runtime: rl.Runtime != nil, Pos: b.l.positions[path]}
	switch {
	case rl.Runtime != nil && rl.Values != nil:
		b.errorf(path, "a list is either fixed (values) or pushed at run time (runtime: true), not both")
	case rl.Runtime == nil && rl.Values == nil:
		b.errorf(path, "empty list declaration (give values: [...], or runtime: true for a list pushed to data.agentctl_lists.%s)", name)
	}
	for _, v := range rl.Values {
		l.Values = append(l.Values, scalar(v))
	}
	if rl.Key != nil {
		l.Key = *rl.Key
		field, attr, isAttr := strings.Cut(l.Key, ".")
		switch {
		case !l.Runtime:
			b.errorf(path+".key", "key scopes a runtime list: add runtime: true, or drop key")
		case isAttr && (field != "attributes" || attr == "" || strings.Contains(attr, ".")),
			!isAttr && !slices.Contains(policy.ListKeyFields, l.Key):
			b.errorf(path+".key", "invalid key %q (write %s or attributes.<name>: the request field whose value selects the list)",
				l.Key, strings.Join(policy.ListKeyFields, ", "))
		}
	}
	return l
}

// scalar converts a list value as decoded (string or json.Number) to a string or float64.
func scalar(v any) any {
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64() // the schema bounds the number
		return f
	}
	return v
}

// conditions builds a list of conditions at path, reporting a condition without exactly
// one operator, an empty attribute and an undefined list.
func (b *builder) conditions(path string, rcs []rawCondition) []*policy.Condition {
	var out []*policy.Condition
	for i, rc := range rcs {
		cp := fmt.Sprintf("%s[%d]", path, i)
		c := &policy.Condition{Attribute: *rc.Attribute, Path: cp, Pos: b.l.nearestPos(cp)}
		var ops []string
		op := func(name string, present bool) {
			if present {
				ops = append(ops, name)
				c.Op = name
			}
		}
		op(policy.OpIn, rc.In != nil)
		op(policy.OpNotIn, rc.NotIn != nil)
		op(policy.OpMatches, rc.Matches != nil)
		op(policy.OpNotMatches, rc.NotMatches != nil)
		op(policy.OpAbove, rc.Above != nil)
		op(policy.OpAtMost, rc.AtMost != nil)
		switch {
		case len(ops) == 0:
			b.errorf(cp, "condition on %q has no operator (write one of %s)", c.Attribute, strings.Join(policy.Operators, ", "))
		case len(ops) > 1:
			b.errorf(cp, "condition on %q has %d operators (%s): write one condition per test, all must hold", c.Attribute, len(ops), strings.Join(ops, ", "))
		}
		if strings.TrimSpace(c.Attribute) == "" {
			b.errorf(cp+".attribute", "empty attribute (name the request attribute to test)")
		}
		for _, vals := range []*rawValues{rc.In, rc.NotIn} {
			if vals == nil {
				continue
			}
			if vals.Name != nil {
				c.List = *vals.Name
				b.listRef(cp+"."+c.Op, c.List)
				continue
			}
			c.Values = []any{}
			for _, v := range vals.Values {
				c.Values = append(c.Values, scalar(v))
			}
		}
		switch {
		case rc.Matches != nil:
			c.Pattern = *rc.Matches
		case rc.NotMatches != nil:
			c.Pattern = *rc.NotMatches
		case rc.Above != nil:
			c.Number = *rc.Above
		case rc.AtMost != nil:
			c.Number = *rc.AtMost
		}
		out = append(out, c)
	}
	return out
}

func (b *builder) listRef(path, name string) {
	if b.p.List(name) != nil {
		return
	}
	names := make([]string, len(b.p.Lists))
	for i, l := range b.p.Lists {
		names[i] = l.Name
	}
	b.errorf(path, "undefined list %q%s", name, hint(name, names))
}

// flowClass builds an action's untrusted or egress class; nil when absent.
func (b *builder) flowClass(path string, rf *rawFlowClass) *policy.FlowClass {
	if rf == nil {
		return nil
	}
	f := &policy.FlowClass{Value: rf.Value, Path: path, Pos: b.l.nearestPos(path)}
	if rf.When != nil {
		f.When = b.conditions(path+".when", rf.When)
		if f.When == nil {
			f.When = []*policy.Condition{}
		}
	}
	return f
}
