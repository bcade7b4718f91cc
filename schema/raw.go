package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"time"
)

// raw* mirror the JSON of a policy. Fields the schema defaults are pointers so that absence
// is visible; applyDefaults fills them exactly as the schema would.
type rawPolicy struct {
	Settings struct {
		RiskTier         string `json:"risk_tier"`
		MaxCredentialTTL string `json:"max_credential_ttl"`
		MaxChainDepth    *int   `json:"max_chain_depth"`
		Audit            struct {
			ToolCalls *bool `json:"tool_calls"`
			Approvals *bool `json:"approvals"`
			Chains    *bool `json:"chains"`
		} `json:"audit"`
		Flow struct {
			OnEgress  string        `json:"on_egress"`
			Role      *string       `json:"role"`
			Approvers *int          `json:"approvers"`
			Integrity *rawIntegrity `json:"integrity"`
		} `json:"flow"`
	} `json:"settings"`
	Agents    map[string]rawAgent    `json:"agents"`
	Tools     map[string]rawTool     `json:"tools"`
	Handoffs  []rawHandoff           `json:"handoffs"`
	Approvals map[string]rawApproval `json:"approvals"`
	Scenarios map[string]rawScenario `json:"scenarios"`
	Tests     map[string]rawTest     `json:"tests"`
	Lists     map[string]rawList     `json:"lists"`
}

type rawIntegrity struct {
	Effects   []string       `json:"effects"`
	Unless    []rawCondition `json:"unless"`
	On        string         `json:"on"`
	Role      *string        `json:"role"`
	Approvers *int           `json:"approvers"`
}

type rawList struct {
	Values  []any   `json:"values"` // strings and json.Numbers
	Runtime *bool   `json:"runtime"`
	Key     *string `json:"key"`
}

type rawCondition struct {
	Attribute  *string    `json:"attribute"`
	In         *rawValues `json:"in"`
	NotIn      *rawValues `json:"not_in"`
	Matches    *string    `json:"matches"`
	NotMatches *string    `json:"not_matches"`
	Above      *float64   `json:"above"`
	AtMost     *float64   `json:"at_most"`
}

// rawValues is the operand of in/not_in: a list name or literal values.
type rawValues struct {
	Name   *string
	Values []any // strings and json.Numbers
}

func (v *rawValues) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		v.Values = []any{}
		return strictJSON(data, &v.Values)
	}
	var name string
	if err := json.Unmarshal(data, &name); err != nil {
		return err
	}
	v.Name = &name
	return nil
}

// rawFlowClass is an action's untrusted or egress: a boolean, or {when: [...]}.
type rawFlowClass struct {
	Value bool
	When  []rawCondition // non-nil for the {when} form
}

func (f *rawFlowClass) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &f.Value); err == nil {
		return nil
	}
	var obj struct {
		When []rawCondition `json:"when"`
	}
	if err := strictJSON(data, &obj); err != nil {
		return err
	}
	f.Value, f.When = true, obj.When
	if f.When == nil {
		f.When = []rawCondition{}
	}
	return nil
}

// strictJSON decodes as decodeStrict does: unknown fields refused, numbers kept exact.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}

// valuesValid accepts what [...(string | #Number)] accepts.
func valuesValid(vs []any) bool {
	for _, v := range vs {
		switch v := v.(type) {
		case string:
		case json.Number:
			f, err := v.Float64()
			if err != nil || !number(f) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func conditionsValid(cs []rawCondition) bool {
	for _, c := range cs {
		if c.Attribute == nil || c.In != nil && !valuesValid(c.In.Values) || c.NotIn != nil && !valuesValid(c.NotIn.Values) ||
			c.Above != nil && !number(*c.Above) || c.AtMost != nil && !number(*c.AtMost) {
			return false
		}
	}
	return true
}

func (f *rawFlowClass) valid() bool { return f == nil || conditionsValid(f.When) }

type rawAgent struct {
	Description string `json:"description"`
	Owner       string `json:"owner"`
	Identity    *struct {
		SpiffeID *string `json:"spiffe_id"`
	} `json:"identity"`
	UntrustedInput *bool      `json:"untrusted_input"`
	Autonomy       string     `json:"autonomy"`
	FlowExempt     *string    `json:"flow_exempt"`
	Grants         []rawGrant `json:"grants"`
	Credential     *struct {
		Kind            string  `json:"kind"`
		Scope           string  `json:"scope"`
		TTL             *string `json:"ttl"`
		RevokeOnTaskEnd *bool   `json:"revoke_on_task_end"`
	} `json:"credential"`
	Session *struct {
		MaxActions  *int    `json:"max_actions"`
		MaxDuration *string `json:"max_duration"`
	} `json:"session"`
}

type rawGrant struct {
	Tool      *string        `json:"tool"`
	Actions   []string       `json:"actions"`
	Resources []string       `json:"resources"`
	JIT       *bool          `json:"jit"`
	When      []rawCondition `json:"when"`
}

type rawTool struct {
	Description string `json:"description"`
	Source      string `json:"source"`
	External    *bool  `json:"external"`
	Auth        *struct {
		Kind string  `json:"kind"`
		TTL  *string `json:"ttl"`
	} `json:"auth"`
	Actions map[string]rawAction `json:"actions"`
}

type rawAction struct {
	Effect     string        `json:"effect"`
	Data       string        `json:"data"`
	FlowExempt *string       `json:"flow_exempt"`
	Untrusted  *rawFlowClass `json:"untrusted"`
	Egress     *rawFlowClass `json:"egress"`
	Pin        *rawPin       `json:"pin"`
	Arguments  *struct {
		Resource   *string           `json:"resource"`
		Attributes map[string]string `json:"attributes"`
	} `json:"arguments"`
}

type rawPin struct {
	Version      *int    `json:"version"`
	Tool         *string `json:"tool"`
	Description  string  `json:"description"`
	InputSchema  string  `json:"input_schema"`
	Title        *string `json:"title"`
	OutputSchema *string `json:"output_schema"`
	Meta         *string `json:"meta"`
	Hints        *struct {
		ReadOnly    *bool `json:"read_only"`
		Destructive *bool `json:"destructive"`
		Idempotent  *bool `json:"idempotent"`
		OpenWorld   *bool `json:"open_world"`
	} `json:"hints"`
}

var pinHashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func (p *rawPin) valid() bool {
	if p == nil {
		return true
	}
	for _, o := range []*string{p.Title, p.OutputSchema, p.Meta} {
		if o != nil && !pinHashRE.MatchString(*o) {
			return false
		}
	}
	if p.Version != nil && *p.Version != 1 && *p.Version != 2 {
		return false
	}
	h := p.Hints
	return p.Tool != nil && pinHashRE.MatchString(p.Description) && pinHashRE.MatchString(p.InputSchema) &&
		h != nil && h.ReadOnly != nil && h.Destructive != nil && h.Idempotent != nil && h.OpenWorld != nil
}

type rawHandoff struct {
	From *string `json:"from"`
	To   *string `json:"to"`
	Mode string  `json:"mode"`
}

type rawApproval struct {
	Description string `json:"description"`
	Match       struct {
		Effects []string       `json:"effects"`
		Tools   []string       `json:"tools"`
		Actions []string       `json:"actions"`
		Data    []string       `json:"data"`
		Agents  []string       `json:"agents"`
		When    []rawCondition `json:"when"`
	} `json:"match"`
	Threshold *struct {
		Attribute *string  `json:"attribute"`
		Above     *float64 `json:"above"`
	} `json:"threshold"`
	Require *struct {
		Approvers *int    `json:"approvers"`
		Role      *string `json:"role"`
	} `json:"require"`
	Timeout *string `json:"timeout"`
}

type rawScenario struct {
	Description    string     `json:"description"`
	Start          *string    `json:"start"`
	UntrustedInput *bool      `json:"untrusted_input"`
	Authority      []rawGrant `json:"authority"`
	WhatIf         *struct {
		Compromised    []string `json:"compromised"`
		RemoveHandoffs []struct {
			From *string `json:"from"`
			To   *string `json:"to"`
		} `json:"remove_handoffs"`
		HandoffMode string   `json:"handoff_mode"`
		Revoke      []string `json:"revoke"`
	} `json:"what_if"`
	Expect *struct {
		Escalations   *int     `json:"escalations"`
		Reachable     []string `json:"reachable"`
		Unreachable   []string `json:"unreachable"`
		NeedsApproval []string `json:"needs_approval"`
		Exfiltration  *bool    `json:"exfiltration"`
	} `json:"expect"`
}

type rawTest struct {
	Input  map[string]any `json:"input"`
	Lists  map[string]any `json:"lists"`
	Expect *struct {
		Outcome string `json:"outcome"`
		Code    string `json:"code"`
	} `json:"expect"`
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func orDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func boolDefault(b **bool, def bool) {
	if *b == nil {
		*b = &def
	}
}

func intDefault(i **int, def int) {
	if *i == nil {
		*i = &def
	}
}

// applyDefaults fills absent fields with the schema's defaults.
func (r *rawPolicy) applyDefaults() {
	// The schema's containers exist even when empty; so do ours, so both paths decode alike.
	r.Agents, r.Tools, r.Approvals = nonNil(r.Agents), nonNil(r.Tools), nonNil(r.Approvals)
	r.Scenarios, r.Tests, r.Lists = nonNil(r.Scenarios), nonNil(r.Tests), nonNil(r.Lists)
	if r.Handoffs == nil {
		r.Handoffs = []rawHandoff{}
	}
	for name, t := range r.Tests {
		t.Input = nonNil(t.Input)
		r.Tests[name] = t
	}
	s := &r.Settings
	orDefault(&s.RiskTier, "high")
	orDefault(&s.MaxCredentialTTL, "1h")
	intDefault(&s.MaxChainDepth, 3)
	boolDefault(&s.Audit.ToolCalls, true)
	boolDefault(&s.Audit.Approvals, true)
	boolDefault(&s.Audit.Chains, true)
	orDefault(&s.Flow.OnEgress, "needs_approval")
	if s.Flow.Role == nil {
		role := "security-reviewer"
		s.Flow.Role = &role
	}
	intDefault(&s.Flow.Approvers, 1)
	if in := s.Flow.Integrity; in != nil {
		orDefault(&in.On, "needs_approval")
	}
	for name, a := range r.Agents {
		boolDefault(&a.UntrustedInput, false)
		orDefault(&a.Autonomy, "supervised")
		if a.Grants == nil {
			a.Grants = []rawGrant{}
		}
		grantDefaults(a.Grants)
		if c := a.Credential; c != nil {
			orDefault(&c.Kind, "ephemeral")
			orDefault(&c.Scope, "task")
			boolDefault(&c.RevokeOnTaskEnd, true)
		}
		r.Agents[name] = a
	}
	for name, t := range r.Tools {
		orDefault(&t.Source, "internal")
		boolDefault(&t.External, false)
		t.Actions = nonNil(t.Actions)
		for an, a := range t.Actions {
			orDefault(&a.Data, "internal")
			t.Actions[an] = a
		}
		r.Tools[name] = t
	}
	for name, a := range r.Approvals {
		if a.Require != nil {
			intDefault(&a.Require.Approvers, 1)
		}
		r.Approvals[name] = a
	}
	for _, s := range r.Scenarios {
		grantDefaults(s.Authority)
	}
}

func grantDefaults(gs []rawGrant) {
	for i := range gs {
		boolDefault(&gs[i].JIT, false)
	}
}

// spiffeIDPattern is #SpiffeID's pattern in schema.cue.
const spiffeIDPattern = `^spiffe://[a-z0-9._-]{1,255}(/([a-zA-Z0-9._-]*[a-zA-Z0-9_-][a-zA-Z0-9._-]*|\.\.\.+))+$`

var spiffeRE = regexp.MustCompile(spiffeIDPattern)

func oneOf(s string, allowed ...string) bool { return slices.Contains(allowed, s) }

// optOneOf accepts an absent ("") value or one of allowed. A written "" never gets here:
// plainJSON sends it to the schema, which rejects it where an enum is expected.
func optOneOf(s string, allowed ...string) bool { return s == "" || oneOf(s, allowed...) }

func allOneOf(ss []string, allowed ...string) bool {
	for _, s := range ss {
		if !oneOf(s, allowed...) {
			return false
		}
	}
	return true
}

// durationRE is #Duration's pattern in schema.cue: no negative sign, some non-zero digit.
var durationRE = regexp.MustCompile(`^[^-]*[1-9]`)

// duration accepts an absent value or one #Duration accepts.
func duration(s *string) bool {
	if s == nil {
		return true
	}
	_, err := time.ParseDuration(*s)
	return err == nil && durationRE.MatchString(*s)
}

// maxCount is #Count's upper bound in schema.cue.
const maxCount = 1<<31 - 1

// count accepts an absent value or one #Count accepts that is at least min.
func count(n *int, min int) bool { return n == nil || min <= *n && *n <= maxCount }

// maxNumber is #Number's bound in schema.cue.
const maxNumber = 1e300

// number accepts a value #Number accepts. A float64 below the bound is the rounding of a
// decimal below it; one equal to it may round a larger decimal, which the schema decides.
func number(f float64) bool { return math.Abs(f) < maxNumber }

var (
	effects = []string{"read", "write", "delete", "export", "privilege_escalation", "payment", "deploy", "execute"}
	classes = []string{"public", "internal", "confidential", "regulated"}
	modes   = []string{"attenuate", "delegate", "forward_credentials"}
)

// valid reports whether the schema accepts r, for the rules JSON decoding does not already
// enforce (field names and types). It mirrors schema.cue rule by rule.
func (r *rawPolicy) valid() bool {
	s := r.Settings
	if !optOneOf(s.RiskTier, "high", "low") || (s.MaxCredentialTTL != "" && !duration(&s.MaxCredentialTTL)) ||
		(s.MaxChainDepth != nil && (*s.MaxChainDepth < 1 || *s.MaxChainDepth > 16)) ||
		!optOneOf(s.Flow.OnEgress, "needs_approval", "deny") || !count(s.Flow.Approvers, 1) {
		return false
	}
	if in := s.Flow.Integrity; in != nil && (!allOneOf(in.Effects, effects...) || !conditionsValid(in.Unless) ||
		!optOneOf(in.On, "needs_approval", "deny", "off") || !count(in.Approvers, 1)) {
		return false
	}
	for _, l := range r.Lists {
		if !valuesValid(l.Values) || l.Runtime != nil && !*l.Runtime {
			return false
		}
	}
	for _, a := range r.Agents {
		if a.Identity != nil && (a.Identity.SpiffeID == nil || !spiffeRE.MatchString(*a.Identity.SpiffeID)) ||
			!optOneOf(a.Autonomy, "supervised", "autonomous") || !grantsValid(a.Grants) {
			return false
		}
		if c := a.Credential; c != nil && (!optOneOf(c.Kind, "ephemeral", "static", "shared") ||
			!optOneOf(c.Scope, "task", "session", "agent") || !duration(c.TTL)) {
			return false
		}
		if ss := a.Session; ss != nil && (!count(ss.MaxActions, 1) || !duration(ss.MaxDuration)) {
			return false
		}
	}
	for _, t := range r.Tools {
		if !optOneOf(t.Source, "internal", "mcp", "third_party") || t.Auth == nil ||
			!oneOf(t.Auth.Kind, "workload_identity", "ephemeral_token", "shared_token", "static_key") || !duration(t.Auth.TTL) {
			return false
		}
		for _, a := range t.Actions {
			if !oneOf(a.Effect, effects...) || !optOneOf(a.Data, classes...) || !a.argumentsValid() || !a.Pin.valid() ||
				!a.Untrusted.valid() || !a.Egress.valid() {
				return false
			}
		}
	}
	for _, h := range r.Handoffs {
		if h.From == nil || h.To == nil || !oneOf(h.Mode, modes...) {
			return false
		}
	}
	for _, a := range r.Approvals {
		m := a.Match
		if !allOneOf(m.Effects, effects...) || !allOneOf(m.Data, classes...) || !duration(a.Timeout) ||
			a.Threshold != nil && (a.Threshold.Attribute == nil || a.Threshold.Above == nil || !number(*a.Threshold.Above)) ||
			a.Require == nil || a.Require.Role == nil || !count(a.Require.Approvers, 1) || !conditionsValid(m.When) {
			return false
		}
	}
	for _, s := range r.Scenarios {
		if s.Start == nil || !grantsValid(s.Authority) {
			return false
		}
		if w := s.WhatIf; w != nil {
			if !optOneOf(w.HandoffMode, modes...) {
				return false
			}
			for _, e := range w.RemoveHandoffs {
				if e.From == nil || e.To == nil {
					return false
				}
			}
		}
		if e := s.Expect; e != nil && !count(e.Escalations, 0) {
			return false
		}
	}
	for _, t := range r.Tests {
		if t.Input == nil || t.Expect == nil || !oneOf(t.Expect.Outcome, "allow", "deny", "needs_approval") {
			return false
		}
	}
	return true
}

var argumentPathRE = regexp.MustCompile(`^[^.]+(\.[^.]+)*$`)

func (a rawAction) argumentsValid() bool {
	m := a.Arguments
	if m == nil {
		return true
	}
	if m.Resource != nil && !argumentPathRE.MatchString(*m.Resource) {
		return false
	}
	for _, p := range m.Attributes {
		if !argumentPathRE.MatchString(p) {
			return false
		}
	}
	return true
}

func grantsValid(gs []rawGrant) bool {
	for _, g := range gs {
		if g.Tool == nil || len(g.Actions) == 0 || !conditionsValid(g.When) {
			return false
		}
	}
	return true
}

// plainJSON rejects JSON the struct decoder would read more leniently than the schema:
// null anywhere (decoded as absent), an empty string value (a string field reads "" as
// absent and takes the default, where the schema rejects "" in an enum) and object keys with
// upper-case letters (encoding/json matches field names case-insensitively). False alarms
// only cost the schema path.
func plainJSON(data []byte) bool {
	for _, null := range []string{":null", "[null", ",null", `:""`} {
		if bytes.Contains(data, []byte(null)) {
			return false
		}
	}
	for i := 1; i+1 < len(data); i++ {
		if data[i] != '"' || data[i+1] != ':' {
			continue
		}
		for j := i - 1; j >= 0 && data[j] != '"'; j-- {
			if 'A' <= data[j] && data[j] <= 'Z' {
				return false
			}
		}
	}
	return true
}
