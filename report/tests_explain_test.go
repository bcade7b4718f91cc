package report

import (
	"strings"
	"testing"

	"github.com/agentctl/agentctl/policy"
)

// TestExplainTextDisagreement: when the engines disagree, explain prints both decisions
// whole, as JSON, never Go's struct syntax.
func TestExplainTextDisagreement(t *testing.T) {
	e := Explained{
		Explanation: policy.Explanation{Decision: policy.Decision{Outcome: policy.OutcomeAllow, Allow: true,
			Reasons: []policy.Reason{}, ApprovalsRequired: []policy.RequiredApproval{}}},
		Rego: policy.Decision{Outcome: policy.OutcomeDeny, Reasons: []policy.Reason{{Code: "SESSION_LIMIT", Message: "session lasted 1h, more than max_duration 30m"}},
			ApprovalsRequired: []policy.RequiredApproval{}},
	}
	var b strings.Builder
	if err := ExplainText(&b, e, false); err != nil {
		t.Fatal(err)
	}
	const want = `decision: allow
engines: DISAGREE
  go reference:  {"allow":true,"outcome":"allow","reasons":[],"approvals_required":[],"flow":{"untrusted":false,"sensitive":false}}
  compiled rego: {"allow":false,"outcome":"deny","reasons":[{"code":"SESSION_LIMIT","message":"session lasted 1h, more than max_duration 30m"}],"approvals_required":[],"flow":{"untrusted":false,"sensitive":false}}
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
