package compile_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixture is a small policy with tests; its strings are hostile on purpose.
func fixture() *policy.Policy {
	p := &policy.Policy{
		Settings: policy.Settings{MaxChainDepth: 3},
		Tools: []*policy.Tool{{Name: "payments", Description: "Pay \"}\n package evil", Actions: []*policy.Action{
			{Tool: "payments", Name: "refund", Effect: policy.EffectPayment, Data: policy.DataRegulated},
		}}},
		Agents: []*policy.Agent{
			{Name: "billing", Owner: "o\"wner\\ }", Description: "import future.keywords\n}", SpiffeID: "spiffe://acme.example/billing\"} else := true",
				Grants: []*policy.Grant{{Tool: "payments", Actions: []string{"refund"}, Resources: []string{"acc\"ounts/*", "ü\\n}"}}}},
			{Name: "triage", SpiffeID: "spiffe://acme.example/triage", Grants: []*policy.Grant{{Tool: "*", Actions: []string{"*"}}}},
		},
		Handoffs: []*policy.Handoff{{From: "triage", To: "billing", Mode: policy.ModeAttenuate}},
		Approvals: []*policy.Approval{{Name: "refunds", Match: policy.Match{Effects: []string{"payment"}},
			Threshold: &policy.Threshold{Attribute: "am\"ount}", Above: 50}, Require: policy.Require{Approvers: 1, Role: "finance \"lead\" }"}}},
	}
	id := "spiffe://acme.example/billing\"} else := true"
	p.Tests = []*policy.Test{
		{Name: "allow-small", Input: map[string]any{"agent": "billing", "identity": id, "tool": "payments", "action": "refund",
			"resource": "acc\"ounts/42", "attributes": map[string]any{"am\"ount}": 10}}, Expect: policy.TestExpect{Outcome: "allow"}},
		{Name: "big needs approval", Input: map[string]any{"agent": "billing", "identity": id, "tool": "payments", "action": "refund",
			"resource": "ü\\n}", "chain": []any{"triage", "billing"}, "attributes": map[string]any{"am\"ount}": 100}},
			Expect: policy.TestExpect{Outcome: "needs_approval", Code: "APPROVAL_REQUIRED"}},
		{Name: "default", Input: map[string]any{"agent": "billing\"}", "tool": "payments", "action": "refund"},
			Expect: policy.TestExpect{Outcome: "deny", Code: "UNKNOWN_AGENT"}},
		{Name: "default_2", Input: map[string]any{"agent": "billing", "identity": id, "tool": "payments", "action": "refund", "resource": "x"},
			Expect: policy.TestExpect{Outcome: "deny", Code: "RESOURCE_NOT_GRANTED"}},
	}
	p.Index()
	return p
}

func TestLibraryIsFormattedAndStrict(t *testing.T) {
	got, err := format.SourceWithOpts("agentctl.rego", compile.Library, format.Opts{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compile.Library) {
		t.Errorf("rego/agentctl.rego is not opa fmt-clean; formatted:\n%s", got)
	}
	b := compileBundle(t, fixture())
	c := ast.NewCompiler().WithStrict(true)
	mods := map[string]*ast.Module{}
	for _, m := range b.Modules {
		mods[m.Path] = m.Parsed
		if formatted, err := format.SourceWithOpts(m.Path, m.Raw, format.Opts{RegoVersion: ast.RegoV1}); err != nil || !bytes.Equal(formatted, m.Raw) {
			t.Errorf("%s is not opa fmt-clean (%v)", m.Path, err)
		}
	}
	if c.Compile(mods); c.Failed() {
		t.Errorf("strict compile: %v", c.Errors)
	}
}

func TestBundleIsDeterministic(t *testing.T) {
	b1, b2 := compileBundle(t, fixture()), compileBundle(t, fixture())
	a1, err := compile.Archive(b1)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := compile.Archive(b2)
	if !bytes.Equal(a1, a2) {
		t.Fatal("two compilations of one policy differ")
	}
	files := untar(t, a1)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"/.manifest", "/agentctl/decision.rego", "/agentctl/policy_test.rego", "/data.json"}
	if !slices.Equal(names, want) {
		t.Errorf("bundle files %v, want %v", names, want)
	}
	if !bytes.Equal(files["/agentctl/decision.rego"], compile.Library) {
		t.Error("bundle does not carry the library verbatim")
	}
	goldenFile(t, "fixture.manifest.golden", files["/.manifest"])
	goldenFile(t, "fixture.data.json.golden", files["/data.json"])
	goldenFile(t, "fixture_test.rego.golden", files["/agentctl/policy_test.rego"])

	changed := fixture()
	changed.Agents[0].Grants[0].Resources = nil
	changed.Index()
	if b3 := compileBundle(t, changed); b3.Manifest.Revision == b1.Manifest.Revision {
		t.Error("revision did not change with the policy")
	}
}

func untar(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) && !h.ModTime.IsZero() {
			t.Errorf("%s has a timestamp %v", h.Name, h.ModTime)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

// TestInjection compiles a policy whose strings hold quotes, backslashes, newlines, "}",
// Rego keywords and non-ASCII: the bundle must load, its generated tests pass, and both
// engines decide alike on those strings.
func TestInjection(t *testing.T) {
	ctx := context.Background()
	p := fixture()
	b := compileBundle(t, p)
	if err := compile.Verify(ctx, p, b); err != nil {
		t.Fatal(err)
	}
	results, err := compile.RunTests(ctx, p, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s: %s", r.Test.Name, r.Why)
		}
	}
	e := newEngine(t, p)
	for _, s := range []string{`"`, `\`, "\n", "}", "import", "default", "else := true", "ü", `acc"ounts/x`, "ü\\n}", "spiffe://acme.example/billing\"} else := true"} {
		for _, field := range []string{"agent", "identity", "resource", "task", "tool", "action"} {
			in := map[string]any{"agent": "billing", "tool": "payments", "action": "refund", "identity": "spiffe://acme.example/billing\"} else := true"}
			in[field] = s
			agree(t, p, e, roundTrip(t, in), map[string]any{"agents": map[string]any{s: true}, "tasks": map[string]any{s: true}})
		}
	}
}

func TestGeneratedTestsFail(t *testing.T) {
	p := fixture()
	p.Tests[0].Expect = policy.TestExpect{Outcome: "deny", Code: "REVOKED"}
	b := compileBundle(t, p)
	failed, err := compile.RegoTests(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"test_allow_small"}; !slices.Equal(failed, want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	if err := compile.Verify(context.Background(), p, b); err == nil || !strings.Contains(err.Error(), "test_allow_small") {
		t.Errorf("Verify: %v", err)
	}
}

func TestTestRuleNames(t *testing.T) {
	tests := []*policy.Test{{Name: "A b"}, {Name: "a-b"}, {Name: "a_b"}, {Name: "zoë"}}
	got := compile.TestRuleNames(tests)
	want := []string{"test_a_b", "test_a_b_2", "test_a_b_3", "test_zo_"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	testtool.Golden(t, filepath.Join("testdata", name), got, *update)
}

// TestWildcardGrantsUnexpanded: a grant on every tool is kept as written, so an agent's
// compiled data does not grow with the number of tools (it used to hold every capability).
func TestWildcardGrantsUnexpanded(t *testing.T) {
	p := &policy.Policy{}
	for i := range 200 {
		name := fmt.Sprintf("tool%d", i)
		tool := &policy.Tool{Name: name}
		for _, a := range []string{"read", "write"} {
			tool.Actions = append(tool.Actions, &policy.Action{Tool: name, Name: a, Effect: a, Data: "internal"})
		}
		p.Tools = append(p.Tools, tool)
	}
	p.Agents = []*policy.Agent{{Name: "root", Grants: []*policy.Grant{
		{Tool: "*", Actions: []string{"*"}},
		{Tool: "*", Actions: []string{"read"}, Resources: []string{"docs/*"}},
		{Tool: "tool7", Actions: []string{"write"}},
	}}}
	p.Index()
	b := compileBundle(t, p)
	got, err := json.Marshal(b.Data[compile.ModelRoot].(map[string]any)["agents"].(map[string]any)["root"])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"any_tool":{"*":{"all":true,"patterns":[]},"read":{"all":false,"patterns":["(?s)^docs/.*$"]}},"caps":{"tool7.write":{"all":true,"patterns":[]}},"untrusted_input":false}`
	if string(got) != want {
		t.Errorf("agent root compiles to\n%s\nwant\n%s", got, want)
	}
}
