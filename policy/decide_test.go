package policy

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// decideFixture: triage hands off to billing (delegate), to notifier (attenuate), billing
// forwards credentials to notifier. Refunds above 100 need two finance leads.
func decideFixture() *Policy {
	p := &Policy{
		Settings: Settings{MaxChainDepth: 2},
		Tools: []*Tool{
			{Name: "payments", Actions: []*Action{
				{Tool: "payments", Name: "refund", Effect: EffectPayment, Data: DataRegulated},
				{Tool: "payments", Name: "get_charge", Effect: EffectRead, Data: DataRegulated},
			}},
			{Name: "mail", Actions: []*Action{{Tool: "mail", Name: "send", Effect: EffectWrite, Data: DataConfidential}}},
		},
		Agents: []*Agent{
			{Name: "triage", SpiffeID: "spiffe://acme/triage", Grants: []*Grant{
				{Tool: "mail", Actions: []string{"*"}},
				{Tool: "payments", Actions: []string{"get_charge"}, Resources: []string{"charges/*"}},
			}},
			{Name: "billing", SpiffeID: "spiffe://acme/billing", Grants: []*Grant{
				{Tool: "payments", Actions: []string{"refund", "get_charge"}, Resources: []string{"accounts/*"}},
			}, Credential: &Credential{Kind: "ephemeral", Scope: "task", TTL: 15 * time.Minute, HasTTL: true},
				Session: &Session{MaxActions: 10, MaxDuration: time.Hour, HasMaxDuration: true}},
			{Name: "notifier", Grants: []*Grant{{Tool: "mail", Actions: []string{"send"}}}},
		},
		Handoffs: []*Handoff{
			{From: "triage", To: "billing", Mode: ModeDelegate},
			{From: "triage", To: "notifier", Mode: ModeAttenuate},
			{From: "billing", To: "notifier", Mode: ModeForwardCredentials, Index: 2},
		},
		Approvals: []*Approval{{Name: "big-refund", Match: Match{Actions: []string{"payments.refund"}},
			Threshold: &Threshold{Attribute: "amount", Above: 100}, Require: Require{Approvers: 2, Role: "finance-lead"}}},
	}
	p.Index()
	return p
}

const okBilling = `"agent": "billing", "identity": "spiffe://acme/billing", "tool": "payments", "action": "refund",
  "resource": "accounts/42", "credential": {"expires_at": "2026-11-27T10:00:00Z"},
  "session": {"actions": 3, "started_at": "2026-11-27T09:00:00Z"}, "now": "2026-11-27T09:30:00Z"`

func TestDecide(t *testing.T) {
	p := decideFixture()
	tests := []struct {
		name, input string
		revocations string
		outcome     string
		reasons     []string // "CODE: message"
		approvals   []RequiredApproval
	}{
		{name: "allow direct", input: `{` + okBilling + `, "attributes": {"amount": 100}}`, outcome: OutcomeAllow},
		{name: "allow through delegate", input: `{` + okBilling + `, "chain": ["triage", "billing"], "attributes": {"amount": 5}}`, outcome: OutcomeAllow},
		{name: "forwarded credentials carry refund", input: `{"agent": "notifier", "tool": "payments", "action": "refund", "resource": "accounts/1", "chain": ["billing", "notifier"], "attributes": {"amount": 1}}`, outcome: OutcomeAllow},
		{name: "attenuate drops what the receiver lacks", input: `{"agent": "notifier", "tool": "payments", "action": "get_charge", "resource": "charges/1", "chain": ["triage", "notifier"]}`,
			outcome: OutcomeDeny, reasons: []string{`NOT_GRANTED: "payments.get_charge" is not granted along the chain triage -> notifier`}},
		{name: "resource outside the globs", input: `{` + okBilling + `, "resource": "charges/1", "attributes": {"amount": 1}}`,
			outcome: OutcomeDeny, reasons: []string{`RESOURCE_NOT_GRANTED: resource "charges/1" is not granted for "payments.refund" along the chain billing`}},
		{name: "resource absent", input: `{"agent": "notifier", "tool": "payments", "action": "refund", "chain": ["billing", "notifier"], "attributes": {"amount": 1}}`,
			outcome: OutcomeDeny, reasons: []string{`RESOURCE_NOT_GRANTED: "payments.refund" is granted only on listed resources along the chain billing -> notifier and the request names none`}},
		{name: "needs two distinct human non-agent approvers", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [
			{"approver": "dana", "role": "finance-lead", "human": true}, {"approver": "dana", "role": "finance-lead", "human": true},
			{"approver": "billing", "role": "finance-lead", "human": true}, {"approver": "spiffe://acme/triage", "role": "finance-lead", "human": true},
			{"approver": "erin", "role": "finance-lead", "human": false}, {"approver": "frank", "role": "support", "human": true}]}`,
			outcome:   OutcomeNeedsApproval,
			reasons:   []string{`APPROVAL_REQUIRED: approval rule "big-refund" requires 2 approver(s) with role "finance-lead"`},
			approvals: []RequiredApproval{{Rule: "big-refund", Role: "finance-lead", Approvers: 2}}},
		{name: "approved", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [
			{"approver": "dana", "role": "finance-lead", "human": true}, {"approver": "erin", "role": "finance-lead", "human": true}]}`, outcome: OutcomeAllow},
		{name: "missing threshold attribute fails closed", input: `{` + okBilling + `}`, outcome: OutcomeNeedsApproval,
			reasons:   []string{`APPROVAL_REQUIRED: approval rule "big-refund" requires 2 approver(s) with role "finance-lead"`},
			approvals: []RequiredApproval{{Rule: "big-refund", Role: "finance-lead", Approvers: 2}}},
		{name: "unknown agent", input: `{"agent": "ghost", "tool": "mail", "action": "send"}`, outcome: OutcomeDeny,
			reasons: []string{`UNKNOWN_AGENT: agent "ghost" is not declared`}},
		{name: "identity mismatch", input: `{` + okBilling + `, "identity": "spiffe://evil/billing", "attributes": {"amount": 1}}`, outcome: OutcomeDeny,
			reasons: []string{`IDENTITY_MISMATCH: identity "spiffe://evil/billing" is not the SPIFFE ID of agent "billing"`}},
		{name: "identity missing", input: `{"agent": "triage", "tool": "mail", "action": "send"}`, outcome: OutcomeDeny,
			reasons: []string{`IDENTITY_MISMATCH: agent "triage" must present its SPIFFE ID`}},
		{name: "unknown capability", input: `{"agent": "notifier", "tool": "mail", "action": "delete"}`, outcome: OutcomeDeny,
			reasons: []string{`UNKNOWN_CAPABILITY: capability "mail.delete" is not declared`}},
		{name: "undeclared hand-off and too deep", input: `{"agent": "notifier", "tool": "mail", "action": "send", "chain": ["notifier", "triage", "billing", "notifier"]}`, outcome: OutcomeDeny,
			reasons: []string{`UNDECLARED_HANDOFF: no hand-off from "notifier" to "triage" is declared`, `CHAIN_TOO_DEEP: chain has 3 hand-offs, more than max_chain_depth 2`}},
		{name: "expired and over limits", input: `{` + okBilling + `, "attributes": {"amount": 1}, "now": "2026-11-27T10:00:00Z", "session": {"actions": 10, "started_at": "2026-11-27T09:00:00Z"}}`, outcome: OutcomeDeny,
			reasons: []string{`CREDENTIAL_EXPIRED: credential expired at 2026-11-27T10:00:00Z`, `SESSION_LIMIT: agent "billing" exceeded its session duration of 1h0m0s`, `SESSION_LIMIT: agent "billing" reached its session limit of 10 actions`}},
		{name: "limits need their counters", input: `{"agent": "billing", "identity": "spiffe://acme/billing", "tool": "payments", "action": "refund", "resource": "accounts/1", "attributes": {"amount": 1}}`, outcome: OutcomeDeny,
			reasons: []string{`CREDENTIAL_EXPIRED: credential.expires_at is required: agent "billing" has a credential ttl`, `SESSION_LIMIT: session.actions is required: agent "billing" limits sessions to 10 actions`, `SESSION_LIMIT: session.started_at is required: agent "billing" limits sessions to 1h0m0s`}},
		{name: "revoked agent in the chain and task", input: `{` + okBilling + `, "chain": ["triage", "billing"], "task": "t-9", "attributes": {"amount": 1}}`,
			revocations: `{"agents": {"triage": {"reason": "hijacked"}, "billing": false}, "tasks": {"t-9": true}}`, outcome: OutcomeDeny,
			reasons: []string{`REVOKED: agent "triage" is revoked`, `REVOKED: task "t-9" is revoked`}},
		{name: "not an object", input: `["billing"]`, outcome: OutcomeDeny,
			reasons: []string{"MALFORMED_REQUEST: action must be a string", "MALFORMED_REQUEST: agent must be a string", "MALFORMED_REQUEST: request must be a JSON object", "MALFORMED_REQUEST: tool must be a string"}},
		{name: "malformed fields", input: `{"agent": "notifier", "tool": "mail", "action": "send", "chain": ["triage"], "approvals": [{"approver": ""}], "now": "noon", "session": {"actions": -1}, "attributes": 3}`, outcome: OutcomeDeny,
			reasons: []string{"MALFORMED_REQUEST: approvals must hold objects with an approver and a role that are printable ASCII without spaces and, if present, a boolean human",
				"MALFORMED_REQUEST: attributes must be an object", "MALFORMED_REQUEST: chain must end with the agent", "MALFORMED_REQUEST: now must be an RFC 3339 timestamp",
				"MALFORMED_REQUEST: session.actions must be a non-negative number"}},
		{name: "one person in two spellings is one approver", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [
			{"approver": "dana", "role": "finance-lead", "human": true}, {"approver": "Dana", "role": "FINANCE-LEAD", "human": true},
			{"approver": "BILLING", "role": "finance-lead", "human": true}, {"approver": "SPIFFE://ACME/TRIAGE", "role": "finance-lead", "human": true}]}`,
			outcome:   OutcomeNeedsApproval,
			reasons:   []string{`APPROVAL_REQUIRED: approval rule "big-refund" requires 2 approver(s) with role "finance-lead"`},
			approvals: []RequiredApproval{{Rule: "big-refund", Role: "finance-lead", Approvers: 2}}},
		{name: "roles compare in canonical form", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [
			{"approver": "dana", "role": "Finance-Lead", "human": true}, {"approver": "erin", "role": "finance-lead", "human": true}]}`, outcome: OutcomeAllow},
		{name: "a trailing space is not a name", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [{"approver": "dana ", "role": "finance-lead", "human": true}]}`,
			outcome: OutcomeDeny, reasons: []string{"MALFORMED_REQUEST: approvals must hold objects with an approver and a role that are printable ASCII without spaces and, if present, a boolean human"}},
		{name: "a look-alike hyphen is not a name", input: `{` + okBilling + `, "attributes": {"amount": 101}, "approvals": [{"approver": "fraud\u2011review", "role": "finance-lead", "human": true}]}`,
			outcome: OutcomeDeny, reasons: []string{"MALFORMED_REQUEST: approvals must hold objects with an approver and a role that are printable ASCII without spaces and, if present, a boolean human"}},
		{name: "non-numeric threshold attribute", input: `{` + okBilling + `, "attributes": {"amount": "lots"}}`, outcome: OutcomeDeny,
			reasons: []string{`MALFORMED_REQUEST: attribute "amount" must be a number`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in, rev any
			if err := json.Unmarshal([]byte(tt.input), &in); err != nil {
				t.Fatal(err)
			}
			if tt.revocations != "" {
				if err := json.Unmarshal([]byte(tt.revocations), &rev); err != nil {
					t.Fatal(err)
				}
			}
			d := p.Decide(in, Env{Revocations: rev, Now: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)})
			var reasons []string
			for _, r := range d.Reasons {
				reasons = append(reasons, r.Code+": "+r.Message)
			}
			if d.Outcome != tt.outcome || d.Allow != (tt.outcome == OutcomeAllow) {
				t.Errorf("outcome %s (allow %v), want %s; reasons:\n%s", d.Outcome, d.Allow, tt.outcome, strings.Join(reasons, "\n"))
			}
			if !reflect.DeepEqual(reasons, tt.reasons) {
				t.Errorf("reasons:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(tt.reasons, "\n"))
			}
			want := tt.approvals
			if want == nil {
				want = []RequiredApproval{}
			}
			if !reflect.DeepEqual(d.ApprovalsRequired, want) {
				t.Errorf("approvals_required %v, want %v", d.ApprovalsRequired, want)
			}
		})
	}
}

// flowFixture: an assistant reads a web inbox (external) and customer records (regulated),
// and may post to an external webhook and reply through an exempt action.
func flowFixture(f FlowSettings) *Policy {
	p := &Policy{
		Settings: Settings{MaxChainDepth: 2, Flow: f},
		Tools: []*Tool{
			{Name: "inbox", External: true, Actions: []*Action{{Tool: "inbox", Name: "read", Effect: EffectRead, Data: DataInternal}}},
			{Name: "crm", Actions: []*Action{{Tool: "crm", Name: "lookup", Effect: EffectRead, Data: DataRegulated}}},
			{Name: "webhook", External: true, Actions: []*Action{
				{Tool: "webhook", Name: "post", Effect: EffectWrite, Data: DataConfidential},
				{Tool: "webhook", Name: "reply", Effect: EffectWrite, Data: DataConfidential, FlowExempt: "answers the sender only"},
			}},
		},
		Agents: []*Agent{
			{Name: "assistant", Grants: []*Grant{{Tool: "*", Actions: []string{"*"}}}},
			{Name: "mailer", UntrustedInput: true, Grants: []*Grant{{Tool: "webhook", Actions: []string{"*"}}}},
			{Name: "courier", FlowExempt: "posts to the customer's own account", Grants: []*Grant{{Tool: "webhook", Actions: []string{"*"}}}},
		},
	}
	p.Index()
	return p
}

func TestDecideFlow(t *testing.T) {
	type call struct {
		policy               FlowSettings
		input                string
		outcome              string
		reasons              []string
		approvals            []RequiredApproval
		untrusted, sensitive bool
	}
	blocked := `FLOW_BLOCKED: egress after untrusted content and a sensitive read requires 1 approver(s) with role "security-reviewer"`
	tests := map[string]call{
		// The three calls of one session, each carrying the labels the previous returned.
		"1 external read sets untrusted": {input: `{"agent": "assistant", "tool": "inbox", "action": "read"}`, outcome: OutcomeAllow, untrusted: true},
		"2 sensitive read sets sensitive": {input: `{"agent": "assistant", "tool": "crm", "action": "lookup", "session": {"flow": {"untrusted": true, "sensitive": false}}}`,
			outcome: OutcomeAllow, untrusted: true, sensitive: true},
		"3 egress needs approval by default": {input: `{"agent": "assistant", "tool": "webhook", "action": "post", "session": {"flow": {"untrusted": true, "sensitive": true}}}`,
			outcome: OutcomeNeedsApproval, reasons: []string{blocked}, approvals: []RequiredApproval{{Rule: FlowRule, Role: "security-reviewer", Approvers: 1, Context: noContext}}, untrusted: true, sensitive: true},
		"3 egress approved": {input: `{"agent": "assistant", "tool": "webhook", "action": "post", "session": {"flow": {"untrusted": true, "sensitive": true}},
			"approvals": [{"approver": "Sam", "role": "Security-Reviewer", "human": true}]}`, outcome: OutcomeAllow, untrusted: true, sensitive: true},
		"3 egress denied": {policy: FlowSettings{OnEgress: FlowDeny}, input: `{"agent": "assistant", "tool": "webhook", "action": "post", "session": {"flow": {"untrusted": true, "sensitive": true}},
			"approvals": [{"approver": "sam", "role": "security-reviewer", "human": true}]}`, outcome: OutcomeDeny,
			reasons: []string{`FLOW_BLOCKED: "webhook.post" is egress and the session holds untrusted content and a sensitive read`}, untrusted: true, sensitive: true},
		"two approvers of another role": {policy: FlowSettings{Role: "dpo", Approvers: 2}, input: `{"agent": "assistant", "tool": "webhook", "action": "post", "session": {"flow": {"untrusted": true, "sensitive": true}},
			"approvals": [{"approver": "sam", "role": "DPO", "human": true}, {"approver": "SAM", "role": "dpo", "human": true}]}`, outcome: OutcomeNeedsApproval,
			reasons: []string{`FLOW_BLOCKED: egress after untrusted content and a sensitive read requires 2 approver(s) with role "dpo"`}, approvals: []RequiredApproval{{Rule: FlowRule, Role: "dpo", Approvers: 2, Context: noContext}}, untrusted: true, sensitive: true},
		"untrusted agent needs only the sensitive label": {policy: FlowSettings{OnEgress: FlowDeny}, input: `{"agent": "mailer", "tool": "webhook", "action": "post", "session": {"flow": {"sensitive": true}}}`,
			outcome: OutcomeDeny, reasons: []string{`FLOW_BLOCKED: "webhook.post" is egress and the session holds untrusted content and a sensitive read`}, untrusted: true, sensitive: true},
		"one label is not enough": {input: `{"agent": "assistant", "tool": "webhook", "action": "post", "session": {"flow": {"sensitive": true}}}`, outcome: OutcomeAllow, sensitive: true},
		"exempt action":           {input: `{"agent": "assistant", "tool": "webhook", "action": "reply", "session": {"flow": {"untrusted": true, "sensitive": true}}}`, outcome: OutcomeAllow, untrusted: true, sensitive: true},
		"exempt agent":            {input: `{"agent": "courier", "tool": "webhook", "action": "post", "session": {"flow": {"untrusted": true, "sensitive": true}}}`, outcome: OutcomeAllow, untrusted: true, sensitive: true},
		"malformed labels": {input: `{"agent": "assistant", "tool": "crm", "action": "lookup", "session": {"flow": {"untrusted": "yes"}}}`, outcome: OutcomeDeny,
			reasons: []string{"MALFORMED_REQUEST: session.flow.untrusted must be a boolean"}, sensitive: true},
		"malformed flow": {input: `{"agent": "assistant", "tool": "inbox", "action": "read", "session": {"flow": true}}`, outcome: OutcomeDeny,
			reasons: []string{"MALFORMED_REQUEST: session.flow must be an object"}, untrusted: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tt.input), &in); err != nil {
				t.Fatal(err)
			}
			d := flowFixture(tt.policy).Decide(in, Env{Now: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)})
			var reasons []string
			for _, r := range d.Reasons {
				reasons = append(reasons, r.Code+": "+r.Message)
			}
			want := tt.approvals
			if want == nil {
				want = []RequiredApproval{}
			}
			if d.Outcome != tt.outcome || !reflect.DeepEqual(reasons, tt.reasons) || !reflect.DeepEqual(d.ApprovalsRequired, want) ||
				d.Flow.Untrusted != tt.untrusted || d.Flow.Sensitive != tt.sensitive {
				t.Errorf("got %s %q %v flow %+v\nwant %s %q %v flow %+v", d.Outcome, reasons, d.ApprovalsRequired, d.Flow,
					tt.outcome, tt.reasons, want, Flow{Untrusted: tt.untrusted, Sensitive: tt.sensitive})
			}
		})
	}
}

// TestCanonicalNameIsASCIILower holds the Rego library's formulation (lower after a
// [!-~]+ match) to the PRECIS profile, on every printable ASCII character and on strings.
func TestCanonicalNameIsASCIILower(t *testing.T) {
	var names []string
	for c := byte('!'); c <= '~'; c++ {
		names = append(names, string(c), "a"+string(c)+"Z", string(c)+string(c))
	}
	names = append(names, "Dana", "o\"Brien", "SPIFFE://Acme.Example/Agents/Billing", "-", "1", "x.y@Example.COM")
	printable := regexp.MustCompile(`^[!-~]+$`)
	for _, n := range names {
		got, ok := CanonicalName(n)
		if !ok || got != strings.ToLower(n) || !printable.MatchString(n) {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q, true", n, got, ok, strings.ToLower(n))
		}
	}
	for _, n := range []string{"", "dana ", " dana", "da na", "zoë", "fraud\u2011review", "ｄａｎａ", "d\u0430na", "dana\u200b", "tab\t", "\x7f"} {
		if got, ok := CanonicalName(n); ok {
			t.Errorf("CanonicalName(%q) = %q, want no canonical form", n, got)
		}
	}
}

func TestDecideUsesClockWithoutNow(t *testing.T) {
	p := decideFixture()
	in := map[string]any{"agent": "notifier", "tool": "mail", "action": "send", "credential": map[string]any{"expires_at": "2026-11-27T10:00:00Z"}}
	before := p.Decide(in, Env{Now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
	after := p.Decide(in, Env{Now: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)})
	if before.Outcome != OutcomeAllow || after.Outcome != OutcomeDeny || after.Reasons[0].Code != CodeCredentialExpired {
		t.Errorf("before %+v, after %+v", before, after)
	}
}

func TestResourceRegexp(t *testing.T) {
	for _, tt := range []struct {
		glob, resource string
		match          bool
	}{
		{"accounts/*", "accounts/42/notes", true},
		{"accounts/*", "accounts", false},
		{"*", "", true},
		{"a.b", "axb", false},
		{"(x)+", "(x)+", true},
		{"acc*", "acc\nx", true},
		{"", "", true},
		{"", "x", false},
	} {
		got := matchAny([]string{tt.glob}, tt.resource)
		if got != tt.match {
			t.Errorf("%q matches %q: %v, want %v", tt.glob, tt.resource, got, tt.match)
		}
		// The test's name is ResourceRegexp: hold the expression itself to the same table.
		if re := regexp.MustCompile(ResourceRegexp(tt.glob)); re.MatchString(tt.resource) != tt.match {
			t.Errorf("ResourceRegexp(%q) = %s matches %q: %v, want %v", tt.glob, re, tt.resource, !tt.match, tt.match)
		}
	}
}

func TestExplain(t *testing.T) {
	p := decideFixture()
	in := map[string]any{"agent": "notifier", "tool": "payments", "action": "refund", "resource": "accounts/7",
		"chain": []any{"triage", "billing", "notifier"}, "attributes": map[string]any{"amount": 500.0}}
	x := p.Explain(in, Env{})
	if x.Decision.Outcome != OutcomeNeedsApproval || len(x.Approvals) != 1 || x.Approvals[0].Name != "big-refund" {
		t.Fatalf("decision %+v, approvals %v", x.Decision, x.Approvals)
	}
	type hop struct {
		agent, modes, authority string
		holds, res              bool
	}
	var got []hop
	for _, h := range x.Hops {
		got = append(got, hop{h.Agent, strings.Join(h.Modes, ","), strings.Join(h.Authority, ","), h.Holds, h.HoldsResource})
	}
	want := []hop{
		{"triage", "", "mail.send,payments.get_charge", false, false},
		{"billing", "delegate", "payments.get_charge,payments.refund", true, true},
		{"notifier", "forward_credentials", "mail.send,payments.get_charge,payments.refund", true, true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hops\n%v\nwant\n%v", got, want)
	}
	// Only an allow names the grant that allowed it.
	if x.AllowedBy != nil || x.DeniedBy != nil {
		t.Errorf("needs_approval names allowed by %+v, denied by %+v", x.AllowedBy, x.DeniedBy)
	}
	role := x.Approvals[0].Require.Role
	in["approvals"] = []any{map[string]any{"approver": "dana", "role": role, "human": true},
		map[string]any{"approver": "lee", "role": role, "human": true}}
	if x = p.Explain(in, Env{}); x.Decision.Outcome != OutcomeAllow || x.AllowedBy != p.Agent("billing").Grants[0] {
		t.Errorf("with approval: %+v, allowed by %+v, want allow by billing's grant", x.Decision, x.AllowedBy)
	}
	// A deny names what denied it, in the order of the reasons, and no grant.
	in["chain"] = []any{"triage", "notifier"}
	in["resource"] = "cards/1"
	x = p.Explain(in, Env{Revocations: map[string]any{"agents": map[string]any{"triage": true}}})
	var causes []string
	for _, c := range x.DeniedBy {
		causes = append(causes, c.Code+" "+c.Path)
	}
	if got, want := strings.Join(causes, "; "), "NOT_GRANTED agents.notifier.grants; REVOKED data.agentctl_revocations.agents.triage"; got != want || x.AllowedBy != nil {
		t.Errorf("denied by %q, want %q; allowed by %+v", got, want, x.AllowedBy)
	}
}

// TestExplainFlow: a FLOW_BLOCKED deny names settings.flow.on_egress and what set the
// labels; the needs_approval form names the flow rule's approval.
func TestExplainFlow(t *testing.T) {
	in := map[string]any{"agent": "mailer", "tool": "webhook", "action": "post", "chain": []any{"mailer"},
		"session": map[string]any{"flow": map[string]any{"untrusted": true, "sensitive": true}}}
	p := flowFixture(FlowSettings{OnEgress: FlowDeny})
	p.Positions = map[string]Pos{"settings.flow.on_egress": {File: "p.cue", Line: 3, Col: 14}}
	labels := []string{"untrusted: input.session.flow.untrusted", "untrusted: agents.mailer.untrusted_input", "sensitive: input.session.flow.sensitive"}
	x := p.Explain(in, Env{})
	want := []Cause{{Code: CodeFlowBlocked, Path: "settings.flow.on_egress", Pos: Pos{File: "p.cue", Line: 3, Col: 14}, Labels: labels}}
	if x.Decision.Outcome != OutcomeDeny || !reflect.DeepEqual(x.DeniedBy, want) || x.FlowApproval != nil {
		t.Errorf("deny: %+v, denied by %+v, flow approval %+v\nwant denied by %+v", x.Decision, x.DeniedBy, x.FlowApproval, want)
	}
	p = flowFixture(FlowSettings{Role: "dpo", Approvers: 2})
	in["session"] = map[string]any{"flow": map[string]any{"sensitive": true}}
	x = p.Explain(in, Env{})
	wantApproval := &FlowApproval{RequiredApproval: RequiredApproval{Rule: FlowRule, Role: "dpo", Approvers: 2, Context: noContext}, Path: "settings.flow",
		Labels: []string{"untrusted: agents.mailer.untrusted_input", "sensitive: input.session.flow.sensitive"}}
	if x.Decision.Outcome != OutcomeNeedsApproval || !reflect.DeepEqual(x.FlowApproval, wantApproval) || x.DeniedBy != nil || x.Approvals != nil {
		t.Errorf("needs_approval: %+v, flow approval %+v, denied by %+v, approvals %v\nwant flow approval %+v",
			x.Decision, x.FlowApproval, x.DeniedBy, x.Approvals, wantApproval)
	}
}

// TestGlobMatchAgreesWithResourceRegexp: the Go reference's glob matcher and the regular
// expression the Rego engine uses accept exactly the same resources.
func TestGlobMatchAgreesWithResourceRegexp(t *testing.T) {
	pats := []string{"", "*", "**", "a", "a*", "*a", "a*b", "*a*", "a*b*c", "a**b", "ab*ba", "orders/*", "*/x/*", "é*\n"}
	subjects := []string{"", "a", "b", "ab", "aab", "abb", "aba", "abba", "abcba", "acb", "abc", "orders/7", "orders/", "x/x/x", "é\n", "éé\n", "a\nb"}
	for _, p := range pats {
		re := regexp.MustCompile(ResourceRegexp(p))
		for _, s := range subjects {
			if got, want := globMatch(p, s), re.MatchString(s); got != want {
				t.Errorf("globMatch(%q, %q) = %v, regexp says %v", p, s, got, want)
			}
		}
	}
}

// noContext is the context of a flow approval with no sources recorded and no arguments.
var noContext = &Context{Sources: FlowSources{Untrusted: []string{}, Sensitive: []string{}}, Arguments: map[string]any{}}
