package gateway_test

import (
	"context"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/gateway"
)

// BenchmarkToolCall times, interleaved in each iteration so that the machine's noise falls
// on all alike, one tools/call of web.fetch_page made by a Go SDK client straight to the
// upstream (a Go MCP server over Streamable HTTP on loopback), the same call through the
// gateway, and the decision alone as the gateway asks its PDP; once with OPA embedded, once
// with an OPA server. Reported: the gateway's calls/s; p50/p99 of each; the latency the
// gateway adds (gateway - direct); the gateway's own part of it (added - decision) and its
// ratio to the decision's cost (target: at most 1). Also timed: the direct call to the same
// upstream served without MCP sessions (stateless), as the gateway serves agents, so that
// the part of the gateway's own cost that is the SDK's stateless mode can be read off.
//
//	go test ./gateway -run '^$' -bench ToolCall -benchtime 2000x
func BenchmarkToolCall(b *testing.B) {
	if os.Getenv("GOGC") == "" { // measure as agentctl gateway runs; GOGC=100 for Go's default
		prev := debug.SetGCPercent(gateway.GCPercent)
		b.Cleanup(func() { debug.SetGCPercent(prev) })
	}
	e := newEstate(b)
	embedded, err := gateway.NewEmbedded(context.Background(), gateway.EmbeddedConfig(e.bundlePath), quietLogger(), quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { embedded.Close(context.Background()) })
	opa := startOPA(b, e.bundlePath)
	remote, err := gateway.NewRemote(opa.url())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	args := map[string]any{"url": "https://example.com/"}
	direct := connectWith(b, "direct", e.web.url, &http.Client{})
	stateless := connectWith(b, "stateless", e.web.statelessURL, &http.Client{})
	for _, pdp := range []struct {
		name string
		pdp  gateway.PDP
	}{{"embedded", embedded}, {"remote", remote}} {
		// The decision alone is asked with the input the gateway builds for this call.
		var input map[string]any
		gw, url := devGateway(b, e, recorder{pdp.pdp, &input}, nil)
		_, tok, _ := gw.StartTask("researcher")
		a := devAgent(b, url, "researcher")
		if res, err := a.call(ctx, tok, "web.fetch_page", args); err != nil || res.IsError {
			b.Fatalf("gateway call: %v %v", err, res)
		}
		b.Run(pdp.name, func(b *testing.B) {
			var dir, sl, via, dec []time.Duration
			var viaTotal time.Duration
			for b.Loop() {
				ts := time.Now()
				if _, err := stateless.session.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_page", Arguments: args}); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if _, err := direct.session.CallTool(ctx, &sdk.CallToolParams{Name: "fetch_page", Arguments: args}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				res, err := a.call(ctx, tok, "web.fetch_page", args)
				if err != nil || res.IsError {
					b.Fatalf("gateway call: %v %v", err, res)
				}
				t2 := time.Now()
				if d, err := pdp.pdp.Decide(ctx, input); err != nil || !d.Allow {
					b.Fatalf("decision: %v %v", err, d)
				}
				t3 := time.Now()
				sl, dir, via, dec = append(sl, t0.Sub(ts)), append(dir, t1.Sub(t0)), append(via, t2.Sub(t1)), append(dec, t3.Sub(t2))
				viaTotal += t2.Sub(t1)
			}
			p := func(l []time.Duration, q int) float64 {
				l = slices.Clone(l)
				slices.Sort(l)
				return float64(l[len(l)*q/100].Microseconds())
			}
			b.ReportMetric(float64(len(via))/viaTotal.Seconds(), "calls/s")
			for _, m := range []struct {
				name string
				l    []time.Duration
			}{{"direct", dir}, {"stateless", sl}, {"gateway", via}, {"decision", dec}} {
				b.ReportMetric(p(m.l, 50), m.name+"-p50-µs")
				b.ReportMetric(p(m.l, 99), m.name+"-p99-µs")
			}
			added50, added99 := p(via, 50)-p(dir, 50), p(via, 99)-p(dir, 99)
			b.ReportMetric(added50, "added-p50-µs")
			b.ReportMetric(added99, "added-p99-µs")
			b.ReportMetric(added50-p(dec, 50), "own-p50-µs")
			b.ReportMetric((added50-p(dec, 50))/p(dec, 50), "own/decision")
		})
	}
}

// recorder passes decisions through and keeps the last input.
type recorder struct {
	gateway.PDP
	last *map[string]any
}

func (r recorder) Decide(ctx context.Context, in map[string]any) (gateway.Decision, error) {
	*r.last = in
	return r.PDP.Decide(ctx, in)
}
