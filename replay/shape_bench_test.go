package replay_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/replay"
	"github.com/agentctl/agentctl/report"
)

// BenchmarkReplayShapes replays the shapes of recordings that were once quadratic, at
// 1,000 and 10,000 items, and reports the median ns per item of each size and the ratio of
// the 10,000 run to the 1,000 run (about 10 when linear). The shapes: nested-spans, one
// trace whose spans form a single parent chain, agent and tool spans alternating (each
// tool call's chain is every agent above it); mcp-sessions-table, one MCP call per session
// rendered with -o table (a table each); traces-without-root, one request per trace, no
// trace ever getting its root span.
//
//	go test ./replay -run '^$' -bench BenchmarkReplayShapes -benchtime 1x
func BenchmarkReplayShapes(b *testing.B) {
	p := testtool.Load(b, "../scenarios/support-refunds")
	ctx := context.Background()
	d, err := replay.NewDecider(ctx, p, replay.EngineGo)
	if err != nil {
		b.Fatal(err)
	}
	side := replay.Side{Policy: p, Decider: d}
	run := func(b *testing.B, input string, table bool) {
		rp := replay.New(side, nil)
		rr := report.ReplayRun{Policy: "p", Engine: replay.EngineGo, Head: p}
		err := replay.Read(strings.NewReader(input), "in", replay.ReadOptions{}, func(c replay.Call) error {
			r, err := rp.Decide(ctx, c)
			rr.Summary.Add(&r)
			if table {
				rr.Results = append(rr.Results, r)
			}
			return err
		})
		if err == nil && table {
			err = report.ReplayTable(io.Discard, rr, false)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, shape := range []struct {
		name  string
		gen   func(n int) string
		table bool
	}{
		{"nested-spans", nestedSpans, false},
		{"mcp-sessions-table", mcpSessions, true},
		{"traces-without-root", tracesWithoutRoot, false},
	} {
		b.Run(shape.name, func(b *testing.B) {
			small, large := shape.gen(1_000), shape.gen(10_000)
			for b.Loop() {
				var ts, tl []time.Duration
				for range 3 { // interleaved, so a noisy neighbour hits both sizes alike
					start := time.Now()
					run(b, small, shape.table)
					ts = append(ts, time.Since(start))
					start = time.Now()
					run(b, large, shape.table)
					tl = append(tl, time.Since(start))
				}
				ms, ml := median(ts), median(tl)
				b.ReportMetric(float64(ms.Nanoseconds())/1_000, "ns/item-1k")
				b.ReportMetric(float64(ml.Nanoseconds())/10_000, "ns/item-10k")
				b.ReportMetric(float64(ml)/float64(ms), "ratio-10k/1k")
			}
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// nestedSpans is one OTLP request of n spans in a single parent chain: invoke_agent spans
// (triage and billing by turns) and execute_tool spans alternating.
func nestedSpans(n int) string {
	var b strings.Builder
	b.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		op, key, val := "execute_tool", "gen_ai.tool.name", "payments.get_charge"
		if i%2 == 1 {
			op, key, val = "invoke_agent", "gen_ai.agent.name", []string{"triage", "billing"}[(i/2)%2]
		}
		parent := ""
		if i > 1 {
			parent = fmt.Sprintf(`,"parentSpanId":"%016x"`, i-1)
		}
		fmt.Fprintf(&b, `{"traceId":"%032x","spanId":"%016x"%s,"name":%q,"startTimeUnixNano":"%d","attributes":[`+
			`{"key":"gen_ai.operation.name","value":{"stringValue":%q}},{"key":%q,"value":{"stringValue":%q}}]}`,
			12, i, parent, op, 1795770000000000000+i, op, key, val)
	}
	b.WriteString("]}]}]}\n")
	return b.String()
}

// mcpSessions is n MCP tools/call messages, each in its own session.
func mcpSessions(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_charge","arguments":{"charge_id":"c%d"},`+
			`"_meta":{"agentctl/agent":"billing","agentctl/session":"s%d","agentctl/time":"2026-11-27T09:00:07Z"}}}`+"\n", i, i, i)
	}
	return b.String()
}

// tracesWithoutRoot is n OTLP requests, one tool span each in its own trace, whose parent
// is never recorded.
func tracesWithoutRoot(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%032x","spanId":"%016x","parentSpanId":"00000000ffffffff",`+
			`"startTimeUnixNano":"%d","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},`+
			`{"key":"gen_ai.tool.name","value":{"stringValue":"payments.get_charge"}},{"key":"gen_ai.agent.name","value":{"stringValue":"billing"}}]}]}]}]}`+"\n",
			i, i, 1795770000000000000+i)
	}
	return b.String()
}
