package replay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/replay"
)

// TestRecordedOutcome: a call the replayed policy says needs approval counts in
// session.actions (and leaves its labels) only if it ran: a gateway span records whether it
// did (agentctl.decision.outcome allow), and a span without an outcome is taken to have run.
// A call the recording shows was not run, and that is not replayable, is not counted either.
func TestRecordedOutcome(t *testing.T) {
	dir := t.TempDir()
	const pol = `package p
agents: assistant: grants: [{tool: "kb", actions: ["search", "send"]}]
tools: kb: {auth: kind: "workload_identity", actions: {search: effect: "read", send: effect: "write"}}
approvals: sends: {match: actions: ["kb.send"], require: role: "lead", timeout: "1h"}
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, dir)
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i, c := range []struct{ tool, recorded string }{
		{"kb.send", "needs_approval"}, // waited for a human who never came: not run
		{"kb.search", "allow"},
		{"kb.send", "allow"}, // approved, then run
		{"kb.search", "allow"},
		{"kb.send", ""}, // no outcome recorded: the recording shows it, so it ran
		{"kb.search", "allow"},
		{"kb.send", "deny"},
		{"crm.delete", "deny"},  // not replayable, and not run
		{"crm.delete", "allow"}, // not replayable, and run
		{"kb.search", "allow"},
	} {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
		sp.SetName("execute_tool " + c.tool)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		a := sp.Attributes()
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("gen_ai.tool.name", c.tool)
		a.PutStr("gen_ai.agent.name", "assistant")
		a.PutStr("gen_ai.conversation.id", "c1")
		if c.recorded != "" {
			a.PutStr("agentctl.decision.outcome", c.recorded)
		}
	}
	raw, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := replay.NewDecider(ctx, p, replay.EngineGo)
	if err != nil {
		t.Fatal(err)
	}
	rp := replay.New(replay.Side{Policy: p, Decider: d}, nil)
	var got []string
	err = replay.Read(strings.NewReader(string(raw)+"\n"), "t", replay.ReadOptions{}, func(c replay.Call) error {
		r, err := rp.Decide(ctx, c)
		if err != nil {
			return err
		}
		if r.Decision == nil {
			got = append(got, fmt.Sprintf("%s %s", c.Name, r.NotReplayable))
		} else {
			got = append(got, fmt.Sprintf("%s %s actions=%v", c.Name, r.Outcome(), r.Request["session"].(map[string]any)["actions"]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kb.send needs_approval actions=0",
		"kb.search allow actions=0",
		"kb.send needs_approval actions=1",
		"kb.search allow actions=2",
		"kb.send needs_approval actions=3",
		"kb.search allow actions=4",
		"kb.send needs_approval actions=5",
		"crm.delete unknown tool",
		"crm.delete unknown tool",
		"kb.search allow actions=6",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
