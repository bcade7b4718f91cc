package replay

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// OpenTelemetry GenAI semantic convention attributes replay reads.
const (
	attrOperation    = "gen_ai.operation.name"
	attrAgentName    = "gen_ai.agent.name"
	attrAgentID      = "gen_ai.agent.id"
	attrToolName     = "gen_ai.tool.name"
	attrArguments    = "gen_ai.tool.call.arguments"
	attrCallID       = "gen_ai.tool.call.id"
	attrConversation = "gen_ai.conversation.id"
	opExecuteTool    = "execute_tool"
	opInvokeAgent    = "invoke_agent"

	// What agentctl gateway adds to a tool span: its decision's reason codes and messages.
	// These names (and the refusal codes below) are the gateway's; the round trips in
	// gateway/telemetry_test.go and gateway/handofftrace_test.go fail if they drift apart.
	attrReasonCodes = "agentctl.decision.reasons"
	attrMessages    = "agentctl.decision.messages"
	// On the invoke_agent span of a hand-off the gateway refused: the agent that asked.
	attrHandoffFrom = "agentctl.handoff.from"
	// The outcome the gateway gave the call: allow (then it ran), deny or needs_approval.
	attrOutcome = "agentctl.decision.outcome"

	// The gateway's own tool through which agents hand tasks over.
	handoffTool = "agentctl.handoff"
)

type otlpSpan struct {
	parent              pcommon.SpanID
	op, agent, identity string
	tool, conversation  string
	callID              string
	start               time.Time
	arguments           map[string]any // nil when absent or not a JSON object
	isToolSpan          bool
	refused, refusedMsg string // the gateway's refusal before any decision
	handoffFrom         string // a refused hand-off's span: the agent that asked
	outcome             string // agentctl.decision.outcome of a tool span

	// What the span's ancestry gives, resolved once per span when its trace is decided
	// (so a deep chain of spans costs a step per span, not per ancestor).
	state    uint8     // unresolved, resolving, resolved
	up       *otlpSpan // the parent span, nil when absent or in a cycle
	conv     string    // the nearest gen_ai.conversation.id, own or enclosing
	nearest  *otlpSpan // the nearest invoke_agent span with a name, the span itself included
	step     *otlpSpan // agent spans: the previous distinct agent of the chain
	chainLen int       // agent spans: the chain's length up to and including this agent
}

const (
	unresolved = iota
	resolving
	resolved
)

type otlpTrace struct {
	id       pcommon.TraceID
	spans    map[pcommon.SpanID]*otlpSpan
	tools    []pcommon.SpanID
	earliest time.Time
	root     bool
	seq      int  // its place in the order traces were first seen, from 1
	touched  bool // by the request being filed
}

// readOTLP reads OTLP JSON trace data: one ExportTraceServiceRequest per line (the
// Collector's file exporter) or spread over lines (pretty-printed), each read through the
// Collector's own unmarshaler. A trace is decided once the request holding its root span
// has been read (the root ends last, so exporters write it last), or at the end of the
// input; so memory holds the traces in flight, not the file.
func readOTLP(br *bufio.Reader, file string, emit func(Call) error) error {
	o := otlpReader{file: file, emit: emit, pending: map[pcommon.TraceID]*otlpTrace{}}
	sp := splitter{br: br, file: file, line: 1, col: 1}
	requests := 0
	for {
		rec, line, col, err := sp.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		td, uerr := o.um.UnmarshalTraces(rec)
		if uerr != nil {
			off, msg, found := explainOTLP(rec)
			if !found {
				// The check above covers the schema's fields; what it misses, the Collector's
				// message names (without its parser's internals).
				off, msg = 0, "not an OTLP trace export request the Collector reads: "+cutInternals(uerr.Error())
			}
			l, c := lineCol(rec, off, line, col)
			return posError(file, l, c, "%s", msg)
		}
		if td.ResourceSpans().Len() == 0 && !hasKey(rec, "resourceSpans", "resource_spans") {
			return posError(file, line, col, "expected an %s, found %s", formatRecord[FormatOTLP], describe(rec))
		}
		requests++
		if err := o.add(td); err != nil {
			return err
		}
	}
	if requests == 0 {
		return noRecord(file, FormatOTLP, 0, nil)
	}
	for _, t := range o.order {
		if o.pending[t.id] == t {
			if err := t.emit(file, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// cutInternals keeps the first clause of a JSON parser's message: what follows
// ("error found in #10 byte of ...") quotes its buffer, not the user's file.
func cutInternals(msg string) string {
	if i := strings.Index(msg, ", error found in"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

type otlpReader struct {
	file    string
	emit    func(Call) error
	um      ptrace.JSONUnmarshaler
	pending map[pcommon.TraceID]*otlpTrace
	order   []*otlpTrace // traces in the order first seen; those decided since are dropped lazily
	seen    int
}

// add files one request's spans and decides the traces of this request whose root has
// been read: only those, so a request costs its own spans, whatever is still pending.
func (o *otlpReader) add(td ptrace.Traces) error {
	touched := addTraces(td, o.pending)
	for _, t := range touched {
		if t.seq == 0 {
			o.seen++
			o.order, t.seq = append(o.order, t), o.seen
		}
	}
	slices.SortFunc(touched, func(a, b *otlpTrace) int { return a.seq - b.seq })
	for _, t := range touched {
		if t.root && o.pending[t.id] == t {
			if err := t.emit(o.file, o.emit); err != nil {
				return err
			}
			delete(o.pending, t.id)
		}
	}
	// Drop decided traces from the order once they are most of it (amortised linear).
	if len(o.order) > 64 && len(o.order) > 2*len(o.pending) {
		kept := o.order[:0]
		for _, t := range o.order {
			if o.pending[t.id] == t {
				kept = append(kept, t)
			}
		}
		clear(o.order[len(kept):])
		o.order = kept
	}
	return nil
}

// addTraces files the spans of td under their traces and returns the traces it touched.
func addTraces(td ptrace.Traces, pending map[pcommon.TraceID]*otlpTrace) []*otlpTrace {
	var touched []*otlpTrace
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				t := pending[sp.TraceID()]
				if t == nil {
					t = &otlpTrace{id: sp.TraceID(), spans: map[pcommon.SpanID]*otlpSpan{}}
					pending[t.id] = t
				}
				if !t.touched {
					t.touched = true
					touched = append(touched, t)
				}
				s := newOTLPSpan(sp)
				t.spans[sp.SpanID()] = s
				if s.isToolSpan {
					t.tools = append(t.tools, sp.SpanID())
				}
				if t.earliest.IsZero() || s.start.Before(t.earliest) {
					t.earliest = s.start
				}
				t.root = t.root || s.parent.IsEmpty()
			}
		}
	}
	for _, t := range touched {
		t.touched = false
	}
	return touched
}

func newOTLPSpan(sp ptrace.Span) *otlpSpan {
	attrs := sp.Attributes()
	str := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	s := &otlpSpan{parent: sp.ParentSpanID(), op: str(attrOperation), agent: str(attrAgentName),
		tool: str(attrToolName), conversation: str(attrConversation), callID: str(attrCallID), start: sp.StartTimestamp().AsTime().UTC()}
	if id := str(attrAgentID); strings.HasPrefix(id, "spiffe://") {
		s.identity = id
	}
	s.isToolSpan = s.op == opExecuteTool
	if v, ok := attrs.Get(attrArguments); ok && s.isToolSpan {
		s.arguments = argumentsOf(v)
	}
	if s.isToolSpan {
		s.outcome = str(attrOutcome)
		if s.refused, s.refusedMsg = gatewayReason(attrs); !slices.Contains(gatewayRefusals, s.refused) {
			s.refused, s.refusedMsg = "", ""
		}
	}
	// A hand-off the gateway refused is read as a call of its hand-off tool, refused.
	if from := str(attrHandoffFrom); s.op == opInvokeAgent && from != "" {
		if code, msg := gatewayReason(attrs); code != "" {
			s.isToolSpan, s.handoffFrom, s.tool, s.refused, s.refusedMsg = true, from, handoffTool, code, msg
			if s.agent != "" {
				s.arguments = map[string]any{"to": s.agent}
			}
		}
	}
	return s
}

// gatewayRefusals are the codes of agentctl gateway's refusals made before it asks the
// policy (docs/gateway.md, Refusals): such a call has no decision to replay.
var gatewayRefusals = []string{"TASK_RECORD_REQUIRED", "TASK_RECORD_INVALID", "BAD_ARGUMENTS"}

// gatewayReason returns the code and message of a span with exactly one reason, else
// empty strings.
func gatewayReason(attrs pcommon.Map) (code, msg string) {
	v, ok := attrs.Get(attrReasonCodes)
	if !ok || v.Type() != pcommon.ValueTypeSlice || v.Slice().Len() != 1 {
		return "", ""
	}
	code = v.Slice().At(0).AsString()
	if m, ok := attrs.Get(attrMessages); ok && m.Type() == pcommon.ValueTypeSlice && m.Slice().Len() == 1 {
		msg = m.Slice().At(0).AsString()
	}
	return code, msg
}

// argumentsOf reads gen_ai.tool.call.arguments: a JSON object in a string (what SDKs
// record) or an OTLP map, nil when it is neither. Numbers become json.Number, as in every
// other input.
func argumentsOf(v pcommon.Value) map[string]any {
	var raw []byte
	switch v.Type() {
	case pcommon.ValueTypeStr:
		raw = []byte(v.Str())
	case pcommon.ValueTypeMap:
		var err error
		if raw, err = json.Marshal(v.Map().AsRaw()); err != nil {
			return nil
		}
	default:
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// emit sends the trace's tool calls in the order they started.
func (t *otlpTrace) emit(file string, emit func(Call) error) error {
	slices.SortFunc(t.tools, func(a, b pcommon.SpanID) int {
		if c := t.spans[a].start.Compare(t.spans[b].start); c != 0 {
			return c
		}
		return bytes.Compare(a[:], b[:])
	})
	traceHex := hex.EncodeToString(t.id[:])
	for _, id := range t.tools {
		s := t.spans[id]
		t.resolve(s)
		c := Call{Source: fmt.Sprintf("%s: trace %s span %s", file, traceHex, hex.EncodeToString(id[:])),
			Session: s.conv, SessionStart: t.earliest, Time: s.start, Name: s.tool, Arguments: s.arguments, CallID: s.callID,
			Refused: s.refused, RefusedMessage: s.refusedMsg, RecordedOutcome: s.outcome}
		if c.Session == "" {
			c.Session = traceHex
		}
		// The enclosing invoke_agent spans give the agent (the nearest) and the chain; a
		// refused hand-off standing alone names its sender.
		var a *otlpSpan
		if s.up != nil {
			a = s.up.nearest
		}
		switch {
		case a == nil && s.handoffFrom != "":
			c.Agent = s.handoffFrom
		case a != nil:
			c.Agent, c.Identity = a.agent, a.identity
			if a.chainLen > MaxChain {
				c.LongChain = a.chainLen
			}
			c.Chain = make([]string, min(a.chainLen, MaxChain))
			for i, x := len(c.Chain)-1, a; i >= 0; i, x = i-1, x.step {
				c.Chain[i] = x.agent
			}
		case s.agent != "":
			c.Agent, c.Identity = s.agent, s.identity
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

// resolve fills in what s's ancestry gives (see otlpSpan), walking up only to the nearest
// span already resolved; a parent cycle is cut where it closes.
func (t *otlpTrace) resolve(s *otlpSpan) {
	var stack []*otlpSpan
	for x := s; x != nil && x.state == unresolved; x = x.up {
		x.state = resolving
		stack = append(stack, x)
		if !x.parent.IsEmpty() {
			if p := t.spans[x.parent]; p != nil && p.state != resolving {
				x.up = p
			}
		}
	}
	for i := len(stack) - 1; i >= 0; i-- {
		x := stack[i]
		x.conv = x.conversation
		var above *otlpSpan
		if x.up != nil {
			above = x.up.nearest
			if x.conv == "" {
				x.conv = x.up.conv
			}
		}
		x.nearest = above
		if x.op == opInvokeAgent && x.agent != "" {
			x.nearest, x.chainLen = x, 1
			switch {
			case above == nil:
			case above.agent == x.agent: // an agent span nested in its own agent's span: one step, not a hand-off
				x.step, x.chainLen = above.step, above.chainLen
			default:
				x.step, x.chainLen = above, above.chainLen+1
			}
		}
		x.state = resolved
	}
}
