package compile_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

// maxWork pins the evaluation work of the benchmark's allowed decisions (OPA's own count of
// expressions evaluated, which unlike latency does not depend on the machine's load), so a
// change to the library that makes the allowed path costlier fails here rather than in a
// noisy benchmark. Raise it only for a reason; lower it when the library gets cheaper.
// Before the allowed path was separated from the denials it took 278 (direct) and 371 (3
// hops) evaluations; the flow rule (labels, FLOW_BLOCKED) added 27 and 33, and the fast path
// (fast_flow) then took them to 122 and 128, and reading the request and each part of the
// model once in the fast path to 77 and 93. Returning the flow sources with the labels
// (every call, docs/runtime.md) added 5 and 5; conditions, lists and the integrity rule add
// nothing to a call that has none.
var maxWork = map[int]int{0: 82, 3: 98}

// TestDecisionWork decides the benchmark's direct and 3-hop requests, checks they are
// allowed within maxWork evaluations, and that the work does not grow with the estate
// (lookups, not scans).
func TestDecisionWork(t *testing.T) {
	ctx := context.Background()
	env := policy.Env{Now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	work := map[int]compile.Work{}
	for _, n := range []int{100, 1000} {
		e := newEngine(t, estate(n))
		for hops, limit := range maxWork {
			d, w, err := e.Work(ctx, roundTrip(t, benchRequest(n, hops)), env)
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != policy.OutcomeAllow {
				t.Fatalf("agents=%d hops=%d: %+v, want allow", n, hops, d)
			}
			t.Logf("agents=%d hops=%d: %s", n, hops, w)
			if w.Evals > limit {
				t.Errorf("agents=%d hops=%d: %d evaluations, want at most %d", n, hops, w.Evals, limit)
			}
			if prev, ok := work[hops]; ok && prev != w {
				t.Errorf("hops=%d: work grows with the estate: %s at 100 agents, %s at %d", hops, prev, w, n)
			}
			work[hops] = w
		}
	}
}
