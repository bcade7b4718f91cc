package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentctl/agentctl/gateway"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/replay"
)

// otlpReceiver is a loopback OTLP/HTTP trace receiver, as the Collector's otlphttp receiver
// serves it: POST /v1/traces with a protobuf or JSON ExportTraceServiceRequest, answered in
// the same encoding. It keeps what it received.
type otlpReceiver struct {
	url string

	mu       sync.Mutex
	requests []ptraceotlp.ExportRequest
	types    []string // the content types received, in order
}

func startReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/v1/traces"
	return rc
}

func (rc *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, resp := ptraceotlp.NewExportRequest(), ptraceotlp.NewExportResponse()
	ct := r.Header.Get("Content-Type")
	var out []byte
	switch ct {
	case "application/x-protobuf":
		if err = req.UnmarshalProto(body); err == nil {
			out, err = resp.MarshalProto()
		}
	case "application/json":
		if err = req.UnmarshalJSON(body); err == nil {
			out, err = resp.MarshalJSON()
		}
	default:
		http.Error(w, "unsupported content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests = append(rc.requests, req)
	rc.types = append(rc.types, ct)
	rc.mu.Unlock()
	w.Header().Set("Content-Type", ct)
	w.Write(out)
}

// jsonLines is what was received as OTLP JSON lines, as the Collector's file exporter
// writes them.
func (rc *otlpReceiver) jsonLines(t *testing.T) []byte {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var b bytes.Buffer
	for _, req := range rc.requests {
		raw, err := req.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// spans are the received spans whose name starts with prefix.
func (rc *otlpReceiver) spans(prefix string) []ptrace.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []ptrace.Span
	for _, req := range rc.requests {
		rss := req.Traces().ResourceSpans()
		for i := range rss.Len() {
			sss := rss.At(i).ScopeSpans()
			for j := range sss.Len() {
				for k := range sss.At(j).Spans().Len() {
					if sp := sss.At(j).Spans().At(k); strings.HasPrefix(sp.Name(), prefix) {
						out = append(out, sp)
					}
				}
			}
		}
	}
	return out
}

func attr(sp ptrace.Span, key string) string {
	v, ok := sp.Attributes().Get(key)
	if !ok {
		return "<none>"
	}
	return v.AsString()
}

// TestOTLPExport exports the gateway's spans over OTLP/HTTP, in protobuf (the exporter's
// default) and in JSON (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json), to a receiver on
// loopback: allowed, denied and approval-bound calls, a hand-off and the receiver's calls,
// and calls refused before their task record verified. The spans are flushed when the
// gateway closes; written as OTLP JSON, agentctl replay reads them back and decides every
// call as the gateway did.
func TestOTLPExport(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	pdp, err := gateway.NewEmbedded(ctx, gateway.EmbeddedConfig(e.bundlePath), quietLogger(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdp.Close(context.Background()) })
	doc := filepath.Join(e.root, "docs", "plan.txt")
	secret := filepath.Join(e.root, "secret.txt")
	report := filepath.Join(e.root, "out", "report.txt")
	planted := filepath.Join(e.root, "docs", "planted.txt")

	for _, enc := range []struct{ name, protocol, contentType string }{
		{"protobuf", "", "application/x-protobuf"},
		{"json", "http/json", "application/json"},
	} {
		t.Run(enc.name, func(t *testing.T) {
			if enc.protocol != "" {
				t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", enc.protocol)
			}
			rc := startReceiver(t)
			log := &testtool.SyncBuffer{}
			tel, err := gateway.NewTelemetry(ctx, gateway.TelemetryConfig{Endpoint: rc.url, Arguments: true,
				Log: slog.New(slog.NewTextHandler(log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			gw, url := devGateway(t, e, pdp, func(c *gateway.Config) { c.Telemetry = tel })
			researcher, writer := devAgent(t, url, "researcher"), devAgent(t, url, "writer")
			rec, tok, _ := gw.StartTask("researcher")

			// What the gateway decided, call by call: "AGENT CAPABILITY OUTCOME CODES".
			var decided []string
			call := func(a *agent, record, tool string, args map[string]any) {
				res, err := a.call(ctx, record, tool, args)
				got := outcome(t, res, err)
				if strings.HasPrefix(got, "ok") {
					got = "allow"
				}
				decided = append(decided, fmt.Sprintf("%s %s %s", a.name, tool, strings.TrimSpace(got)))
			}
			call(researcher, tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
			call(researcher, tok, "files.read_text_file", map[string]any{"path": doc})
			call(researcher, tok, "web.send_message", map[string]any{"to": "evil@example.com", "body": "plan"})
			call(researcher, tok, "files.read_text_file", map[string]any{"path": secret})
			res, err := researcher.call(ctx, tok, gateway.HandoffTool, map[string]any{"to": "writer"})
			if err != nil || res.IsError {
				t.Fatalf("hand-off: %s", outcome(t, res, err))
			}
			handed := res.StructuredContent.(map[string]any)["record"].(string)
			call(writer, handed, "files.write_file", map[string]any{"path": report, "content": "report"})
			call(writer, handed, "files.write_file", map[string]any{"path": planted, "content": "x"})
			// Refused before a task is known: no record, and the researcher's record
			// presented by the writer.
			call(writer, "", "files.write_file", map[string]any{"path": report, "content": "x"})
			call(writer, tok, "files.write_file", map[string]any{"path": report, "content": "x"})
			want := []string{
				"researcher web.fetch_page allow",
				"researcher files.read_text_file allow",
				"researcher web.send_message needs_approval FLOW_BLOCKED",
				"researcher files.read_text_file deny RESOURCE_NOT_GRANTED",
				"writer files.write_file allow",
				"writer files.write_file deny RESOURCE_NOT_GRANTED",
				"writer files.write_file deny TASK_RECORD_REQUIRED",
				"writer files.write_file deny TASK_RECORD_INVALID",
			}
			if !slices.Equal(decided, want) {
				t.Fatalf("the gateway decided:\n%s\nwant:\n%s", strings.Join(decided, "\n"), strings.Join(want, "\n"))
			}

			// Close flushes the exporter: nothing was exported before (the batch waits 5s).
			gw.Close()
			if got := len(rc.spans("execute_tool ")); got != len(want) {
				t.Fatalf("%d execute_tool spans received after Close, want %d", got, len(want))
			}
			for _, ct := range rc.types {
				if ct != enc.contentType {
					t.Errorf("received %s, want %s", ct, enc.contentType)
				}
			}
			if strings.Contains(log.String(), "level=WARN") {
				t.Errorf("warnings on a healthy export:\n%s", log.String())
			}

			// The hand-off is a trace of the receiver's invoke_agent span inside the sender's.
			var handoff []string
			for _, sp := range rc.spans("invoke_agent writer") {
				if !sp.ParentSpanID().IsEmpty() && attr(sp, "gen_ai.conversation.id") == rec.Task {
					handoff = append(handoff, attr(sp, "gen_ai.agent.name"))
				}
			}
			if len(handoff) != 3 { // the hand-off and the writer's two calls in the task
				t.Errorf("invoke_agent writer spans under the researcher's in task %s: %d, want 3", rec.Task, len(handoff))
			}
			// A refusal before the record verified: an error span of the caller, without a task.
			var refusals []string
			for _, sp := range rc.spans("execute_tool files.write_file") {
				code := attr(sp, "agentctl.decision.reasons")
				if !strings.Contains(code, "TASK_RECORD") {
					continue
				}
				refusals = append(refusals, code)
				if sp.Status().Code() != ptrace.StatusCodeError || attr(sp, "gen_ai.conversation.id") != "<none>" ||
					!sp.ParentSpanID().IsEmpty() || attr(sp, "gen_ai.agent.name") != "writer" || attr(sp, "agentctl.decision.outcome") != "deny" {
					t.Errorf("refusal span %s: status %v, conversation %s, parent %v, agent %s, outcome %s", code, sp.Status().Code(),
						attr(sp, "gen_ai.conversation.id"), sp.ParentSpanID(), attr(sp, "gen_ai.agent.name"), attr(sp, "agentctl.decision.outcome"))
				}
			}
			if got := strings.Join(refusals, " "); got != `["TASK_RECORD_REQUIRED"] ["TASK_RECORD_INVALID"]` {
				t.Errorf("refusal spans: %s", got)
			}

			// Replayed from the OTLP JSON: the same decisions; the refusals are not replayable.
			file := filepath.Join(t.TempDir(), "traces.jsonl")
			if err := os.WriteFile(file, rc.jsonLines(t), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rp := replay.New(replay.Side{Policy: e.p, Decider: mustDecider(t, e)}, nil)
			var replayed []string
			err = replay.Read(f, file, replay.ReadOptions{}, func(c replay.Call) error {
				r, err := rp.Decide(ctx, c)
				if err != nil {
					return err
				}
				line := fmt.Sprintf("%s %s %s", c.Agent, c.Name, r.Outcome())
				if r.Decision != nil {
					var codes []string
					for _, reason := range r.Decision.Reasons {
						if !slices.Contains(codes, reason.Code) {
							codes = append(codes, reason.Code)
						}
					}
					line = strings.TrimSpace(line + " " + strings.Join(codes, ","))
					if c.Session != rec.Task {
						t.Errorf("%s: session %q, want the task %s", c.Source, c.Session, rec.Task)
					}
					wantChain := []string{"researcher"}
					if c.Agent == "writer" {
						wantChain = []string{"researcher", "writer"}
					}
					if !slices.Equal(c.Chain, wantChain) || c.Identity != "spiffe://example.org/agents/"+c.Agent {
						t.Errorf("%s: chain %q identity %q", c.Source, c.Chain, c.Identity)
					}
				} else {
					line += fmt.Sprintf(" (%s: %s)", r.NotReplayable, c.Refused)
					if c.Session == rec.Task || !strings.Contains(r.Detail, c.RefusedMessage) || c.RefusedMessage == "" {
						t.Errorf("%s: session %q, detail %q", c.Source, c.Session, r.Detail)
					}
				}
				replayed = append(replayed, line)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wantReplayed := slices.Clone(want[:6])
			wantReplayed = append(wantReplayed,
				"writer files.write_file not_replayable (refused before the decision: TASK_RECORD_REQUIRED)",
				"writer files.write_file not_replayable (refused before the decision: TASK_RECORD_INVALID)")
			if !slices.Equal(replayed, wantReplayed) {
				t.Errorf("replayed:\n%s\nwant:\n%s", strings.Join(replayed, "\n"), strings.Join(wantReplayed, "\n"))
			}
		})
	}
}

// TestOTLPCollectorDown: a collector that refuses connections, or accepts them and never
// answers, neither delays nor fails a call; the failed export is a warning on the gateway's
// logger, and closing the gateway returns within the export bound.
func TestOTLPCollectorDown(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	pdp, err := gateway.NewEmbedded(ctx, gateway.EmbeddedConfig(e.bundlePath), quietLogger(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdp.Close(context.Background()) })
	// Export every 10ms, so that exports are in flight while the calls are made.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
	secret := filepath.Join(e.root, "secret.txt")

	done := make(chan struct{})
	blackhole := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client giving up
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(blackhole.Close)
	t.Cleanup(func() { close(done) }) // runs first

	for _, c := range []struct {
		name, endpoint string
		errs           []string // one of them names the cause
	}{
		{"refused", "http://" + freeAddr(t) + "/v1/traces", []string{"connection refused"}},
		{"never answers", blackhole.URL + "/v1/traces", []string{"timeout", "deadline exceeded"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := &testtool.SyncBuffer{}
			const bound = 300 * time.Millisecond
			tel, err := gateway.NewTelemetry(ctx, gateway.TelemetryConfig{Endpoint: c.endpoint, Timeout: bound,
				Log: slog.New(slog.NewTextHandler(log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			gw, url := devGateway(t, e, pdp, func(cfg *gateway.Config) { cfg.Telemetry = tel })
			a := devAgent(t, url, "researcher")
			_, tok, _ := gw.StartTask("researcher")
			for i := range 5 {
				res, err := a.call(ctx, tok, "web.fetch_page", map[string]any{"url": "https://example.com/"})
				if got := outcome(t, res, err); !strings.HasPrefix(got, "ok") {
					t.Errorf("call %d: %s", i, got)
				}
				res, err = a.call(ctx, tok, "files.read_text_file", map[string]any{"path": secret})
				if got := outcome(t, res, err); got != "deny RESOURCE_NOT_GRANTED" {
					t.Errorf("call %d: %s", i, got)
				}
			}
			start := time.Now()
			gw.Close()
			// Shutdown is bounded by twice the export bound; a hang would be the exporter's
			// defaults (30s per export, a minute of retries).
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Close took %v with the collector down", took)
			}
			out := log.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "trace export failed: spans dropped") ||
				!strings.Contains(out, "to="+c.endpoint) || !slices.ContainsFunc(c.errs, func(e string) bool { return strings.Contains(out, e) }) {
				t.Errorf("the logger shows no clear warning:\n%s", out)
			}
		})
	}
}
