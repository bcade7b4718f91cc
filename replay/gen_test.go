package replay_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentctl/agentctl/policy"
)

// writeSpans writes n generated execute_tool spans for the estate p as OTLP JSON, one
// trace (an export request) per line, the way the Collector's file exporter writes them.
// Each trace is a task: an originator agent, often a hand-off to an agent it declares (and
// now and then to one it does not), and up to eight tool calls, mostly of capabilities the
// executing agent holds, some of other capabilities, bare action names or unknown tools.
func writeSpans(w io.Writer, p *policy.Policy, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	next := map[string][]string{}
	for _, h := range p.Handoffs {
		next[h.From] = append(next[h.From], h.To)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var m ptrace.JSONMarshaler
	start := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var spanSeq uint64
	newSpan := func(spans ptrace.SpanSlice, tid pcommon.TraceID, parent pcommon.SpanID, name string, at time.Time) ptrace.Span {
		spanSeq++
		s := spans.AppendEmpty()
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(sid[:], spanSeq)
		s.SetTraceID(tid)
		s.SetSpanID(sid)
		s.SetParentSpanID(parent)
		s.SetName(name)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
		return s
	}
	for t, written := uint64(1), 0; written < n; t++ {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "estate")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], t)
		at := start.Add(time.Duration(t) * time.Minute)

		chain := []*policy.Agent{p.Agents[r.IntN(len(p.Agents))]}
		for len(chain) < 3 && r.IntN(2) == 0 {
			succ := next[chain[len(chain)-1].Name]
			var to string
			if len(succ) == 0 || r.IntN(10) == 0 {
				to = p.Agents[r.IntN(len(p.Agents))].Name // perhaps undeclared
			} else {
				to = succ[r.IntN(len(succ))]
			}
			chain = append(chain, p.Agent(to))
		}
		var parent pcommon.SpanID
		for i, a := range chain {
			s := newSpan(spans, tid, parent, "invoke_agent "+a.Name, at.Add(time.Duration(i)*time.Second))
			s.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
			s.Attributes().PutStr("gen_ai.agent.name", a.Name)
			if i == 0 {
				s.Attributes().PutStr("gen_ai.conversation.id", fmt.Sprintf("task-%d", t))
			}
			parent = s.SpanID()
		}
		agent := chain[len(chain)-1]
		for k := min(1+r.IntN(8), n-written); k > 0; k-- {
			s := newSpan(spans, tid, parent, "execute_tool", at.Add(time.Duration(10+written%50)*time.Second))
			s.Attributes().PutStr("gen_ai.operation.name", "execute_tool")
			s.Attributes().PutStr("gen_ai.tool.name", toolName(r, p, agent))
			s.Attributes().PutStr("gen_ai.tool.call.arguments", fmt.Sprintf(`{"resource":"res/%d","amount":%d}`, r.IntN(100), r.IntN(2000)))
			written++
		}
		line, err := m.MarshalTraces(td)
		if err != nil {
			return err
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// toolName picks the recorded tool name of a call by agent.
func toolName(r *rand.Rand, p *policy.Policy, agent *policy.Agent) string {
	randomAction := func(t *policy.Tool) string { return t.Actions[r.IntN(len(t.Actions))].Name }
	switch x := r.IntN(20); {
	case x == 0:
		return "unknown_tool"
	case x == 1:
		t := p.Tools[r.IntN(len(p.Tools))]
		return randomAction(t) // a bare action name: one tool's, or ambiguous
	case x < 4 || len(agent.Grants) == 0:
		t := p.Tools[r.IntN(len(p.Tools))]
		return t.Name + "." + randomAction(t)
	}
	g := agent.Grants[r.IntN(len(agent.Grants))]
	t := p.Tool(g.Tool)
	if t == nil {
		t = p.Tools[r.IntN(len(p.Tools))]
	}
	action := g.Actions[r.IntN(len(g.Actions))]
	if action == policy.Wildcard || t.Action(action) == nil {
		action = randomAction(t)
	}
	return t.Name + "." + action
}
