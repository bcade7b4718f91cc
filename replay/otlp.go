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
)

type otlpSpan struct {
	parent              pcommon.SpanID
	op, agent, identity string
	tool, conversation  string
	callID              string
	start               time.Time
	arguments           map[string]any // nil when absent or not a JSON object
	isToolSpan          bool
}

type otlpTrace struct {
	id       pcommon.TraceID
	spans    map[pcommon.SpanID]*otlpSpan
	tools    []pcommon.SpanID
	earliest time.Time
	root     bool
}

// readOTLP reads OTLP JSON trace data: one ExportTraceServiceRequest per line (the
// Collector's file exporter) or one, pretty-printed, per file, through the Collector's own
// unmarshaler. A trace is decided once the request holding its root span has been read (the
// root ends last, so exporters write it last), or at the end of the input; so memory holds
// the traces in flight, not the file.
func readOTLP(br *bufio.Reader, file string, emit func(Call) error) error {
	o := otlpReader{file: file, emit: emit, pending: map[pcommon.TraceID]*otlpTrace{}}
	var first []byte
	n := 0
	for len(bytes.TrimSpace(first)) == 0 {
		n++
		line, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
		first = line
	}
	if td, uerr := o.um.UnmarshalTraces(first); uerr == nil {
		// Line mode: the fast path, no second scan to split values.
		if err := o.add(td); err != nil {
			return err
		}
		for n++; ; n++ {
			line, err := readLine(br)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s:%d: %w", file, n, err)
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			td, err := o.um.UnmarshalTraces(line)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", file, n, err)
			}
			if err := o.add(td); err != nil {
				return err
			}
		}
	} else {
		// A request spread over lines: split the stream into JSON values.
		dec := json.NewDecoder(io.MultiReader(bytes.NewReader(first), br))
		for n := 1; ; n++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: request %d: %w", file, n, err)
			}
			td, err := o.um.UnmarshalTraces(raw)
			if err != nil {
				return fmt.Errorf("%s: request %d: %w", file, n, err)
			}
			if err := o.add(td); err != nil {
				return err
			}
		}
	}
	for _, id := range o.order {
		if err := o.pending[id].emit(file, emit); err != nil {
			return err
		}
	}
	return nil
}

// readLine returns the next line, io.EOF only when nothing is left.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return line, err
}

type otlpReader struct {
	file    string
	emit    func(Call) error
	um      ptrace.JSONUnmarshaler
	pending map[pcommon.TraceID]*otlpTrace
	order   []pcommon.TraceID // pending traces, first seen first
}

// add files one request's spans and decides the traces whose root has been read.
func (o *otlpReader) add(td ptrace.Traces) error {
	o.order = append(o.order, addTraces(td, o.pending)...)
	kept := o.order[:0]
	for _, id := range o.order {
		if t := o.pending[id]; t.root {
			if err := t.emit(o.file, o.emit); err != nil {
				return err
			}
			delete(o.pending, id)
		} else {
			kept = append(kept, id)
		}
	}
	o.order = kept
	return nil
}

// addTraces files the spans of td under their traces and returns the traces new to pending.
func addTraces(td ptrace.Traces, pending map[pcommon.TraceID]*otlpTrace) []pcommon.TraceID {
	var added []pcommon.TraceID
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
					added = append(added, t.id)
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
	return added
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
	return s
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
		c := Call{Source: fmt.Sprintf("%s: trace %s span %s", file, traceHex, hex.EncodeToString(id[:])),
			Session: s.conversation, SessionStart: t.earliest, Time: s.start, Name: s.tool, Arguments: s.arguments, CallID: s.callID}
		// Walk the enclosing spans: invoke_agent spans give the chain, nearest first.
		var agents []*otlpSpan
		// Bounded: a malformed trace may hold a parent cycle.
		for p, steps := t.spans[s.parent], 0; p != nil && steps < len(t.spans); p, steps = t.spans[p.parent], steps+1 {
			if p.op == opInvokeAgent && p.agent != "" {
				agents = append(agents, p)
			}
			if c.Session == "" {
				c.Session = p.conversation
			}
		}
		if c.Session == "" {
			c.Session = traceHex
		}
		switch {
		case len(agents) > 0:
			c.Agent, c.Identity = agents[0].agent, agents[0].identity
		case s.agent != "":
			c.Agent, c.Identity = s.agent, s.identity
		}
		for i := len(agents) - 1; i >= 0; i-- {
			// An agent span nested in the same agent's span is one step, not a hand-off.
			if n := len(c.Chain); n == 0 || c.Chain[n-1] != agents[i].agent {
				c.Chain = append(c.Chain, agents[i].agent)
			}
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}
