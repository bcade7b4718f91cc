package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentctl/agentctl/policy"
)

// OpenTelemetry GenAI attributes the gateway writes (and agentctl replay reads), and its own.
const (
	attrOperation    = "gen_ai.operation.name"
	attrAgentName    = "gen_ai.agent.name"
	attrAgentID      = "gen_ai.agent.id"
	attrToolName     = "gen_ai.tool.name"
	attrToolCallID   = "gen_ai.tool.call.id"
	attrArguments    = "gen_ai.tool.call.arguments"
	attrConversation = "gen_ai.conversation.id"
	attrOutcome      = "agentctl.decision.outcome"
	attrReasonCodes  = "agentctl.decision.reasons"
	attrMessages     = "agentctl.decision.messages"
	attrChain        = "agentctl.chain"
	attrHandoffFrom  = "agentctl.handoff.from" // on a refused hand-off's span: the agent that asked
)

// Telemetry records one trace per tool call: invoke_agent spans for each agent of the
// task's chain, originator outermost, around the execute_tool span of the call, so the
// hand-off chain reads back from the nesting (as agentctl replay reads it).
type Telemetry struct {
	tp        *sdktrace.TracerProvider
	tracer    trace.Tracer
	arguments bool
	timeout   time.Duration

	once        sync.Once
	shutdownErr error
}

// TelemetryConfig says where spans go.
type TelemetryConfig struct {
	// Endpoint is an OTLP/HTTP URL (e.g. http://127.0.0.1:4318/v1/traces; without a path,
	// /v1/traces). The exporter
	// also reads the standard OTEL_EXPORTER_OTLP_* variables (headers, protocol,
	// compression, certificates); the endpoint and the timeout given here win.
	Endpoint string
	// File receives the spans as OTLP JSON lines (what the Collector's file exporter
	// writes); with Endpoint too, spans go to both.
	File string
	// Arguments records the calls' arguments: they may hold data the trace store must not
	// see.
	Arguments bool
	// Log receives a warning when an export fails (its spans are dropped; calls are
	// decided and answered regardless).
	Log *slog.Logger
	// Timeout bounds one export, retries included, and the flush at shutdown twice over;
	// default 5s. Exports run in the background: a slow or unreachable collector never
	// delays a call, and spans beyond the queue (2048) are dropped.
	Timeout time.Duration
}

// DefaultExportTimeout bounds an export when TelemetryConfig.Timeout is not set.
const DefaultExportTimeout = 5 * time.Second

// NewTelemetry starts the exporters cfg names; nil when it names none: no spans.
func NewTelemetry(ctx context.Context, cfg TelemetryConfig) (*Telemetry, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultExportTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "agentctl-gateway"))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	add := func(exp sdktrace.SpanExporter, target string) {
		exp = &reportingExporter{SpanExporter: exp, log: cfg.Log, target: target}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithExportTimeout(cfg.Timeout)))
	}
	var started []sdktrace.SpanExporter
	fail := func(err error) (*Telemetry, error) {
		for _, e := range started {
			e.Shutdown(ctx)
		}
		return nil, err
	}
	// The file first: the provider shuts its processors down in this order and stops at the
	// deadline, which a collector that never answers uses up.
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("trace file: %w", err)
		}
		fe := &fileExporter{w: f, c: f}
		started = append(started, fe)
		add(fe, cfg.File)
	}
	if cfg.Endpoint != "" {
		u, err := otlpURL(cfg.Endpoint)
		if err != nil {
			return fail(err)
		}
		t := cfg.Timeout
		e, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u), otlptracehttp.WithTimeout(t),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: t / 10, MaxInterval: t / 2, MaxElapsedTime: t}))
		if err != nil {
			return fail(fmt.Errorf("OTLP exporter %s: %w", u, err))
		}
		started = append(started, e)
		add(e, u)
	}
	if len(opts) == 1 {
		return nil, nil
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Telemetry{tp: tp, tracer: tp.Tracer("github.com/agentctl/agentctl/gateway"), arguments: cfg.Arguments, timeout: cfg.Timeout}, nil
}

// otlpURL checks an OTLP/HTTP endpoint (the exporter would silently fall back to
// localhost:4318 on a malformed one) and gives a URL without a path OTLP's default path.
func otlpURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q: want an http(s) URL, such as http://127.0.0.1:4318/v1/traces", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Shutdown flushes the spans not yet exported and stops the exporter, within twice the
// export timeout whatever ctx allows. Later calls return the first one's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 2*t.timeout)
		defer cancel()
		t.shutdownErr = t.tp.Shutdown(ctx)
	})
	return t.shutdownErr
}

// reportingExporter turns failed exports into warnings on the gateway's logger (instead of
// OpenTelemetry's global error handler, which writes to the process's standard logger): the
// first failure, then at most one a minute while they go on, and a line when exports
// recover. A failed export's spans are dropped.
type reportingExporter struct {
	sdktrace.SpanExporter
	log    *slog.Logger
	target string

	mu       sync.Mutex
	failing  bool
	dropped  int
	lastWarn time.Time
}

func (r *reportingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if r.failing {
			r.log.Info("trace export recovered", "to", r.target, "spans_dropped", r.dropped)
			r.failing, r.dropped = false, 0
		}
		return nil
	}
	r.dropped += len(spans)
	if now := time.Now(); !r.failing || now.Sub(r.lastWarn) >= time.Minute {
		r.log.Warn("trace export failed: spans dropped (tool calls are decided and served regardless)",
			"to", r.target, "spans_dropped", r.dropped, "error", err)
		r.failing, r.lastWarn = true, now
	}
	return nil
}

// toolSpan is the trace of one call in flight; a nil toolSpan records nothing.
type toolSpan struct {
	t      *Telemetry
	ctx    context.Context
	peer   Peer
	act    *policy.Action
	start  time.Time
	spans  []trace.Span // invoke_agent spans, outermost first, then execute_tool
	tool   trace.Span
	attrs  []attribute.KeyValue
	closed bool
}

func (t *Telemetry) start(ctx context.Context, peer Peer, act *policy.Action, now time.Time) *toolSpan {
	if t == nil {
		return nil
	}
	return &toolSpan{t: t, ctx: ctx, peer: peer, act: act, start: now}
}

// task opens the spans once the task (and so the chain) is known.
func (s *toolSpan) task(rec *Record, args map[string]any) {
	if s == nil {
		return
	}
	ctx := trace.ContextWithSpan(s.ctx, nil)
	conv := attribute.String(attrConversation, rec.Task)
	for i, a := range rec.Chain {
		attrs := []attribute.KeyValue{attribute.String(attrOperation, "invoke_agent"), attribute.String(attrAgentName, a), conv}
		if i == len(rec.Chain)-1 && s.peer.SpiffeID != "" {
			attrs = append(attrs, attribute.String(attrAgentID, s.peer.SpiffeID))
		}
		opts := []trace.SpanStartOption{trace.WithTimestamp(s.start), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindInternal)}
		if i == 0 {
			opts = append(opts, trace.WithNewRoot())
		}
		var sp trace.Span
		ctx, sp = s.t.tracer.Start(ctx, "invoke_agent "+a, opts...)
		s.spans = append(s.spans, sp)
	}
	name := s.act.Capability()
	attrs := []attribute.KeyValue{attribute.String(attrOperation, "execute_tool"), attribute.String(attrToolName, name),
		attribute.String(attrAgentName, s.peer.Agent), conv, attribute.StringSlice(attrChain, rec.Chain)}
	if s.t.arguments {
		raw, _ := json.Marshal(args)
		attrs = append(attrs, attribute.String(attrArguments, string(raw)))
	}
	_, s.tool = s.t.tracer.Start(ctx, "execute_tool "+name, trace.WithTimestamp(s.start), trace.WithAttributes(attrs...),
		trace.WithSpanKind(trace.SpanKindClient))
	s.tool.SetAttributes(attribute.String(attrToolCallID, s.tool.SpanContext().SpanID().String()))
}

// refused traces a call refused before its task record verified (or before its arguments
// decoded): no task is known, so the execute_tool span stands alone, without a
// conversation id or a chain, holding the refusal's code.
func (s *toolSpan) refused(code, msg string, args map[string]any) {
	if s == nil {
		return
	}
	name := s.act.Capability()
	attrs := []attribute.KeyValue{attribute.String(attrOperation, "execute_tool"), attribute.String(attrToolName, name),
		attribute.String(attrAgentName, s.peer.Agent)}
	if s.peer.SpiffeID != "" {
		attrs = append(attrs, attribute.String(attrAgentID, s.peer.SpiffeID))
	}
	if s.t.arguments && args != nil {
		raw, _ := json.Marshal(args)
		attrs = append(attrs, attribute.String(attrArguments, string(raw)))
	}
	_, s.tool = s.t.tracer.Start(trace.ContextWithSpan(s.ctx, nil), "execute_tool "+name, trace.WithNewRoot(),
		trace.WithTimestamp(s.start), trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindClient))
	s.tool.SetAttributes(attribute.String(attrToolCallID, s.tool.SpanContext().SpanID().String()))
	s.decision(policy.OutcomeDeny, []policy.Reason{{Code: code, Message: msg}})
}

func (s *toolSpan) decision(outcome string, reasons []policy.Reason) {
	if s == nil {
		return
	}
	codes, msgs := make([]string, len(reasons)), make([]string, len(reasons))
	for i, r := range reasons {
		codes[i], msgs[i] = r.Code, r.Message
	}
	s.attrs = append(s.attrs, attribute.String(attrOutcome, outcome), attribute.StringSlice(attrReasonCodes, codes),
		attribute.StringSlice(attrMessages, msgs))
}

func (s *toolSpan) end(res *sdk.CallToolResult, now time.Time) {
	if s == nil || s.tool == nil {
		return
	}
	s.tool.SetAttributes(s.attrs...)
	if res != nil && res.IsError {
		s.tool.SetStatus(codes.Error, "tool error")
	}
	s.tool.End(trace.WithTimestamp(now))
	for i := len(s.spans) - 1; i >= 0; i-- {
		s.spans[i].End(trace.WithTimestamp(now))
	}
}

// handoff records the hand-off as an invoke_agent span of the receiver inside the sender's.
func (t *Telemetry) handoff(ctx context.Context, rec *Record, now time.Time) {
	if t == nil {
		return
	}
	_, spans := t.chainSpans(ctx, rec, now)
	for i := len(spans) - 1; i >= 0; i-- {
		spans[i].End(trace.WithTimestamp(now))
	}
}

// chainSpans starts an invoke_agent span per agent of rec's chain, originator outermost,
// in a new trace; it returns the innermost span's context and the spans, outermost first.
func (t *Telemetry) chainSpans(ctx context.Context, rec *Record, now time.Time) (context.Context, []trace.Span) {
	ctx = trace.ContextWithSpan(ctx, nil)
	var spans []trace.Span
	for i, a := range rec.Chain {
		opts := []trace.SpanStartOption{trace.WithTimestamp(now), trace.WithAttributes(attribute.String(attrOperation, "invoke_agent"),
			attribute.String(attrAgentName, a), attribute.String(attrConversation, rec.Task))}
		if i == 0 {
			opts = append(opts, trace.WithNewRoot())
		}
		var sp trace.Span
		ctx, sp = t.tracer.Start(ctx, "invoke_agent "+a, opts...)
		spans = append(spans, sp)
	}
	return ctx, spans
}

// handoffRefused records a refused hand-off as an invoke_agent span of the receiver asked
// for (none when the call names none), with status error, the caller in
// agentctl.handoff.from and the refusal's code and message. With a verified task record
// (rec not nil) it sits inside the spans of the record's chain, as a hand-off does;
// without one it stands alone, without a conversation id or a chain.
func (t *Telemetry) handoffRefused(ctx context.Context, peer Peer, rec *Record, to, code, msg string, start, end time.Time) {
	if t == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.String(attrOperation, "invoke_agent"), attribute.String(attrHandoffFrom, peer.Agent),
		attribute.String(attrOutcome, policy.OutcomeDeny), attribute.StringSlice(attrReasonCodes, []string{code}),
		attribute.StringSlice(attrMessages, []string{msg})}
	name := "invoke_agent"
	if to != "" {
		name += " " + to
		attrs = append(attrs, attribute.String(attrAgentName, to))
	}
	ctx = trace.ContextWithSpan(ctx, nil)
	opts := []trace.SpanStartOption{trace.WithTimestamp(start)}
	var spans []trace.Span
	if rec != nil {
		ctx, spans = t.chainSpans(ctx, rec, start)
		attrs = append(attrs, attribute.String(attrConversation, rec.Task), attribute.StringSlice(attrChain, rec.Chain))
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	_, sp := t.tracer.Start(ctx, name, append(opts, trace.WithAttributes(attrs...))...)
	sp.SetStatus(codes.Error, "hand-off refused")
	sp.End(trace.WithTimestamp(end))
	for i := len(spans) - 1; i >= 0; i-- {
		spans[i].End(trace.WithTimestamp(end))
	}
}

// fileExporter writes each export batch as one line of OTLP JSON.
type fileExporter struct {
	mu sync.Mutex
	w  io.Writer
	c  io.Closer
}

func (f *fileExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agentctl-gateway")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/agentctl/agentctl/gateway")
	for _, s := range spans {
		sp := ss.Spans().AppendEmpty()
		sc := s.SpanContext()
		sp.SetTraceID(pcommon.TraceID(sc.TraceID()))
		sp.SetSpanID(pcommon.SpanID(sc.SpanID()))
		if p := s.Parent(); p.IsValid() {
			sp.SetParentSpanID(pcommon.SpanID(p.SpanID()))
		}
		sp.SetName(s.Name())
		sp.SetKind(ptrace.SpanKind(s.SpanKind()))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
		if s.Status().Code == codes.Error {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(s.Status().Description)
		}
		for _, kv := range s.Attributes() {
			switch kv.Value.Type() {
			case attribute.STRINGSLICE:
				sl := sp.Attributes().PutEmptySlice(string(kv.Key))
				for _, v := range kv.Value.AsStringSlice() {
					sl.AppendEmpty().SetStr(v)
				}
			case attribute.BOOL:
				sp.Attributes().PutBool(string(kv.Key), kv.Value.AsBool())
			case attribute.INT64:
				sp.Attributes().PutInt(string(kv.Key), kv.Value.AsInt64())
			default:
				sp.Attributes().PutStr(string(kv.Key), kv.Value.Emit())
			}
		}
	}
	raw, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err = f.w.Write(append(raw, '\n'))
	return err
}

func (f *fileExporter) Shutdown(context.Context) error { return f.c.Close() }
