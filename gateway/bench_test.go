package gateway_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/gateway"
)

// BenchmarkToolCall times one tools/call of web.fetch_page (a Go MCP server over Streamable
// HTTP on loopback) made by a Go SDK client: straight to the server, through the gateway
// with OPA embedded, and through the gateway asking an OPA server; and, for each PDP, the
// decision alone as the gateway asks it. It reports calls/s and p50/p99 latency.
//
//	go test ./gateway -run '^$' -bench ToolCall -benchtime 2000x
func BenchmarkToolCall(b *testing.B) {
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
	args := map[string]any{"url": "https://example.com/"}
	b.Run("direct", func(b *testing.B) {
		a := connectWith(b, "direct", e.web.url, &http.Client{})
		timeCalls(b, func() error {
			_, err := a.session.CallTool(context.Background(), &sdk.CallToolParams{Name: "fetch_page", Arguments: args})
			return err
		})
	})
	for _, pdp := range []struct {
		name string
		pdp  gateway.PDP
	}{{"embedded", embedded}, {"remote", remote}} {
		gw, url := devGateway(b, e, pdp.pdp, nil)
		_, tok, _ := gw.StartTask("researcher")
		b.Run("gateway-"+pdp.name, func(b *testing.B) {
			a := devAgent(b, url, "researcher")
			timeCalls(b, func() error {
				res, err := a.call(context.Background(), tok, "web.fetch_page", args)
				if err == nil && res.IsError {
					b.Fatalf("refused: %s", text(res))
				}
				return err
			})
		})
		in := map[string]any{"agent": "researcher", "identity": "spiffe://example.org/agents/researcher", "tool": "web", "action": "fetch_page",
			"chain": []any{"researcher"}, "task": "t-1", "now": time.Now().UTC().Format(time.RFC3339Nano),
			"session": map[string]any{"actions": 3, "started_at": time.Now().UTC().Format(time.RFC3339Nano)}, "attributes": map[string]any{"url": "https://example.com/"}}
		b.Run("decision-"+pdp.name, func(b *testing.B) {
			timeCalls(b, func() error {
				d, err := pdp.pdp.Decide(context.Background(), in)
				if err == nil && !d.Allow {
					b.Fatalf("denied: %v", d.Reasons)
				}
				return err
			})
		})
	}
}

// timeCalls runs call b.N times and reports calls/s, p50 and p99 in microseconds.
func timeCalls(b *testing.B, call func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	total := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/total.Seconds(), "calls/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
