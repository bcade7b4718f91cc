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

// TestGatewayRefusals: a tool span agentctl gateway wrote for a call it refused before
// asking the policy (its only reason a task record or arguments code) is not replayable,
// says why, and does not count as an action of its session; a span whose reasons are the
// policy's is decided as any other.
func TestGatewayRefusals(t *testing.T) {
	dir := t.TempDir()
	const pol = `package p
agents: assistant: grants: [{tool: "kb", actions: ["search"]}]
tools: kb: {auth: kind: "workload_identity", actions: search: effect: "read"}
`
	if err := os.WriteFile(filepath.Join(dir, "p.cue"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, dir)
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i, reasons := range [][]string{
		nil,
		{"TASK_RECORD_INVALID"},
		{"TASK_RECORD_REQUIRED"},
		{"BAD_ARGUMENTS"},
		{"TASK_RECORD_INVALID", "REVOKED"}, // not the gateway's refusal alone: decided
		{"NOT_GRANTED"},
		nil,
	} {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
		sp.SetName("execute_tool kb.search")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		a := sp.Attributes()
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("gen_ai.tool.name", "kb.search")
		a.PutStr("gen_ai.agent.name", "assistant")
		a.PutStr("gen_ai.conversation.id", "c1")
		if reasons != nil {
			codes, msgs := a.PutEmptySlice("agentctl.decision.reasons"), a.PutEmptySlice("agentctl.decision.messages")
			for _, r := range reasons {
				codes.AppendEmpty().SetStr(r)
				msgs.AppendEmpty().SetStr("why " + r)
			}
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
			got = append(got, fmt.Sprintf("%s: %s", r.NotReplayable, r.Detail))
		} else {
			got = append(got, fmt.Sprintf("%s actions=%v", r.Outcome(), r.Request["session"].(map[string]any)["actions"]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"allow actions=0",
		"refused before the decision: the gateway refused it before asking the policy, so no policy decides it: TASK_RECORD_INVALID: why TASK_RECORD_INVALID",
		"refused before the decision: the gateway refused it before asking the policy, so no policy decides it: TASK_RECORD_REQUIRED: why TASK_RECORD_REQUIRED",
		"refused before the decision: the gateway refused it before asking the policy, so no policy decides it: BAD_ARGUMENTS: why BAD_ARGUMENTS",
		"allow actions=1",
		"allow actions=2",
		"allow actions=3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
