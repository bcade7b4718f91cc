package lint_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/report"
	"github.com/agentctl/agentctl/schema"
)

// BenchmarkLint measures lint on generated estates of 100, 1,000 and 10,000 agents, loading
// excluded, next to the load itself (what `vet` does), so one run gives both medians:
//
//	go test ./lint -run '^$' -bench . -count 5 -benchtime 3x
//
// The target: lint adds less than 10% to the load time at 10,000 agents. Besides wall time
// each case reports cpu-ms/op (process CPU time, GC included), steadier on a shared machine.
func BenchmarkLint(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		dir := b.TempDir()
		if err := gen.WriteDir(dir, gen.Options{Agents: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("load/agents=%d", n), func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				if _, err := schema.Load(dir); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		p, err := schema.Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		// Collect the loads' garbage first so that lint is measured on its own.
		runtime.GC()
		b.Run(fmt.Sprintf("lint/agents=%d", n), func(b *testing.B) {
			var findings int
			start := cpuTime()
			for b.Loop() {
				findings = len(lint.Run(p, lint.Options{}))
			}
			reportCPU(b, start)
			b.ReportMetric(float64(findings), "findings")
		})
		// Rendering the default table, which `agentctl lint` adds on top.
		fs := lint.Run(p, lint.Options{})
		b.Run(fmt.Sprintf("table/agents=%d", n), func(b *testing.B) {
			for b.Loop() {
				doc := report.Findings{Rules: report.LintRules(lint.Checks()), Findings: report.LintFindings(fs, lint.High), Files: p.Files, FailOn: "high"}
				if err := report.FindingsTable(io.Discard, doc, nil, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the process CPU time per operation since start, in milliseconds.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(d.Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}
