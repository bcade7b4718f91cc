package diff_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/schema"
)

// TestFlowChanges judges each kind of condition, list, flow-class, flow_exempt and
// settings.flow change by what the runtime then lets through, in both directions.
func TestFlowChanges(t *testing.T) {
	base, head := testtool.Load(t, "testdata/flow/base"), testtool.Load(t, "testdata/flow/head")
	for _, tc := range []struct {
		name       string
		b, h       string
		want       string
		weaker     int
		gateFailed bool
	}{
		{"base->head", "base", "head", `
weaker agents.billing.flow_exempt: agent "billing" opts out of the flow rules
weaker agents.billing.grants[bank].when: holds for more and fewer calls: recipient in list "payees" and amount at_most 1000 -> recipient in list "payees" and amount at_most 500 (list "payees": +"mallory")
stronger agents.clerk.grants[bank].when: holds for fewer calls: amount at_most 50 -> amount at_most 10
weaker approvals.big.match.when: holds for fewer calls: amount above 100 -> amount above 500
weaker settings.flow.integrity.effects: effects guarded: −deploy, −execute, −privilege_escalation
weaker settings.flow.integrity.on: a guarded call in an untrusted task: deny -> needs_approval
weaker settings.flow.on_egress: egress in a task holding both labels: deny -> needs_approval
weaker tools.web.actions.get.untrusted: web.get is in the untrusted class for fewer calls: true -> false
weaker tools.web.actions.post.egress: web.post is in the egress class for fewer calls: when domain not_in ["corp.example"] -> when domain not_in ["corp.example", "partner.example"]
`, 8, true},
		{"head->base", "head", "base", `
stronger agents.billing.flow_exempt: agent "billing" no longer opts out of the flow rules
weaker agents.billing.grants[bank].when: holds for more and fewer calls: recipient in list "payees" and amount at_most 500 -> recipient in list "payees" and amount at_most 1000 (list "payees": −"mallory")
weaker agents.clerk.grants[bank].when: holds for more calls: amount at_most 10 -> amount at_most 50
stronger approvals.big.match.when: holds for more calls: amount above 500 -> amount above 100
stronger settings.flow.integrity.effects: effects guarded: +deploy, +execute, +privilege_escalation
stronger settings.flow.integrity.on: a guarded call in an untrusted task: needs_approval -> deny
stronger settings.flow.on_egress: egress in a task holding both labels: needs_approval -> deny
stronger tools.web.actions.get.untrusted: web.get is in the untrusted class for more calls: false -> true
stronger tools.web.actions.post.egress: web.post is in the egress class for more calls: when domain not_in ["corp.example", "partner.example"] -> when domain not_in ["corp.example"]
`, 2, true},
		{"unchanged", "base", "base", "\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, h := base, head
			if tc.b == "head" {
				b = head
			}
			if tc.h == "base" {
				h = base
			}
			r, err := diff.Run(b, h, diff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			got.WriteString("\n")
			for _, x := range r.Flow {
				fmt.Fprintf(&got, "%s %s: %s\n", x.Op, x.Path, x.Detail)
			}
			if got.String() != tc.want {
				t.Errorf("flow changes:\n%s\nwant:\n%s", got.String(), tc.want)
			}
			if r.Summary.FlowWeaker != tc.weaker {
				t.Errorf("flow_weaker = %d, want %d", r.Summary.FlowWeaker, tc.weaker)
			}
			failed := r.Count(diff.FailWeakerFlow, 0) > 0
			if failed != tc.gateFailed {
				t.Errorf("weaker-flow gate failed = %t, want %t", failed, tc.gateFailed)
			}
		})
	}
}

// TestTestsDecideWithTheirLists: a test that pushes runtime lists is decided with them, as
// agentctl test decides it, so a new example directory is no scenario regression.
func TestTestsDecideWithTheirLists(t *testing.T) {
	head := testtool.Load(t, "../scenarios/secure-baseline")
	r, err := diff.Run(schema.Empty(), head, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Scenarios {
		if o.Regression() {
			t.Errorf("%s %s: %s -> %s %v", o.Kind, o.Name, o.Before, o.After, o.Failures)
		}
	}
	if r.Summary.Regressions != 0 {
		t.Errorf("regressions = %d", r.Summary.Regressions)
	}
}
