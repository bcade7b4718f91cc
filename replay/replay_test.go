package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/gen"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/replay"
)

func generated(t testing.TB, agents int) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	if err := gen.WriteDir(dir, gen.Options{Agents: agents, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return testtool.Load(t, dir)
}

// replayFile replays the recording in path with p through engine and returns every result.
func replayFile(t *testing.T, p *policy.Policy, engine, path string) []replay.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return replayLog(t, p, engine, filepath.Base(path), f)
}

// replayLog replays the recording rec (named name) with p through engine and returns every
// result, in the order of the calls.
func replayLog(t *testing.T, p *policy.Policy, engine, name string, rec io.Reader) []replay.Result {
	t.Helper()
	ctx := context.Background()
	d, err := replay.NewDecider(ctx, p, engine)
	if err != nil {
		t.Fatal(err)
	}
	rp := replay.New(replay.Side{Policy: p, Decider: d}, nil)
	var out []replay.Result
	err = replay.Read(rec, name, replay.ReadOptions{}, func(c replay.Call) error {
		r, err := rp.Decide(ctx, c)
		out = append(out, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecisionsEqualReference is the differential test: every replayed decision, by the Go
// engine and by the compiled bundle, equals policy.Decide on the reconstructed request as it
// would travel to OPA (JSON), and the two replays reconstruct the same requests.
func TestDecisionsEqualReference(t *testing.T) {
	genTrace := filepath.Join(t.TempDir(), "generated.otlp.jsonl")
	estate := generated(t, 200)
	f, err := os.Create(genTrace)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSpans(f, estate, 3000, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	refunds := testtool.Load(t, "../scenarios/support-refunds")
	for _, tc := range []struct {
		name  string
		p     *policy.Policy
		trace string
	}{
		{"generated", estate, genTrace},
		{"workflow", refunds, workflowTrace},
		{"decision-log", refunds, "testdata/support-refunds.decisions.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goRes := replayFile(t, tc.p, replay.EngineGo, tc.trace)
			regoRes := replayFile(t, tc.p, replay.EngineRego, tc.trace)
			if len(goRes) != len(regoRes) {
				t.Fatalf("go replayed %d calls, rego %d", len(goRes), len(regoRes))
			}
			counts := map[string]int{}
			for i, g := range goRes {
				r := regoRes[i]
				counts[g.Outcome()]++
				if g.Decision != nil && len(g.Decision.Reasons) > 0 {
					counts[g.Decision.Reasons[0].Code]++
				}
				if !reflect.DeepEqual(g.Request, r.Request) || g.NotReplayable != r.NotReplayable {
					t.Fatalf("%s: the engines reconstructed different requests:\n%v\n%v", g.Call.Source, g.Request, r.Request)
				}
				if g.Decision == nil {
					continue
				}
				want := tc.p.Decide(wire(t, g.Request), policy.Env{Now: g.Call.Time})
				if !reflect.DeepEqual(*g.Decision, want) {
					t.Errorf("%s: go replay %+v, policy.Decide %+v", g.Call.Source, *g.Decision, want)
				}
				if !reflect.DeepEqual(*r.Decision, want) {
					t.Errorf("%s: rego replay %+v, policy.Decide %+v\nrequest %s", g.Call.Source, *r.Decision, want, jsonText(g.Request))
				}
			}
			t.Logf("%d calls: %v", len(goRes), counts)
			if tc.name == "generated" {
				for _, o := range []string{policy.OutcomeAllow, policy.OutcomeDeny, policy.OutcomeNeedsApproval, replay.OutcomeNotReplayable} {
					if counts[o] == 0 {
						t.Errorf("no %s call among %v: the generated trace does not exercise every outcome", o, counts)
					}
				}
			}
		})
	}
}

// timedDecider adds up the time spent in d.
type timedDecider struct {
	d     replay.Decider
	spent time.Duration
}

func (t *timedDecider) Decide(ctx context.Context, in map[string]any, env policy.Env) (policy.Decision, error) {
	start := time.Now()
	d, err := t.d.Decide(ctx, in, env)
	t.spent += time.Since(start)
	return d, err
}

// cpuTime is the user and system time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wire returns a request as the runtime receives it: JSON text decoded with numbers kept.
func wire(t *testing.T, req map[string]any) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(jsonText(req))))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// BenchmarkReplay replays generated tool-call spans (OTLP JSON, read from a file) against the
// 10,000-agent estate with the Go reference and reports calls per second and the peak heap
// of the replay above the loaded estate (HeapAlloc sampled every 20ms). The default is 100,000 spans; the 1,000,000 of the
// closing note:
//
//	REPLAY_SPANS=1000000 go test ./replay -run '^$' -bench BenchmarkReplay -benchtime 1x
func BenchmarkReplay(b *testing.B) {
	spans := 100_000
	if s := os.Getenv("REPLAY_SPANS"); s != "" {
		if err := json.Unmarshal([]byte(s), &spans); err != nil {
			b.Fatalf("REPLAY_SPANS: %v", err)
		}
	}
	p := generated(b, 10_000)
	path := filepath.Join(b.TempDir(), "spans.otlp.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeSpans(f, p, spans, 1); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ctx := context.Background()
	d, _ := replay.NewDecider(ctx, p, replay.EngineGo)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	estateHeap := ms.HeapAlloc
	b.ResetTimer()
	for b.Loop() {
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() { // sample the heap while the replay runs
			var ms runtime.MemStats
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > peak.Load() {
						peak.Store(ms.HeapAlloc)
					}
				}
			}
		}()
		start, cpu0 := time.Now(), cpuTime()
		td := &timedDecider{d: d}
		rp := replay.New(replay.Side{Policy: p, Decider: td}, nil)
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var sum replay.Summary
		err = replay.Read(in, "spans", replay.ReadOptions{}, func(c replay.Call) error {
			r, err := rp.Decide(ctx, c)
			sum.Add(&r)
			return err
		})
		in.Close()
		close(done)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Calls != spans {
			b.Fatalf("replayed %d calls, want %d", sum.Calls, spans)
		}
		b.ReportMetric(float64(spans)/time.Since(start).Seconds(), "calls/s")
		// The machine is shared: calls per CPU second is the figure that noise does not move.
		b.ReportMetric(float64(spans)/(cpuTime()-cpu0).Seconds(), "calls/cpu-s")
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), estateHeap))/(1<<20), "peak-heap-MB-above-estate")
		b.ReportMetric(float64(estateHeap)/(1<<20), "estate-heap-MB")
		// The share of the replay spent deciding (the rest reads, maps and rebuilds calls).
		b.ReportMetric(td.spent.Seconds()/time.Since(start).Seconds(), "decide-share")
		b.Logf("%d calls: %d allow, %d deny, %d needs approval, %d not replayable", sum.Calls, sum.Allow, sum.Deny, sum.NeedsApproval, sum.NotReplayable)
	}
}

// TestOTLPOnePerFile reads export requests written pretty-printed, over many lines (one
// request per file, as `otel-cli` or a hand export writes them), exactly as the line form.
func TestOTLPOnePerFile(t *testing.T) {
	raw, err := os.ReadFile(workflowTrace)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		if err := json.Indent(&pretty, line, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), filepath.Base(workflowTrace))
	if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtool.Load(t, "../scenarios/support-refunds")
	want := replayFile(t, p, replay.EngineGo, workflowTrace)
	got := replayFile(t, p, replay.EngineGo, path)
	if len(want) != 12 || !reflect.DeepEqual(got, want) {
		t.Errorf("pretty-printed requests replay differently:\n%+v\nwant %+v", got, want)
	}
}
