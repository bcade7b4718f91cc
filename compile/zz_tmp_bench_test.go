package compile_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

func BenchmarkZZRego(b *testing.B) {
	p := estate(100)
	bundle, _ := compile.Bundle(p)
	e, _ := compile.NewEngine(context.Background(), bundle)
	in := benchRequest(100, 3)
	env := policy.Env{Now: time.Now()}
	ctx := context.Background()
	lat := make(latencies, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		e.Decide(ctx, in, env)
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(lat.percentile(0.5), "p50-µs")
}
