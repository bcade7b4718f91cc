package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/replay"
)

// TestRefusedHandoffTrace: hand-offs the gateway refuses after the task record verified
// (CHAIN_TOO_DEEP; BAD_ARGUMENTS for a receiver that is no string) are written to the
// trace file as invoke_agent spans inside the task's chain, and agentctl replay reads each
// back as a not replayable agentctl.handoff call of its sender, in the task's session, with
// the refusal's code and message. No npm server is needed: it runs on every machine.
func TestRefusedHandoffTrace(t *testing.T) {
	e := newWebEstate(t)
	e.setPolicy(t, webPolicy+`
settings: max_chain_depth: 1
handoffs: [{from: "researcher", to: "writer", mode: "delegate"}, {from: "writer", to: "researcher", mode: "delegate"}]
`)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "traces.jsonl")
	tel, err := gateway.NewTelemetry(ctx, gateway.TelemetryConfig{File: file})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := gateway.NewSigner(time.Hour)
	id := gateway.NewIdentity(e.p)
	id.InsecureDev = true
	gw, err := gateway.New(ctx, gateway.Config{Policy: e.p, PDP: allowAll{}, Upstreams: []gateway.Upstream{{Tool: "web", URL: e.web.url}},
		Identity: id, Signer: signer, Sessions: gateway.NewSessions(10, time.Hour), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	h := httptest.NewServer(gw.Handler())
	t.Cleanup(h.Close)
	researcher := connectWith(t, "researcher", h.URL, &http.Client{Transport: devHeader{"researcher", http.DefaultTransport}})
	writer := connectWith(t, "writer", h.URL, &http.Client{Transport: devHeader{"writer", http.DefaultTransport}})
	rec, tok, _ := gw.StartTask("researcher")

	res, err := researcher.call(ctx, tok, gateway.HandoffTool, map[string]any{"to": "writer"})
	if err != nil || res.IsError {
		t.Fatalf("hand-off: %s", outcome(t, res, err))
	}
	handed := res.StructuredContent.(map[string]any)["record"].(string)
	var got []string
	for _, args := range []map[string]any{{"to": "researcher"}, {"to": 7}} {
		res, err := writer.call(ctx, handed, gateway.HandoffTool, args)
		got = append(got, outcome(t, res, err))
	}
	if want := []string{"deny CHAIN_TOO_DEEP", "deny BAD_ARGUMENTS"}; !slices.Equal(got, want) {
		t.Fatalf("the gateway answered %q, want %q", got, want)
	}
	gw.Close() // flushes the spans

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got = nil
	rp := replay.New(replay.Side{Policy: e.p, Decider: nil}, nil)
	err = replay.Read(f, file, replay.ReadOptions{}, func(c replay.Call) error {
		r, err := rp.Decide(ctx, c)
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("%s %s %v session=%t args=%v: %s: %s", c.Agent, c.Name, c.Chain, c.Session == rec.Task, c.Arguments, r.NotReplayable, r.Detail))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`writer agentctl.handoff [researcher writer] session=true args=map[to:researcher]: refused before the decision: the gateway refused the hand-off (replay decides tool calls, not hand-offs): CHAIN_TOO_DEEP: the chain would have 2 hand-offs; settings.max_chain_depth is 1`,
		`writer agentctl.handoff [researcher writer] session=true args=map[]: refused before the decision: the gateway refused the hand-off (replay decides tool calls, not hand-offs): BAD_ARGUMENTS: the argument "to" must be the name of the receiving agent`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("replayed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
