package compile_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

// TestFastPathApprovals decides the benchmark's requests with one approval, and variations
// of it that the fast path's one-approval branch must leave to the full rules, on the
// benchmark's estate and on variations of its approval rule. Both engines must agree, and
// whatever the fast path allows the full rules allow with the same labels. The random
// requests of TestDifferential rarely carry one well-formed approval for a capability with
// one rule, so this is where that branch is compared.
func TestFastPathApprovals(t *testing.T) {
	ctx := context.Background()
	const n = 100
	entry := func(approver, role string, human any) map[string]any {
		e := map[string]any{"approver": approver, "role": role}
		if human != nil {
			e["human"] = human
		}
		return e
	}
	approvals := map[string]any{
		"one":                []any{entry("dana", "finance", true)},
		"case variant":       []any{entry("Dana", "FINANCE", true)},
		"agent by name":      []any{entry("AGENT53", "finance", true)},
		"agent by SPIFFE ID": []any{entry("spiffe://bench/agent53", "finance", true)},
		"not human":          []any{entry("dana", "finance", false)},
		"human absent":       []any{entry("dana", "finance", nil)},
		"human not boolean":  []any{entry("dana", "finance", "yes")},
		"approver spaced":    []any{entry("dana ", "finance", true)},
		"role non-ASCII":     []any{entry("dana", "fin\u2011ance", true)},
		"other role":         []any{entry("dana", "sre", true)},
		"two people":         []any{entry("dana", "finance", true), entry("erin", "finance", true)},
		"one person twice":   []any{entry("dana", "finance", true), entry("DANA", "finance", true)},
		"entry not object":   []any{"dana"},
		"none":               []any{},
		"not an array":       entry("dana", "finance", true),
	}
	attributes := map[string]any{
		"over threshold":  map[string]any{"amount": 500},
		"under threshold": map[string]any{"amount": 50},
		"not a number":    map[string]any{"amount": "lots"},
		"absent":          nil,
	}
	rules := map[string]func(*policy.Approval){
		"one approver":    func(*policy.Approval) {},
		"two approvers":   func(a *policy.Approval) { a.Require.Approvers = 2 },
		"this agent":      func(a *policy.Approval) { a.Match.Agents = []string{"agent50", "agent53"} },
		"another agent":   func(a *policy.Approval) { a.Match.Agents = []string{"agent7"} },
		"no agent":        func(a *policy.Approval) { a.Match.Agents = []string{} },
		"no threshold":    func(a *policy.Approval) { a.Threshold = nil },
		"mixed-case role": func(a *policy.Approval) { a.Require.Role = "Finance" },
	}
	fastAllowed := 0
	for rule, change := range rules {
		p := estate(n)
		change(p.Approvals[0])
		p.Index()
		b := compileBundle(t, p)
		e, err := compile.NewEngine(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := compile.NewFastEngine(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, hops := range []int{0, 3} {
			for aname, list := range approvals {
				for attr, value := range attributes {
					req := benchRequest(n, hops)
					req["approvals"] = list
					if value == nil {
						delete(req, "attributes")
					} else {
						req["attributes"] = value
					}
					in := roundTrip(t, req)
					d := agree(t, p, e, in, nil)
					flow, ok, err := fast.FastFlow(ctx, in, policy.Env{Now: diffNow})
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						continue
					}
					fastAllowed++
					if d.Outcome != policy.OutcomeAllow || flow != d.Flow {
						raw, _ := json.Marshal(in)
						t.Fatalf("rule %s, approvals %s, attributes %s: fast path allows with %+v, the full decision is %+v\ninput: %s", rule, aname, attr, flow, d, raw)
					}
				}
			}
		}
	}
	if fastAllowed == 0 {
		t.Error("the fast path allowed none of the requests")
	}
	t.Logf("%d requests allowed by the fast path", fastAllowed)
}
