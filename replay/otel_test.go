package replay_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentctl/agentctl/internal/testtool"
)

var update = flag.Bool("update", false, "regenerate testdata traces")

// workflowTrace is the support-refunds workflow recorded by the OpenTelemetry Go SDK.
const workflowTrace = "testdata/support-refunds.otlp.jsonl"

// TestGenerateWorkflowTrace records a multi-agent workflow of scenarios/support-refunds
// with the OpenTelemetry Go SDK, exports it over OTLP/HTTP to a collector stand-in on
// 127.0.0.1 and writes what the Collector's file exporter writes: each export request as
// one line of OTLP JSON. With -update the file under testdata is rewritten; otherwise it
// must be byte for byte what the SDK produces now.
func TestGenerateWorkflowTrace(t *testing.T) {
	testtool.Golden(t, workflowTrace, recordWorkflow(t), *update)
}

// collector accepts OTLP/HTTP protobuf export requests and keeps each as a JSON line.
type collector struct {
	mu    sync.Mutex
	lines bytes.Buffer
	errs  []error
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	req := ptraceotlp.NewExportRequest()
	if err == nil {
		err = req.UnmarshalProto(body)
	}
	var line []byte
	if err == nil {
		line, err = (&ptrace.JSONMarshaler{}).MarshalTraces(req.Traces())
	}
	if err != nil {
		c.errs = append(c.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.lines.Write(line)
	c.lines.WriteByte('\n')
	resp, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// seqIDs numbers traces and spans, so the recording is reproducible.
type seqIDs struct {
	mu          sync.Mutex
	trace, span uint64
}

func (g *seqIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	g.mu.Lock()
	g.trace++
	var tid trace.TraceID
	binary.BigEndian.PutUint64(tid[8:], 0x5eed0000+g.trace)
	g.mu.Unlock()
	return tid, g.NewSpanID(ctx, tid)
}

func (g *seqIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.span++
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], 0x100+g.span)
	return sid
}

func recordWorkflow(t *testing.T) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	srv := &http.Server{Handler: col, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL("http://"+ln.Addr().String()+"/v1/traces"),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	// A synchronous processor exports each span as it ends: children before their parents,
	// as a Collector receives them from a busy service.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(&seqIDs{}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "support-agents"))))
	w := workflow{tr: tp.Tracer("github.com/agentctl/agentctl/replay/testdata")}
	w.record(ctx)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.errs) > 0 {
		t.Fatal(col.errs)
	}
	return col.lines.Bytes()
}

type workflow struct {
	tr trace.Tracer
}

var base = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// agent runs body inside an invoke_agent span from start to end (seconds after base).
func (w workflow) agent(ctx context.Context, name, id, conversation string, start, end int, body func(context.Context)) {
	attrs := []attribute.KeyValue{attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", name)}
	if id != "" {
		attrs = append(attrs, attribute.String("gen_ai.agent.id", id))
	}
	if conversation != "" {
		attrs = append(attrs, attribute.String("gen_ai.conversation.id", conversation))
	}
	ctx, span := w.tr.Start(ctx, "invoke_agent "+name, trace.WithTimestamp(at(start)),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	body(ctx)
	span.End(trace.WithTimestamp(at(end)))
}

// tool records an execute_tool span lasting one second; args is the JSON the agent passed
// (empty: not recorded) and agent the span's own gen_ai.agent.name (empty: none).
func (w workflow) tool(ctx context.Context, name, callID, args, agent string, start int) {
	attrs := []attribute.KeyValue{attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", name), attribute.String("gen_ai.tool.call.id", callID)}
	if args != "" {
		attrs = append(attrs, attribute.String("gen_ai.tool.call.arguments", args))
	}
	if agent != "" {
		attrs = append(attrs, attribute.String("gen_ai.agent.name", agent))
	}
	_, span := w.tr.Start(ctx, "execute_tool "+name, trace.WithTimestamp(at(start)),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	span.End(trace.WithTimestamp(at(start + 1)))
}

func (w workflow) record(ctx context.Context) {
	// case-1001: a refund request. Triage reads the mail (untrusted) and the customer record
	// (regulated), delegates to billing, which refunds (needs approval above 50 EUR) and
	// forwards its credentials to the notifier, which mails the customer: egress after
	// untrusted input and a sensitive read, the flow the runtime blocks.
	w.agent(ctx, "triage", "asst_triage_01", "case-1001", 0, 60, func(ctx context.Context) {
		w.tool(ctx, "support-inbox.read_message", "call_01", `{"message_id":"m-1001"}`, "", 1)
		w.tool(ctx, "lookup_customer", "call_02", `{"email":"jo@example.com"}`, "", 3)
		w.agent(ctx, "billing", "spiffe://acme.example/support/billing", "", 5, 50, func(ctx context.Context) {
			w.tool(ctx, "payments.get_charge", "call_03", `{"charge_id":"ch_42"}`, "", 6)
			w.tool(ctx, "refund", "call_04", `{"charge_id":"ch_42","amount":120,"currency":"EUR"}`, "", 8)
			w.tool(ctx, "issue_credit", "call_05", `{"amount":20}`, "", 10)
			w.agent(ctx, "customer-notifier", "", "", 12, 40, func(ctx context.Context) {
				w.tool(ctx, "reply", "call_06", `{"to":"jo@example.com","body":"Your refund is on its way."}`, "", 13)
			})
		})
	})
	// case-1002: a mail talks triage into handing the case to reporting, a hand-off the
	// policy does not declare; triage then calls a tool the policy does not know and a
	// refund whose arguments were not recorded.
	w.agent(ctx, "triage", "", "case-1002", 3600, 3660, func(ctx context.Context) {
		w.tool(ctx, "support-inbox.read_message", "call_07", `{"message_id":"m-1002"}`, "", 3601)
		w.agent(ctx, "reporting", "", "", 3603, 3620, func(ctx context.Context) {
			w.tool(ctx, "export_segment", "call_08", `{"segment":"segments/churn-risk"}`, "", 3604)
		})
		w.tool(ctx, "web_search", "call_09", `{"q":"acme refund policy"}`, "", 3630)
		w.tool(ctx, "refund", "call_10", "", "", 3640)
	})
	// A batch job outside any agent span: one call names its agent itself, one names none.
	ctx, span := w.tr.Start(ctx, "nightly-kb-refresh", trace.WithTimestamp(at(7200)))
	w.tool(ctx, "search", "call_11", `{"query":"refund"}`, "kb-assistant", 7201)
	w.tool(ctx, "kb.search", "call_12", `{"query":"returns"}`, "", 7203)
	span.End(trace.WithTimestamp(at(7210)))
}
