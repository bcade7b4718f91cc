package replay_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/replay"
)

// TestFlowLabelsThreaded replays sessions call by call: the labels each decision returns
// are what the next request of the session carries, so an exfiltration sequence is stopped
// at its egress, a denied call (which never ran) leaves the labels as they were, and another
// session starts clean.
func TestFlowLabelsThreaded(t *testing.T) {
	dir := t.TempDir()
	const pol = `package p
settings: flow: on_egress: "deny"
agents: {
	assistant: grants: [{tool: "web", actions: ["fetch"]}, {tool: "mail", actions: ["send"]}, {tool: "db", actions: ["read_public", "read_secret"]}]
	intern: grants: [{tool: "db", actions: ["read_public"]}]
}
tools: {
	web: {external: true, auth: kind: "workload_identity", actions: fetch: effect: "read"}
	mail: {external: true, auth: kind: "workload_identity", actions: send: effect: "write"}
	db: {auth: kind: "workload_identity", actions: {read_secret: {effect: "read", data: "confidential"}, read_public: {effect: "read", data: "public"}}}
}
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, dir)
	calls := []struct{ session, agent, tool, want string }{
		{"s1", "assistant", "mail.send", "allow -"},                               // egress, no labels
		{"s1", "assistant", "web.fetch", "allow -"},                               // external read: untrusted after
		{"s1", "intern", "db.read_secret", "deny untrusted"},                      // not granted: never ran
		{"s1", "assistant", "mail.send", "allow untrusted"},                       // still only untrusted
		{"s1", "assistant", "db.read_public", "allow untrusted"},                  // public: not sensitive
		{"s2", "assistant", "mail.send", "allow -"},                               // another session: clean
		{"s3", "assistant", "web.fetch", "allow -"},                               //
		{"s3", "assistant", "db.read_secret", "allow untrusted"},                  // sensitive after
		{"s3", "assistant", "mail.send", "deny untrusted+sensitive FLOW_BLOCKED"}, // the exfiltration
	}
	var log strings.Builder
	for i, c := range calls {
		fmt.Fprintf(&log, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"_meta":{"agentctl/agent":%q,"agentctl/session":%q}}}`+"\n",
			i, c.tool, c.agent, c.session)
	}
	results := replayLog(t, p, replay.EngineGo, "mcp", strings.NewReader(log.String()))
	if len(results) != len(calls) {
		t.Fatalf("replayed %d calls of %d", len(results), len(calls))
	}
	for i, r := range results {
		got := r.Outcome() + " " + flowText(r.Request["session"].(map[string]any)["flow"].(map[string]any))
		for _, x := range r.Decision.Reasons {
			if x.Code == "FLOW_BLOCKED" {
				got += " FLOW_BLOCKED"
			}
		}
		if got != calls[i].want {
			t.Errorf("call %d (%s %s in %s): got %q, want %q", i, calls[i].agent, calls[i].tool, calls[i].session, got, calls[i].want)
		}
	}
}

func flowText(f map[string]any) string {
	var l []string
	for _, k := range []string{"untrusted", "sensitive"} {
		if f[k] == true {
			l = append(l, k)
		}
	}
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, "+")
}

// TestPinnedToolNames: a recording names an imported MCP tool as the server does; the pin
// records that name, so it maps to the action `import mcp` wrote (getCharge -> get_charge).
// A server name two pinned actions share stays ambiguous.
func TestPinnedToolNames(t *testing.T) {
	dir := t.TempDir()
	const hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	pin := func(tool string) string {
		return fmt.Sprintf(`pin: {tool: %q, description: %q, input_schema: %q, hints: {read_only: true, destructive: false, idempotent: false, open_world: true}}`, tool, hash, hash)
	}
	pol := `package p
agents: clerk: grants: [{tool: "stripe", actions: ["get_charge"]}, {tool: "a", actions: ["list"]}, {tool: "b", actions: ["list"]}]
tools: {
	stripe: {source: "mcp", auth: kind: "workload_identity", actions: get_charge: {effect: "read", ` + pin("getCharge") + `}}
	a: {source: "mcp", auth: kind: "workload_identity", actions: list: {effect: "read", ` + pin("list.items") + `}}
	b: {source: "mcp", auth: kind: "workload_identity", actions: list: {effect: "read", ` + pin("list.items") + `}}
}
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, dir)
	want := map[string]string{
		"getCharge":  "allow stripe.get_charge",
		"get_charge": "allow stripe.get_charge",
		"list.items": "not_replayable ambiguous tool",
		"getRefund":  "not_replayable unknown tool",
	}
	var log strings.Builder
	for _, name := range []string{"getCharge", "get_charge", "list.items", "getRefund"} {
		fmt.Fprintf(&log, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"_meta":{"agentctl/agent":"clerk"}}}`+"\n", name)
	}
	results := replayLog(t, p, replay.EngineGo, "mcp", strings.NewReader(log.String()))
	if len(results) != len(want) {
		t.Fatalf("replayed %d calls of %d", len(results), len(want))
	}
	for _, r := range results {
		got := r.Outcome() + " " + r.NotReplayable
		if r.Decision != nil {
			got = r.Outcome() + " " + r.Request["tool"].(string) + "." + r.Request["action"].(string)
		}
		if got != want[r.Call.Name] {
			t.Errorf("%s: got %q, want %q", r.Call.Name, got, want[r.Call.Name])
		}
	}
}

// TestConditionAttributes replays calls to an action whose grant has conditions and that
// maps no arguments: the attributes the conditions test come from the arguments of the same
// name, and the flow sources of one decision are echoed by the next request of the session.
func TestConditionAttributes(t *testing.T) {
	dir := t.TempDir()
	const pol = `package p
settings: flow: integrity: on: "deny"
agents: assistant: grants: [{tool: "web", actions: ["fetch"]}, {tool: "bank", actions: ["pay"], when: [{attribute: "recipient", in: ["acme"]}]}]
tools: {
	web: {external: true, auth: kind: "workload_identity", actions: fetch: effect: "read"}
	bank: {auth: kind: "workload_identity", actions: pay: effect: "payment"}
}
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, dir)
	calls := []struct{ tool, args, want string }{
		{"bank.pay", `{"recipient":"acme","memo":"rent"}`, "allow"},
		{"bank.pay", `{"recipient":"evil"}`, "deny CONDITION_NOT_MET"},
		{"web.fetch", `{"url":"https://example.com"}`, "allow"},
		{"bank.pay", `{"recipient":"acme"}`, "deny INTEGRITY_BLOCKED sources web.fetch"},
	}
	var log strings.Builder
	for i, c := range calls {
		fmt.Fprintf(&log, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s,"_meta":{"agentctl/agent":"assistant","agentctl/session":"s1"}}}`+"\n",
			i, c.tool, c.args)
	}
	results := replayLog(t, p, replay.EngineGo, "mcp", strings.NewReader(log.String()))
	if len(results) != len(calls) {
		t.Fatalf("replayed %d calls of %d", len(results), len(calls))
	}
	for i, r := range results {
		got := r.Outcome()
		if len(r.Decision.Reasons) > 0 {
			got += " " + r.Decision.Reasons[0].Code
		}
		if src, ok := r.Request["session"].(map[string]any)["flow"].(map[string]any)["sources"].(map[string]any); ok {
			got += fmt.Sprintf(" sources %v", src["untrusted"].([]any)...)
		}
		if got != calls[i].want {
			t.Errorf("call %d (%s %s): got %q, want %q (request %v)", i, calls[i].tool, calls[i].args, got, calls[i].want, r.Request)
		}
		if attrs, _ := r.Request["attributes"].(map[string]any); calls[i].tool == "bank.pay" && (len(attrs) != 1 || attrs["recipient"] == nil) {
			t.Errorf("call %d: attributes %v, want only the recipient", i, attrs)
		}
	}
}
