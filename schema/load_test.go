package schema

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/policy"
)

func mustLoad(t *testing.T, dir string) *policy.Policy {
	t.Helper()
	p, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", dir, err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	p := mustLoad(t, "testdata/minimal")
	want := policy.Settings{RiskTier: "high", MaxCredentialTTL: time.Hour, MaxChainDepth: 3,
		Audit: policy.Audit{ToolCalls: true, Approvals: true, Chains: true},
		Flow:  policy.FlowSettings{OnEgress: "needs_approval", Role: "security-reviewer", Approvers: 1}}
	if p.Settings != want {
		t.Errorf("settings = %+v, want %+v", p.Settings, want)
	}
	a := p.Agent("solo")
	if a.Autonomy != "supervised" || a.UntrustedInput || a.Credential != nil || a.Session != nil || a.SpiffeID != "" || a.FlowExempt != "" {
		t.Errorf("agent defaults = %+v", a)
	}
	g := a.Grants[0]
	if g.JIT || !g.AllResources() || g.Path != "agents.solo.grants[0]" {
		t.Errorf("grant defaults = %+v", g)
	}
	act := p.Tool("kb").Action("search")
	if act.Data != "internal" || p.Tool("kb").Source != "internal" || p.Tool("kb").External {
		t.Errorf("tool defaults = %+v %+v", p.Tool("kb"), act)
	}
	if got, want := p.Files, []string{"testdata/minimal/policy.cue"}; !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestLoadFull(t *testing.T) {
	p := mustLoad(t, "testdata/full")
	const f = "testdata/full/policy.cue"
	if p.Settings.RiskTier != "low" || p.Settings.MaxCredentialTTL != 30*time.Minute || p.Settings.Audit.Chains || !p.Settings.Audit.ToolCalls {
		t.Errorf("settings = %+v", p.Settings)
	}
	if want := (policy.FlowSettings{OnEgress: "deny", Role: "Data-Owner", Approvers: 2}); p.Settings.Flow != want {
		t.Errorf("settings.flow = %+v, want %+v", p.Settings.Flow, want)
	}
	if got := p.Agent("billing").FlowExempt; got != "refunds go to the customer's own account only" {
		t.Errorf("billing flow_exempt = %q", got)
	}
	if got := p.Tool("mail").Action("send").FlowExempt; got != "replies only to the ticket's sender" || p.Tool("mail").Action("read").FlowExempt != "" {
		t.Errorf("mail.send flow_exempt = %q", got)
	}
	tr := p.Agent("triage")
	if tr.Description != "Reads mail" || tr.SpiffeID != "spiffe://acme.example/agents/triage" || !tr.UntrustedInput || tr.Autonomy != "autonomous" {
		t.Errorf("triage = %+v", tr)
	}
	if c := tr.Credential; c.Kind != "static" || c.Scope != "task" || !c.HasTTL || c.TTL != 2*time.Hour || !c.RevokeOnTaskEnd {
		t.Errorf("credential = %+v", c)
	}
	if s := tr.Session; s.MaxActions != 50 || !s.HasMaxDuration || s.MaxDuration != 10*time.Minute {
		t.Errorf("session = %+v", s)
	}
	g := tr.Grants[1]
	if g.Tool != "*" || !reflect.DeepEqual(g.Actions, []string{"*"}) || !reflect.DeepEqual(g.Resources, []string{"tickets/*"}) || !g.JIT {
		t.Errorf("grant = %+v", g)
	}
	if rg := p.Agent("billing").Grants[0]; rg.Resources == nil || len(rg.Resources) != 0 {
		t.Errorf("resources: [] must mean no resource, got %#v", rg.Resources)
	}
	mail := p.Tool("mail")
	if mail.Source != "mcp" || !mail.External || mail.Auth.Kind != "shared_token" || mail.Auth.TTL != 24*time.Hour {
		t.Errorf("mail = %+v", mail)
	}
	if a := mail.Action("send"); a.Effect != "export" || a.Data != "internal" {
		t.Errorf("mail.send = %+v", a)
	}
	wantArgs := &policy.Arguments{Resource: "charge.id", Attributes: map[string]string{"amount": "amount_eur"}}
	if a := p.Tool("payments").Action("refund"); !reflect.DeepEqual(a.Arguments, wantArgs) || mail.Action("send").Arguments != nil {
		t.Errorf("payments.refund arguments = %+v", a.Arguments)
	}
	wantPin := &policy.Pin{Version: 1, Tool: "read-mail", Description: "sha256:" + strings.Repeat("0", 64), InputSchema: "sha256:" + strings.Repeat("1", 64),
		Hints: policy.Hints{ReadOnly: true, Idempotent: true, OpenWorld: true}, Pos: policy.Pos{File: f, Line: 68, Col: 29}}
	if got := mail.Action("read").Pin; !reflect.DeepEqual(got, wantPin) || mail.Action("send").Pin != nil {
		t.Errorf("mail.read.pin = %+v, want %+v", got, wantPin)
	}
	if h := p.Handoffs[0]; *h != (policy.Handoff{From: "triage", To: "billing", Mode: "delegate", Index: 0, Pos: policy.Pos{File: f, Line: 41, Col: 12}}) {
		t.Errorf("handoff = %+v", h)
	}
	ap := p.Approvals[0]
	if ap.Name != "refunds" || !reflect.DeepEqual(ap.Match.Effects, []string{"payment"}) || ap.Match.Tools != nil ||
		*ap.Threshold != (policy.Threshold{Attribute: "amount", Above: 100.5}) || ap.Require != (policy.Require{Approvers: 2, Role: "finance-lead"}) || ap.Timeout != time.Hour {
		t.Errorf("approval = %+v", ap)
	}
	sc := p.Scenarios[0]
	if sc.Start != "triage" || sc.UntrustedInput == nil || *sc.UntrustedInput || len(sc.Authority) != 1 || sc.Authority[0].Path != "scenarios.hijack.authority[0]" {
		t.Errorf("scenario = %+v", sc)
	}
	wantWhatIf := &policy.WhatIf{Compromised: []string{"billing"}, RemoveHandoffs: []policy.Edge{{From: "triage", To: "billing"}},
		HandoffMode: "attenuate", Revoke: []string{"payments.refund"}}
	if !reflect.DeepEqual(sc.WhatIf, wantWhatIf) {
		t.Errorf("what_if = %+v", sc.WhatIf)
	}
	if e := sc.Expect; *e.Escalations != 0 || *e.Exfiltration || !reflect.DeepEqual(e.Reachable, []string{"mail.read"}) || e.Unreachable != nil {
		t.Errorf("expect = %+v", e)
	}
	tc := p.Tests[0]
	wantIn := map[string]any{"agent": "billing", "tool": "payments", "action": "refund", "attributes": map[string]any{"amount": 12.0}}
	if tc.Name != "refund_ok" || !reflect.DeepEqual(tc.Input, wantIn) || tc.Expect != (policy.TestExpect{Outcome: "allow"}) {
		t.Errorf("test = %+v", tc)
	}

	// Positions are the user's, never the schema's.
	for path, want := range map[string]policy.Pos{
		"agents.triage":                {File: f, Line: 9, Col: 9},
		"agents.triage.grants[1]":      {File: f, Line: 17, Col: 3},
		"agents.triage.credential.ttl": {File: f, Line: 19, Col: 31},
		"settings.audit.chains":        {File: f, Line: 6, Col: 9},
		"tools.mail.actions.send":      {File: f, Line: 33, Col: 3},
	} {
		if got := p.Pos(path); got != want {
			t.Errorf("Pos(%s) = %v, want %v", path, got, want)
		}
	}
	if got, want := tr.Grants[1].Pos, (policy.Pos{File: f, Line: 17, Col: 3}); got != want {
		t.Errorf("grant pos = %v, want %v", got, want)
	}

	wantIgnores := []policy.Ignore{
		{Path: "settings.audit.chains", Check: "AC050", Reason: "chains are audited by the gateway", Pos: policy.Pos{File: f, Line: 6, Col: 23}},
		{Path: "agents.triage", Check: "AC051", Pos: policy.Pos{File: f, Line: 10, Col: 2}},
		{Path: "agents.billing", Check: "AC001", Reason: "identity is issued by the mesh", Pos: policy.Pos{File: f, Line: 25, Col: 3}},
	}
	if !reflect.DeepEqual(p.Ignores, wantIgnores) {
		t.Errorf("ignores =\n%+v\nwant\n%+v", p.Ignores, wantIgnores)
	}
}

// A file name is user text too: an error in it cannot split or reorder the line.
func TestLoadErrorEscapesFileName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x\n\u202ey.cue"), []byte("agents: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	want := filepath.Join(dir, `x\n\u202ey.cue`) + ":1:9: agents: invalid value 5 (want a struct)"
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %s", err, want)
	}
}

// TestLoadFlowErrors: an opt-out says why, and roles have a canonical form (approvals compare
// roles so), each reported at the element.
func TestLoadFlowErrors(t *testing.T) {
	dir := t.TempDir()
	src := `package p
settings: flow: role: "security reviewer"
tools: t: {auth: kind: "workload_identity", actions: a: {effect: "write", flow_exempt: " "}}
agents: a: {flow_exempt: "", grants: []}
approvals: r: require: role: "zoë-team"
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`p.cue:2:17: settings.flow.role: role "security reviewer" is not printable ASCII without spaces`,
		`p.cue:3:75: tools.t.actions.a.flow_exempt: empty reason`,
		`p.cue:4:13: agents.a.flow_exempt: empty reason`,
		`p.cue:5:24: approvals.r.require.role: role "zoë-team" is not printable ASCII without spaces`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestEvalBudget: a load over its budget returns an error naming the directory (the
// evaluation is abandoned: CUE cannot interrupt it); within it, the policy loads. LoadPair
// has the same budget over both versions.
func TestEvalBudget(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow")
	if err := os.Mkdir(slow, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package policy\n\nimport \"list\"\n\n_big: list.Range(0, 20000, 1)\n\nagents: bot: grants: []\n" // about a second: abandoned, it ends soon
	if err := os.WriteFile(filepath.Join(slow, "policy.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	minimal, err := filepath.Abs("testdata/minimal")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	want := "slow: evaluation stopped after 20ms, its budget (raise it with --eval-timeout or limits.evaluation_timeout in .agentctl.yaml): look for a large list, comprehension or recursion in its .cue files"
	if _, err := LoadWith("slow", Options{EvalTimeout: 20 * time.Millisecond}); err == nil || err.Error() != want {
		t.Errorf("LoadWith: %v\nwant %s", err, want)
	}
	wantPair := "slow and slow: evaluation stopped after 20ms"
	if _, _, _, err := LoadPairWith("slow", "slow", Options{EvalTimeout: 20 * time.Millisecond}); err == nil || !strings.HasPrefix(err.Error(), wantPair) {
		t.Errorf("LoadPairWith: %v\nwant %s...", err, wantPair)
	}
	if _, err := LoadWith(minimal, Options{EvalTimeout: time.Minute}); err != nil {
		t.Errorf("LoadWith(minimal): %v", err)
	}
}

// TestLoadSchemaAndRefErrors: a policy with a schema error and reference errors reports
// all of them in one load, sorted by position.
func TestLoadSchemaAndRefErrors(t *testing.T) {
	dir := t.TempDir()
	src := `package policy

tools: crm: {auth: kind: "workload_identity", actions: {read: {effect: "read"}}}
agents: {
	a: {owner: "t", autonomy: "sometimes", grants: [{tool: "crm", actions: ["read"]}]}
	b: {owner: "t", grants: [{tool: "nope", actions: ["read"]}]}
}
handoffs: [{from: "a", to: "zz", mode: "delegate"}]
`
	if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		got = append(got, line[strings.Index(line, ": ")+2:])
	}
	want := []string{
		`agents.a.autonomy: invalid value "sometimes" (want "autonomous" or "supervised")`,
		`agents.b.grants[0].tool: undefined tool "nope" (declared: "crm")`,
		`handoffs[0].to: undefined agent "zz" (did you mean "a"?)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A required field missing (a tool without auth) leaves the schema's errors alone.
	src = strings.Replace(src, `{auth: kind: "workload_identity", actions`, `{actions`, 1)
	if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || strings.Contains(err.Error(), "undefined") {
		t.Errorf("tool without auth: %v, want the schema errors only", err)
	}
}
