package policy

import "golang.org/x/text/secure/precis"

// The information-flow classes of a capability. They are the one definition the simulator
// (exfiltration paths), the linter (AC034) and the runtime flow rule (FLOW_BLOCKED) share.

// SensitiveRead reports whether a reads confidential or regulated data.
func SensitiveRead(a *Action) bool {
	return a.Effect == EffectRead && (a.Data == DataConfidential || a.Data == DataRegulated)
}

// ExternalRead reports whether a reads from an external tool: content outsiders control.
func (p *Policy) ExternalRead(a *Action) bool {
	return a.Effect == EffectRead && p.external(a)
}

// Egress reports whether a is a non-read action on an external tool: data leaving the estate.
func (p *Policy) Egress(a *Action) bool {
	return a.Effect != EffectRead && p.external(a)
}

func (p *Policy) external(a *Action) bool {
	t := p.Tool(a.Tool)
	return t != nil && t.External
}

// Flow is the pair of labels an enforcement point keeps for a task: whether the task has
// taken in content outsiders control, and whether it has read sensitive data.
type Flow struct {
	Untrusted bool `json:"untrusted"`
	Sensitive bool `json:"sensitive"`
}

// What the runtime flow rule does to egress in a session holding both labels.
const (
	FlowDeny          = "deny"           // deny with FLOW_BLOCKED
	FlowNeedsApproval = "needs_approval" // require settings.flow's approvers (FLOW_BLOCKED)
	FlowExempt        = "exempt"         // the agent or the action opts out, with a reason

	// FlowRule is the rule name of the flow approval in approvals_required. It cannot clash
	// with an approval rule: rule names never hold a colon.
	FlowRule = "flow:egress"

	defaultFlowRole = "security-reviewer"
)

// FlowSettings is settings.flow: what stops egress after untrusted content and a sensitive
// read met in one session.
type FlowSettings struct {
	OnEgress  string // FlowNeedsApproval | FlowDeny; empty means the default, FlowNeedsApproval
	Role      string // the approvers' role; empty means "security-reviewer"
	Approvers int    // 0 means 1
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
