package simulate

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/policy"
)

// refunds is a small support estate: triage reads outsider mail and delegates to billing,
// which forwards its credential to a notifier.
func refunds() *policy.Policy {
	act := func(tool, name, effect, data string) *policy.Action {
		return &policy.Action{Tool: tool, Name: name, Effect: effect, Data: data}
	}
	grant := func(tool string, actions ...string) *policy.Grant {
		return &policy.Grant{Tool: tool, Actions: actions}
	}
	p := &policy.Policy{
		Settings: policy.Settings{MaxChainDepth: 3},
		Tools: []*policy.Tool{
			{Name: "inbox", External: true, Actions: []*policy.Action{
				act("inbox", "read", "read", "confidential"), act("inbox", "reply", "write", "confidential")}},
			{Name: "payments", External: true, Actions: []*policy.Action{
				act("payments", "get_charge", "read", "confidential"), act("payments", "refund", "payment", "regulated")}},
			{Name: "tickets", Actions: []*policy.Action{
				act("tickets", "read", "read", "internal"), act("tickets", "close", "write", "internal")}},
		},
		Agents: []*policy.Agent{
			{Name: "triage", UntrustedInput: true, Grants: []*policy.Grant{grant("inbox", "read"), grant("tickets", "read")}},
			{Name: "billing", Grants: []*policy.Grant{grant("payments", "*")}},
			{Name: "notifier", Grants: []*policy.Grant{grant("inbox", "reply"), grant("tickets", "close")}},
			{Name: "fraud", Grants: []*policy.Grant{grant("payments", "get_charge"), grant("tickets", "*")}},
		},
		Handoffs: []*policy.Handoff{
			{From: "triage", To: "billing", Mode: policy.ModeDelegate, Index: 0},
			{From: "billing", To: "notifier", Mode: policy.ModeForwardCredentials, Index: 1},
			{From: "triage", To: "fraud", Mode: policy.ModeAttenuate, Index: 2},
		},
		Approvals: []*policy.Approval{
			{Name: "refunds", Match: policy.Match{Actions: []string{"payments.refund"}}, Threshold: &policy.Threshold{Attribute: "amount", Above: 50}},
			{Name: "money", Match: policy.Match{Effects: []string{"payment"}, Agents: []string{"notifier"}}},
			{Name: "billing-closes", Match: policy.Match{Tools: []string{"tickets"}, Agents: []string{"billing"}}},
		},
	}
	p.Index()
	return p
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }
func run1(t *testing.T, p *policy.Policy, sc *policy.Scenario) *Result {
	t.Helper()
	r, err := Run(p, sc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunRefunds(t *testing.T) {
	r := run1(t, refunds(), &policy.Scenario{Name: "mail", Start: "triage"})
	want := []string{"inbox.read", "inbox.reply", "payments.get_charge", "payments.refund", "tickets.close", "tickets.read"}
	if !slices.Equal(r.Reachable, want) {
		t.Errorf("reachable = %v, want %v", r.Reachable, want)
	}
	var esc []string
	for _, e := range r.Escalations {
		esc = append(esc, e.Capability+" via "+e.Via())
	}
	wantEsc := []string{
		"inbox.reply via triage -delegate-> billing -forward_credentials-> notifier",
		"payments.get_charge via triage -delegate-> billing",
		"payments.refund via triage -delegate-> billing",
		"tickets.close via triage -delegate-> billing -forward_credentials-> notifier",
	}
	if !slices.Equal(esc, wantEsc) {
		t.Errorf("escalations = %q, want %q", esc, wantEsc)
	}
	// Sensitive read and untrusted context at triage; billing holds refund, an external payment.
	wantX := []Exfiltration{
		{Chain: []string{"triage", "billing"}, Modes: []string{"delegate"}, SensitiveRead: "triage", Egress: "billing", Capability: "payments.refund"},
		{Chain: []string{"triage", "billing", "notifier"}, Modes: []string{"delegate", "forward_credentials"}, SensitiveRead: "triage", Egress: "notifier", Capability: "inbox.reply"},
	}
	if len(r.Exfiltration) != len(wantX) {
		t.Fatalf("exfiltration = %+v, want %+v", r.Exfiltration, wantX)
	}
	for i := range wantX {
		g, w := r.Exfiltration[i], wantX[i]
		if !slices.Equal(g.Chain, w.Chain) || !slices.Equal(g.Modes, w.Modes) || g.SensitiveRead != w.SensitiveRead || g.Egress != w.Egress || g.Capability != w.Capability ||
			g.Runtime != policy.FlowNeedsApproval {
			t.Errorf("exfiltration[%d] = %+v, want %+v", i, g, w)
		}
	}
	// What the runtime flow rule does to each path follows settings.flow and the opt-outs.
	p := refunds()
	p.Settings.Flow.OnEgress = policy.FlowDeny
	p.Agent("notifier").FlowExempt = "mails the ticket's sender only"
	r = run1(t, p, &policy.Scenario{Name: "mail", Start: "triage"})
	if len(r.Exfiltration) != 2 || r.Exfiltration[0].Runtime != policy.FlowDeny || r.Exfiltration[1].Runtime != policy.FlowExempt {
		t.Errorf("with on_egress deny and an exempt notifier: %+v", r.Exfiltration)
	}
	// The threshold rule still matches; "money" only for the notifier; "billing-closes" never
	// (billing does not hold tickets.close on any chain).
	wantA := []ApprovalNeed{
		{Capability: "payments.refund", Rules: []string{"money", "refunds"}, Agents: []string{"billing", "notifier"}},
	}
	if len(r.Approvals) != 1 || r.Approvals[0].Capability != wantA[0].Capability ||
		!slices.Equal(r.Approvals[0].Rules, wantA[0].Rules) || !slices.Equal(r.Approvals[0].Agents, wantA[0].Agents) {
		t.Errorf("approvals = %+v, want %+v", r.Approvals, wantA)
	}
	if !slices.Equal(r.NeedsApproval, []string{"payments.refund"}) {
		t.Errorf("needs_approval = %v", r.NeedsApproval)
	}
	if !r.Passed || r.Checked || len(r.Failures) != 0 {
		t.Errorf("passed=%v checked=%v failures=%v", r.Passed, r.Checked, r.Failures)
	}
}

func TestExpectMessages(t *testing.T) {
	sc := &policy.Scenario{Name: "mail", Start: "triage", Expect: &policy.Expect{
		Escalations:   intp(3),
		Reachable:     []string{"payments.refund", "fraud.nope"},
		Unreachable:   []string{"tickets.close", "payments.get_charge"},
		NeedsApproval: []string{"tickets.close", "inbox.read"},
		Exfiltration:  boolp(false),
	}}
	p := refunds()
	p.Scenarios = []*policy.Scenario{sc}
	r := run1(t, p, sc)
	want := []string{
		"expected 3 escalations, got 4: + inbox.reply via triage -delegate-> billing -forward_credentials-> notifier, + payments.get_charge via triage -delegate-> billing, + payments.refund via triage -delegate-> billing, + tickets.close via triage -delegate-> billing -forward_credentials-> notifier",
		"expected fraud.nope reachable, but it is not a declared capability",
		"expected tickets.close unreachable, got it via triage -delegate-> billing -forward_credentials-> notifier",
		"expected payments.get_charge unreachable, got it via triage -delegate-> billing",
		"expected needs_approval [inbox.read, tickets.close], got [payments.refund]: - inbox.read (no approval rule matches it), - tickets.close (no approval rule matches it), + payments.refund (rules money, refunds)",
		"expected no exfiltration, got 2 paths: + payments.refund via triage -delegate-> billing (sensitive read at triage; runtime: needs_approval), + inbox.reply via triage -delegate-> billing -forward_credentials-> notifier (sensitive read at triage; runtime: needs_approval)",
	}
	if !slices.Equal(r.Failures, want) {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(r.Failures, "\n"), strings.Join(want, "\n"))
	}
	if r.Passed || !r.Checked {
		t.Errorf("passed=%v checked=%v", r.Passed, r.Checked)
	}

	// The all-attenuate what-if: nothing escalates, and the expectations say so.
	sc = &policy.Scenario{Name: "att", Start: "triage", WhatIf: &policy.WhatIf{HandoffMode: policy.ModeAttenuate}, Expect: &policy.Expect{
		Escalations: intp(0), Unreachable: []string{"payments.refund"}, NeedsApproval: []string{}, Exfiltration: boolp(true),
	}}
	r = run1(t, p, sc)
	want = []string{"expected exfiltration, got none"}
	if !slices.Equal(r.Failures, want) {
		t.Errorf("attenuate failures = %q, want %q", r.Failures, want)
	}
	sc.Expect.Escalations = intp(1)
	sc.Expect.Exfiltration = boolp(false)
	sc.Expect.Reachable = []string{"payments.refund"}
	sc.Expect.NeedsApproval = []string{"payments.refund"}
	r = run1(t, p, sc)
	want = []string{
		"expected 1 escalation, got 0",
		"expected payments.refund reachable, but no chain reaches it",
		"expected needs_approval [payments.refund], got []: - payments.refund (not reachable)",
	}
	if !slices.Equal(r.Failures, want) {
		t.Errorf("attenuate failures:\n%s\nwant:\n%s", strings.Join(r.Failures, "\n"), strings.Join(want, "\n"))
	}
}

func TestWhatIf(t *testing.T) {
	p := refunds()
	reach := func(sc *policy.Scenario) []string { return run1(t, p, sc).Reachable }

	// A compromised fraud agent acts with triage's authority plus its own.
	got := reach(&policy.Scenario{Name: "s", Start: "triage", WhatIf: &policy.WhatIf{
		Compromised: []string{"fraud"}, RemoveHandoffs: []policy.Edge{{From: "triage", To: "billing"}}}})
	if want := []string{"inbox.read", "payments.get_charge", "tickets.close", "tickets.read"}; !slices.Equal(got, want) {
		t.Errorf("compromised fraud: reach %v, want %v", got, want)
	}
	// Without the compromise, attenuation to fraud keeps only tickets.read.
	got = reach(&policy.Scenario{Name: "s", Start: "triage", WhatIf: &policy.WhatIf{
		RemoveHandoffs: []policy.Edge{{From: "triage", To: "billing"}}}})
	if want := []string{"inbox.read", "tickets.read"}; !slices.Equal(got, want) {
		t.Errorf("removed hand-off: reach %v, want %v", got, want)
	}
	// Revocation also masks an explicit authority.
	r := run1(t, p, &policy.Scenario{Name: "s", Start: "fraud",
		Authority: []*policy.Grant{{Tool: "payments", Actions: []string{"*"}}},
		WhatIf:    &policy.WhatIf{Revoke: []string{"payments.refund"}}})
	if want := []string{"payments.get_charge"}; !slices.Equal(r.Reachable, want) || len(r.Escalations) != 0 {
		t.Errorf("revoke: reach %v escalations %v, want %v and none", r.Reachable, r.Escalations, want)
	}
	// A compromised start adds its own capabilities to the authority: escalations of length 0.
	r = run1(t, p, &policy.Scenario{Name: "s", Start: "fraud", Authority: []*policy.Grant{},
		WhatIf: &policy.WhatIf{Compromised: []string{"fraud"}}})
	// Its modes are [] rather than nil, so JSON shows "modes": [].
	if len(r.Escalations) != 3 || !slices.Equal(r.Escalations[0].Chain, []string{"fraud"}) || r.Escalations[0].Modes == nil || len(r.Escalations[0].Modes) != 0 {
		t.Errorf("compromised start: %+v", r.Escalations)
	}
	// untrusted_input: false overrides only the task's own content: billing's read on the
	// external payments tool still makes the context untrusted, and get_charge is sensitive.
	r = run1(t, p, &policy.Scenario{Name: "s", Start: "billing", UntrustedInput: boolp(false)})
	if len(r.Exfiltration) != 2 || r.Exfiltration[0].Egress != "billing" || r.Exfiltration[1].Egress != "notifier" {
		t.Errorf("billing reads payments (external): want exfiltration at billing and notifier, got %+v", r.Exfiltration)
	}
	r = run1(t, p, &policy.Scenario{Name: "s", Start: "billing", UntrustedInput: boolp(false),
		WhatIf: &policy.WhatIf{Revoke: []string{"payments.get_charge"}}})
	if len(r.Exfiltration) != 0 {
		t.Errorf("no untrusted context, no sensitive read left: got %+v", r.Exfiltration)
	}

	for _, c := range []struct {
		w    policy.WhatIf
		want string
	}{
		{policy.WhatIf{Revoke: []string{"payments.nope"}}, `scenario s: what-if revoke: "payments.nope" is not a declared capability (tool.action)`},
		{policy.WhatIf{Compromised: []string{"ghost"}}, `scenario s: what-if compromised: no agent "ghost"`},
		{policy.WhatIf{HandoffMode: "share"}, `scenario s: what-if handoff_mode: "share" is not attenuate, delegate or forward_credentials`},
		{policy.WhatIf{RemoveHandoffs: []policy.Edge{{From: "billing", To: "triage"}}}, `scenario s: what-if remove_handoffs: no hand-off billing -> triage is declared`},
	} {
		_, err := Run(p, &policy.Scenario{Name: "s", Start: "triage", WhatIf: &c.w})
		if err == nil || err.Error() != c.want {
			t.Errorf("what-if %+v: err %v, want %s", c.w, err, c.want)
		}
	}
	if _, err := Run(p, &policy.Scenario{Name: "s", Start: "ghost"}); err == nil || err.Error() != `scenario s: start agent "ghost" is not defined` {
		t.Errorf("unknown start: %v", err)
	}
}

func TestCompare(t *testing.T) {
	p := refunds()
	e, err := NewEstate(p)
	if err != nil {
		t.Fatal(err)
	}
	declared := &policy.Scenario{Name: "s", Start: "triage", Expect: &policy.Expect{Escalations: intp(99)}}
	changed := WithWhatIf(declared, &policy.WhatIf{HandoffMode: policy.ModeAttenuate, Compromised: []string{"fraud"}})
	if changed.Expect != nil || declared.WhatIf != nil {
		t.Fatal("WithWhatIf must drop expectations and leave the original alone")
	}
	c, err := e.Compare(Baseline(declared), changed)
	if err != nil {
		t.Fatal(err)
	}
	var appeared, vanished []string
	for _, x := range c.Appeared {
		appeared = append(appeared, x.Capability+" via "+x.Via())
	}
	for _, x := range c.Vanished {
		vanished = append(vanished, x.Capability+" via "+x.Via())
	}
	if len(appeared) != 0 {
		t.Errorf("appeared = %q", appeared)
	}
	wantV := []string{
		"inbox.reply via triage -delegate-> billing -forward_credentials-> notifier",
		"payments.refund via triage -delegate-> billing",
	}
	if !slices.Equal(vanished, wantV) {
		t.Errorf("vanished = %q, want %q", vanished, wantV)
	}
	if !c.Baseline.Passed || !c.WhatIf.Passed {
		t.Error("compare runs carry no expectations")
	}
}

func TestMergeWhatIf(t *testing.T) {
	sc := &policy.Scenario{Name: "s", Start: "a", WhatIf: &policy.WhatIf{
		Compromised: []string{"b"}, Revoke: []string{"t.x"}, HandoffMode: policy.ModeDelegate,
		RemoveHandoffs: []policy.Edge{{From: "a", To: "b"}}}}
	got := WithWhatIf(sc, &policy.WhatIf{Compromised: []string{"c", "b"}, Revoke: []string{"t.y"},
		HandoffMode: policy.ModeAttenuate, RemoveHandoffs: []policy.Edge{{From: "a", To: "b"}, {From: "b", To: "c"}}}).WhatIf
	if !slices.Equal(got.Compromised, []string{"b", "c"}) || !slices.Equal(got.Revoke, []string{"t.x", "t.y"}) ||
		got.HandoffMode != policy.ModeAttenuate || len(got.RemoveHandoffs) != 2 {
		t.Errorf("merged = %+v", got)
	}
	if len(sc.WhatIf.Compromised) != 1 || sc.WhatIf.HandoffMode != policy.ModeDelegate {
		t.Errorf("original changed: %+v", sc.WhatIf)
	}
}

func TestGraph(t *testing.T) {
	p := refunds()
	g, err := NewGraph(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Agents) != 4 || len(g.Edges) != 3 || g.Edges[0] != (GraphEdge{From: "billing", To: "notifier", Mode: "forward_credentials"}) {
		t.Errorf("plain graph = %+v", g)
	}
	g, err = NewGraph(p, &policy.Scenario{Name: "s", Start: "triage", WhatIf: &policy.WhatIf{
		RemoveHandoffs: []policy.Edge{{From: "triage", To: "fraud"}}, Compromised: []string{"notifier"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantE := []GraphEdge{
		{From: "billing", To: "notifier", Mode: "forward_credentials", Escalation: true, Exfiltration: true},
		{From: "triage", To: "billing", Mode: "delegate", Escalation: true, Exfiltration: true},
		{From: "triage", To: "fraud", Mode: "attenuate", Removed: true},
	}
	if !slices.Equal(g.Edges, wantE) {
		t.Errorf("edges = %+v, want %+v", g.Edges, wantE)
	}
	byName := map[string]GraphAgent{}
	for _, a := range g.Agents {
		byName[a.Name] = a
	}
	if b := byName["billing"]; !slices.Equal(b.Gained, []string{"payments.get_charge", "payments.refund"}) || !b.Egress {
		t.Errorf("billing = %+v", b)
	}
	if n := byName["notifier"]; !n.Compromised || !slices.Equal(n.Gained, []string{"inbox.reply", "payments.get_charge", "payments.refund", "tickets.close"}) {
		t.Errorf("notifier = %+v", n)
	}
	if tr := byName["triage"]; !tr.Start || !tr.Untrusted || len(tr.Gained) != 0 {
		t.Errorf("triage = %+v", tr)
	}
	if f := byName["fraud"]; len(f.Gained) != 0 {
		t.Errorf("fraud = %+v", f)
	}
}

func TestMatchingApprovals(t *testing.T) {
	p := refunds()
	refund := p.Tool("payments").Action("refund")
	names := func(rs []*policy.Approval) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	if got := names(p.MatchingApprovals("billing", refund)); !slices.Equal(got, []string{"refunds"}) {
		t.Errorf("billing refund: %v", got)
	}
	if got := names(p.MatchingApprovals("notifier", refund)); !slices.Equal(got, []string{"money", "refunds"}) {
		t.Errorf("notifier refund: %v", got)
	}
	if got := names(p.MatchingApprovals("billing", p.Tool("tickets").Action("close"))); !slices.Equal(got, []string{"billing-closes"}) {
		t.Errorf("billing close: %v", got)
	}
	m := policy.Match{Effects: []string{}}
	if m.Selects("billing", refund) {
		t.Error("a present but empty list matches nothing")
	}
	m = policy.Match{Actions: []string{"payments.refunds", "payment.refund", "payments.refund"}}
	if !m.Selects("x", refund) {
		t.Error("actions list should match payments.refund")
	}
	m = policy.Match{Actions: []string{"payments.refunds", "paymentsXrefund"}}
	if m.Selects("x", refund) {
		t.Error("near misses must not match")
	}
}

func TestNoTools(t *testing.T) {
	p := &policy.Policy{
		Agents:   []*policy.Agent{{Name: "a"}, {Name: "b"}},
		Handoffs: []*policy.Handoff{{From: "a", To: "b", Mode: policy.ModeDelegate}, {From: "b", To: "a", Mode: policy.ModeAttenuate, Index: 1}},
	}
	p.Index()
	r := run1(t, p, &policy.Scenario{Name: "s", Start: "a", Expect: &policy.Expect{Escalations: intp(0), Exfiltration: boolp(false)}})
	if len(r.Reachable) != 0 || len(r.Escalations) != 0 || !r.Passed {
		t.Errorf("no tools: %+v", r)
	}
}

func TestJoinCapped(t *testing.T) {
	var items []string
	for i := range 23 {
		items = append(items, string(rune('a'+i)))
	}
	want := "a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, and 3 more (see -o json)"
	if got := joinCapped(items); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := joinCapped(items[:2]); got != "a, b" {
		t.Errorf("got %q", got)
	}
}

// TestWitnessConditions: a conditional grant counts as held (reach includes it) and its
// witness names the conditions; a conditional egress class counts as egress and the
// exfiltration witness names both.
func TestWitnessConditions(t *testing.T) {
	p := refunds()
	amount := &policy.Condition{Attribute: "amount", Op: policy.OpAtMost, Number: 100}
	domain := &policy.Condition{Attribute: "domain", Op: policy.OpNotIn, Values: []any{"acme.example"}}
	p.Agent("billing").Grants = []*policy.Grant{
		{Tool: "payments", Actions: []string{"get_charge"}},
		{Tool: "payments", Actions: []string{"refund"}, When: []*policy.Condition{amount}},
	}
	p.Tool("payments").Action("refund").Egress = &policy.FlowClass{Value: true, When: []*policy.Condition{domain}}
	r := run1(t, p, &policy.Scenario{Name: "mail", Start: "triage"})
	var esc []string
	for _, e := range r.Escalations {
		esc = append(esc, e.Capability+" via "+e.Via())
	}
	wantEsc := []string{
		"inbox.reply via triage -delegate-> billing -forward_credentials-> notifier",
		"payments.get_charge via triage -delegate-> billing",
		"payments.refund via triage -delegate-> billing (when amount at_most 100)",
		"tickets.close via triage -delegate-> billing -forward_credentials-> notifier",
	}
	if !slices.Equal(esc, wantEsc) {
		t.Errorf("escalations = %q, want %q", esc, wantEsc)
	}
	if len(r.Exfiltration) != 2 || r.Exfiltration[0].Capability != "payments.refund" ||
		!slices.Equal(r.Exfiltration[0].Conditions, []string{`egress when domain not_in ["acme.example"]`, "amount at_most 100"}) ||
		r.Exfiltration[1].Conditions != nil {
		t.Errorf("exfiltration = %+v", r.Exfiltration)
	}
	// egress: false removes the class: billing's refund is no longer a way out.
	p.Tool("payments").Action("refund").Egress = &policy.FlowClass{Value: false}
	r = run1(t, p, &policy.Scenario{Name: "mail", Start: "triage"})
	if len(r.Exfiltration) != 1 || r.Exfiltration[0].Egress != "notifier" {
		t.Errorf("with egress false: %+v", r.Exfiltration)
	}
}
