package simulate_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
	"github.com/agentctl/agentctl/simulate"
)

// estates caches generated and loaded estates across benchmark runs (-count): loading is
// set-up, not what these benchmarks measure (BenchmarkLoad does).
var estates = struct {
	sync.Mutex
	p map[int]*policy.Policy
}{p: map[int]*policy.Policy{}}

func estate(b *testing.B, agents int) *policy.Policy {
	estates.Lock()
	defer estates.Unlock()
	if p := estates.p[agents]; p != nil {
		return p
	}
	dir := b.TempDir()
	if err := gen.WriteDir(dir, gen.Options{Agents: agents, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	p, err := schema.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	estates.p[agents] = p
	return p
}

// BenchmarkScenario is the time of one scenario (what-if, fixpoint, witnesses, approvals,
// expectations) on generated estates of 100, 1,000 and 10,000 agents, excluding the load.
// Each op runs the next scenario of the estate.
func BenchmarkScenario(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			p := estate(b, n)
			if len(p.Scenarios) == 0 {
				b.Fatal("estate has no scenarios")
			}
			est, err := simulate.NewEstate(p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for i := 0; b.Loop(); i++ {
				if _, err := est.Run(p.Scenarios[i%len(p.Scenarios)]); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkNewEstate is the once-per-policy preparation every scenario run shares
// (agent numbering, hand-off adjacency, capability classes).
func BenchmarkNewEstate(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			p := estate(b, n)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, err := simulate.NewEstate(p); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkBlastRadius runs an ad-hoc scenario from every agent of a 1,000-agent estate:
// the blast-radius matrix. One op is the whole matrix.
func BenchmarkBlastRadius(b *testing.B) {
	p := estate(b, 1000)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		est, err := simulate.NewEstate(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range p.Agents {
			if _, err := est.Run(simulate.AdHoc(a.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu.report(b)
}

// BenchmarkLoad is the load time of the same estates (schema.Load of the generated CUE), so
// the scenario cost can be set against it in one run.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := gen.WriteDir(dir, gen.Options{Agents: n, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			cpu := startCPU()
			for b.Loop() {
				if _, err := schema.Load(dir); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// cpuClock measures process CPU time over a benchmark loop.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPU()
	return cpuClock{t, ok}
}

// report adds cpu-ns/op: process CPU time per op, which waiting for a core on a shared
// machine does not inflate (wall-clock ns/op does).
func (c cpuClock) report(b *testing.B) {
	end, ok := processCPU()
	if c.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(b.N), "cpu-ns/op")
	}
}
