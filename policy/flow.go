package policy

import "golang.org/x/text/secure/precis"

// The information-flow classes of a capability. They are the one definition the simulator
// (exfiltration paths), the linter (AC034) and the runtime flow rule (FLOW_BLOCKED) share.

// SensitiveRead reports whether a reads confidential or regulated data.
func SensitiveRead(a *Action) bool {
	return a.Effect == EffectRead && (a.Data == DataConfidential || a.Data == DataRegulated)
}

// ExternalRead reports whether a may bring content outsiders control into a task (its
// untrusted class): by default a read from an external tool; an action's `untrusted`
// overrides that, and a conditional class counts as possible.
func (p *Policy) ExternalRead(a *Action) bool {
	if a.Untrusted != nil {
		return a.Untrusted.Possible()
	}
	untrusted, _ := p.DefaultClasses(a)
	return untrusted
}

// DefaultClasses are the flow classes of an action that declares none: on an external
// tool, a read is untrusted and any other effect is egress; on an internal tool, neither.
func (p *Policy) DefaultClasses(a *Action) (untrusted, egress bool) {
	t := p.Tool(a.Tool)
	if t == nil || !t.External {
		return false, false
	}
	return a.Effect == EffectRead, a.Effect != EffectRead
}

// Egress reports whether a may send data out of the estate (its egress class): by default a
// non-read action on an external tool; an action's `egress` overrides that, and a
// conditional class counts as possible. An action may be both untrusted and egress.
func (p *Policy) Egress(a *Action) bool {
	if a.Egress != nil {
		return a.Egress.Possible()
	}
	_, egress := p.DefaultClasses(a)
	return egress
}

// classApplies is whether a flow class (nil: dflt) applies to the call.
func classApplies(f *FlowClass, dflt bool, e conditionEnv) bool {
	if f == nil {
		return dflt
	}
	return f.Value && e.noneFails(f.When)
}

// Flow is the pair of labels an enforcement point keeps for a task: whether the task has
// taken in content outsiders control, and whether it has read sensitive data.
type Flow struct {
	Untrusted bool `json:"untrusted"`
	Sensitive bool `json:"sensitive"`
	// Sources says which capabilities set each label; present when one of its lists is
	// not empty. The enforcement point sends it back in session.flow with the labels.
	Sources *FlowSources `json:"sources,omitempty"`
}

// FlowSources are the capabilities ("tool.action") that set each flow label in a task:
// sorted, deduplicated, at most MaxSources each (the first ones in sort order).
type FlowSources struct {
	Untrusted []string `json:"untrusted"`
	Sensitive []string `json:"sensitive"`
}

// MaxSources bounds each list of FlowSources, so the labels an enforcement point keeps per
// task stay small however long the task runs.
const MaxSources = 8

// What the runtime flow rule does to egress in a session holding both labels.
const (
	FlowDeny          = "deny"           // deny with FLOW_BLOCKED
	FlowNeedsApproval = "needs_approval" // require settings.flow's approvers (FLOW_BLOCKED)
	FlowExempt        = "exempt"         // the agent or the action opts out, with a reason

	// FlowRule is the rule name of the flow approval in approvals_required. It cannot clash
	// with an approval rule: rule names never hold a colon.
	FlowRule = "flow:egress"
	// IntegrityRule is the rule name of the integrity approval in approvals_required.
	IntegrityRule = "flow:integrity"

	defaultFlowRole = "security-reviewer"
)

// FlowSettings is settings.flow: what stops egress after untrusted content and a sensitive
// read met in one session.
type FlowSettings struct {
	OnEgress  string // FlowNeedsApproval | FlowDeny; empty means the default, FlowNeedsApproval
	Role      string // the approvers' role; empty means "security-reviewer"
	Approvers int    // 0 means 1
	// Integrity is settings.flow.integrity; nil when absent (the integrity rule is off).
	Integrity *Integrity
}

// What the integrity rule does, settings.flow.integrity.on.
const (
	IntegrityNeedsApproval = "needs_approval"
	IntegrityDeny          = "deny"
	IntegrityOff           = "off"
)

// DefaultIntegrityEffects are the effects the integrity rule guards when the policy lists
// none: the ones whose harm does not need a leak (docs/runtime.md says why).
var DefaultIntegrityEffects = []string{EffectDelete, EffectDeploy, EffectExecute, EffectPayment, EffectPrivilegeEscalation}

// Integrity is settings.flow.integrity: what stops a high-impact call in a task that has
// taken in content outsiders control (INTEGRITY_BLOCKED).
type Integrity struct {
	Effects   []string     // nil: DefaultIntegrityEffects
	Unless    []*Condition // all hold (and at least one is given): the call is not stopped
	On        string       // IntegrityNeedsApproval | IntegrityDeny | IntegrityOff; "": needs_approval
	Role      string       // "": settings.flow's role
	Approvers int          // 0: settings.flow's approvers
	Pos       Pos
}

// IntegrityRule returns settings.flow.integrity with its defaults filled in, or nil when the
// rule is absent or off.
func (p *Policy) IntegrityRule() *Integrity {
	in := p.Settings.Flow.Integrity
	if in == nil || in.On == IntegrityOff {
		return nil
	}
	out := *in
	f := p.Flow()
	if out.Effects == nil {
		out.Effects = DefaultIntegrityEffects
	}
	if out.On == "" {
		out.On = IntegrityNeedsApproval
	}
	if out.Role == "" {
		out.Role = f.Role
	}
	if out.Approvers <= 0 {
		out.Approvers = f.Approvers
	}
	return &out
}

// Flow returns settings.flow with the schema's defaults filled in.
func (p *Policy) Flow() FlowSettings {
	f := p.Settings.Flow
	if f.OnEgress == "" {
		f.OnEgress = FlowNeedsApproval
	}
	if f.Role == "" {
		f.Role = defaultFlowRole
	}
	if f.Approvers <= 0 {
		f.Approvers = 1
	}
	return f
}

// FlowVerdict is what the runtime flow rule does when agent a (nil: undeclared) performs
// egress action act in a session that holds both labels: FlowExempt when the agent or the
// action opts out, else settings.flow.on_egress.
func (p *Policy) FlowVerdict(a *Agent, act *Action) string {
	if a != nil && a.FlowExempt != "" || act.FlowExempt != "" {
		return FlowExempt
	}
	return p.Flow().OnEgress
}

// CanonicalName returns the canonical form of an approver or role name and whether the name
// is acceptable. The form is PRECIS UsernameCaseMapped (RFC 8265), restricted to printable
// ASCII without spaces (U+0021 to U+007E): width, case and normalisation variants then map to
// one name, and names that only look alike across scripts (a Cyrillic "а" in "dana") or
// differ by invisible characters are refused instead of counting as different people. On
// that repertoire the profile is ASCII lower-casing, which the Rego library computes
// identically (lower after a [!-~] match).
func CanonicalName(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return "", false
		}
	}
	c, err := precis.UsernameCaseMapped.String(s)
	return c, err == nil
}

// IsPrincipal reports whether the canonical name c is an agent of the policy, by name or
// by SPIFFE ID: such a name never approves.
func (p *Policy) IsPrincipal(c string) bool { return p.principals[c] }
