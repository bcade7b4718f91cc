package compile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

var diffNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// decodeJSON re-reads v the way a server would receive it (numbers as json.Number).
func decodeJSON(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func roundTrip(t testing.TB, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, raw)
}

// compileBundle compiles p, failing the test on error.
func compileBundle(t testing.TB, p *policy.Policy) *bundle.Bundle {
	t.Helper()
	b, err := compile.Bundle(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newEngine compiles p and prepares its decision query, failing the test on error.
func newEngine(t testing.TB, p *policy.Policy) *compile.Engine {
	t.Helper()
	e, err := compile.NewEngine(context.Background(), compileBundle(t, p))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// errRefused marks a request OPA refuses before deciding: a number its parser rejects
// ("1e40000"). An OPA server answers such a request with an error, not a decision.
var errRefused = errors.New("OPA refuses the input")

// decideBoth decides input with both engines, given the revocations and runtime lists e
// holds, and returns the decision, or an error when they differ (or errRefused when OPA
// cannot take the input).
func decideBoth(p *policy.Policy, e *compile.Engine, input, rev, lists any) (policy.Decision, error) {
	ctx := context.Background()
	if _, err := ast.InterfaceToValue(input); err != nil {
		return policy.Decision{}, errRefused
	}
	env := policy.Env{Revocations: rev, Lists: lists, Now: diffNow}
	want := p.Decide(input, env)
	got, err := e.Decide(ctx, input, env)
	if err != nil {
		return policy.Decision{}, err
	}
	if !reflect.DeepEqual(got, want) {
		in, _ := json.Marshal(input)
		rv, _ := json.Marshal(rev)
		ls, _ := json.Marshal(lists)
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		return want, fmt.Errorf("engines disagree\ninput: %s\nrevocations: %s\nlists: %s\nrego: %s\ngo:   %s", in, rv, ls, g, w)
	}
	return want, nil
}

// agree decides input with both engines and fails the test when they differ.
func agree(t testing.TB, p *policy.Policy, e *compile.Engine, input, rev any) policy.Decision {
	t.Helper()
	return agreeWith(t, p, e, input, rev, nil)
}

// agreeWith is agree with runtime lists (data.agentctl_lists).
func agreeWith(t testing.TB, p *policy.Policy, e *compile.Engine, input, rev, lists any) policy.Decision {
	t.Helper()
	ctx := context.Background()
	if err := e.SetRevocations(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLists(ctx, lists); err != nil {
		t.Fatal(err)
	}
	d, err := decideBoth(p, e, input, rev, lists)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var requests = flag.Int("requests", 0, "random requests TestDifferential decides (0: 3,000, or 1,200 with -short)")

// tally counts what the random requests reached, so the test can require every outcome.
type tally struct {
	requests, refused, sources int
	outcomes, codes            map[string]int
	flows                      map[policy.Flow]int // by labels
}

func (a *tally) add(b tally) {
	a.requests += b.requests
	a.refused += b.refused
	a.sources += b.sources
	for k, v := range b.outcomes {
		a.outcomes[k] += v
	}
	for k, v := range b.codes {
		a.codes[k] += v
	}
	for k, v := range b.flows {
		a.flows[k] += v
	}
}

func newTally() tally {
	return tally{outcomes: map[string]int{}, codes: map[string]int{}, flows: map[policy.Flow]int{}}
}

// TestDifferential decides random requests (malformed ones, timestamps across the whole
// range RFC 3339 writes and extreme numbers included) on random policies with the Go
// reference and the compiled Rego, and requires identical decisions. The long run:
//
//	go test ./compile -run '^TestDifferential$' -count=1 -timeout 6h -v -args -requests=1000000
func TestDifferential(t *testing.T) {
	total, perPolicy := 3000, 40
	if testing.Short() {
		total = 1200
	}
	if *requests > 0 {
		total = *requests
		if total >= 10_000 {
			perPolicy = 400 // fewer compilations for the same variety of requests
		}
	}
	policies := (total + perPolicy - 1) / perPolicy
	sum := newTally()
	var mu sync.Mutex
	var failure error
	seeds := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				n := min(perPolicy, total-seed*perPolicy)
				got, err := differentialPolicy(uint64(seed), n)
				mu.Lock()
				if before := sum.requests; *requests > 0 && (before+got.requests)/25_000 > before/25_000 {
					t.Logf("%d requests, 0 mismatches, %v", before+got.requests, time.Since(start).Round(time.Second))
				}
				sum.add(got)
				if err != nil && failure == nil {
					failure = fmt.Errorf("policy seed %d: %w", seed, err)
				}
				mu.Unlock()
			}
		}()
	}
	for seed := range policies {
		mu.Lock()
		failed := failure != nil
		mu.Unlock()
		if failed {
			break
		}
		seeds <- seed
	}
	close(seeds)
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	// The generator must reach every outcome and code, or the agreement proves little.
	if sum.sources == 0 {
		t.Error("no random request returned flow sources")
	}
	for _, o := range []string{policy.OutcomeAllow, policy.OutcomeDeny, policy.OutcomeNeedsApproval, "fast path", "fast path with sources"} {
		if sum.outcomes[o] == 0 {
			t.Errorf("no random request had outcome %s (outcomes %v)", o, sum.outcomes)
		}
	}
	for _, f := range []policy.Flow{{}, {Untrusted: true}, {Sensitive: true}, {Untrusted: true, Sensitive: true}} {
		if sum.flows[f] == 0 {
			t.Errorf("no random request returned flow %+v (flows %v)", f, sum.flows)
		}
	}
	for _, c := range append(policy.ReasonCodes, "FLOW_BLOCKED deny", "FLOW_BLOCKED needs_approval", "INTEGRITY_BLOCKED deny",
		"INTEGRITY_BLOCKED needs_approval", "SESSION_LIMIT duration", "CREDENTIAL_EXPIRED at") {
		if sum.codes[c] == 0 {
			t.Errorf("no random request produced %s (codes %v)", c, sum.codes)
		}
	}
	if sum.refused == sum.requests {
		t.Error("OPA refused every random request")
	}
	t.Logf("%d requests on %d policies in %v, 0 mismatches (%d refused by OPA's number parser, not compared): outcomes %v, codes %v",
		sum.requests, policies, time.Since(start).Round(time.Second), sum.refused, sum.outcomes, sum.codes)
}

// differentialPolicy decides n random requests on the random policy of seed with both
// engines, and checks that whatever the fast path allows the full rules allow with the same
// flow.
func differentialPolicy(seed uint64, n int) (tally, error) {
	ctx := context.Background()
	sum := newTally()
	r := rand.New(rand.NewPCG(seed, 7))
	p := randomPolicy(r)
	b, err := compile.Bundle(p)
	if err != nil {
		return sum, err
	}
	e, err := compile.NewEngine(ctx, b)
	if err != nil {
		return sum, err
	}
	fast, err := compile.NewFastEngine(ctx, b)
	if err != nil {
		return sum, err
	}
	var heldRev, heldLists any // what both engines hold
	for i := range n {
		req, revocations := randomRequest(r, p)
		in, err := compile.RoundTrip(req)
		if err != nil {
			return sum, err
		}
		rev, err := compile.RoundTrip(revocations)
		if err != nil {
			return sum, err
		}
		lists, err := compile.RoundTrip(randomLists(r))
		if err != nil {
			return sum, err
		}
		sum.requests++
		// Writing data costs more than a decision: only when it changes.
		for _, engine := range []*compile.Engine{e, fast} {
			if i == 0 || !reflect.DeepEqual(rev, heldRev) {
				if err := engine.SetRevocations(ctx, rev); err != nil {
					return sum, err
				}
			}
			if i == 0 || !reflect.DeepEqual(lists, heldLists) {
				if err := engine.SetLists(ctx, lists); err != nil {
					return sum, err
				}
			}
		}
		heldRev, heldLists = rev, lists
		d, err := decideBoth(p, e, in, rev, lists)
		if errors.Is(err, errRefused) {
			sum.refused++
			continue
		}
		if err != nil {
			return sum, err
		}
		flow, ok, err := fast.FastFlow(ctx, in, policy.Env{Now: diffNow})
		if err != nil {
			return sum, err
		}
		if ok {
			sum.outcomes["fast path"]++
			if d.Outcome != policy.OutcomeAllow || !reflect.DeepEqual(flow, d.Flow) {
				raw, _ := json.Marshal(in)
				return sum, fmt.Errorf("fast path allows with %+v, the full decision is %+v\ninput: %s", flow, d, raw)
			}
		}
		sum.outcomes[d.Outcome]++
		sum.flows[policy.Flow{Untrusted: d.Flow.Untrusted, Sensitive: d.Flow.Sensitive}]++
		if d.Flow.Sources != nil {
			sum.sources++
			if ok {
				sum.outcomes["fast path with sources"]++
			}
		}
		for _, reason := range d.Reasons {
			sum.codes[reason.Code]++
			switch {
			case reason.Code == policy.CodeFlowBlocked || reason.Code == policy.CodeIntegrityBlocked:
				sum.codes[reason.Code+" "+d.Outcome]++
			case strings.Contains(reason.Message, "exceeded its session duration"):
				sum.codes["SESSION_LIMIT duration"]++
			case strings.HasPrefix(reason.Message, "credential expired at"):
				sum.codes["CREDENTIAL_EXPIRED at"]++
			}
		}
	}
	return sum, nil
}

// FuzzDifferential lets the fuzzer mutate the request JSON, the revocations, the runtime
// lists and the policy seed:
//
//	go test ./compile -run '^$' -fuzz FuzzDifferential -fuzztime 60s
func FuzzDifferential(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		p := randomPolicy(r)
		in, rev := randomRequest(r, p)
		raw, _ := json.Marshal(in)
		rraw, _ := json.Marshal(rev)
		lraw, _ := json.Marshal(randomLists(r))
		f.Add(seed, raw, rraw, lraw)
	}
	f.Add(uint64(1), []byte(`[]`), []byte(`null`), []byte(`null`))
	f.Add(uint64(2), []byte(`{"agent":"agent0","tool":"crm","action":"read","chain":["agent0"]}`), []byte(`{"agents":{"agent0":false}}`), []byte(`null`))
	// Flow labels, and approvers that are one person, an agent, or no canonical name at all.
	f.Add(uint64(3), []byte(`{"agent":"agent1","tool":"crm","action":"write","session":{"flow":{"untrusted":true,"sensitive":true}},"approvals":[{"approver":"Dana","role":"Security-Reviewer","human":true},{"approver":"dana","role":"security-reviewer","human":true}]}`), []byte(`null`), []byte(`null`))
	f.Add(uint64(4), []byte(`{"agent":"agent2","tool":"kb","action":"export","session":{"flow":{"untrusted":"yes"}},"approvals":[{"approver":"fraud\u2011review","role":"sre","human":true},{"approver":"AGENT0","role":"sre","human":true}]}`), []byte(`null`), []byte(`null`))
	f.Add(uint64(5), []byte(`{"agent":"agent3","tool":"payments","action":"refund","session":{"flow":[]},"approvals":[{"approver":"dana ","role":"sre"}]}`), []byte(`null`), []byte(`null`))
	// Times 349 years apart (int64 nanoseconds wrap), OPA's first and last timestamps, offsets
	// and fractions, and numbers beyond float64 precision and range (issue 20).
	for seed := range uint64(5) {
		f.Add(seed, []byte(`{"agent":"agent0","tool":"crm","action":"read","now":"2026-11-27T09:30:00Z","session":{"actions":0,"started_at":"1677-12-31T23:59:59Z"}}`), []byte(`null`), []byte(`null`))
		f.Add(seed, []byte(`{"agent":"agent1","tool":"crm","action":"read","now":"1677-09-21T00:12:43.145224192Z","session":{"actions":9.`+strings.Repeat("9", 200)+`,"started_at":"2262-04-11T23:47:16.854775807+23:59"},"credential":{"expires_at":"0001-01-01T00:00:00,5-00:00"}}`), []byte(`null`), []byte(`null`))
		f.Add(seed, []byte(`{"agent":"agent2","tool":"payments","action":"refund","attributes":{"amount":999.`+strings.Repeat("0", 200)+`1,"odd \"key\"":1e30000},"session":{"actions":1e-30000}}`), []byte(`null`), []byte(`null`))
	}
	engines := map[uint64]*compile.Engine{}
	// Conditions on absent, mistyped and listed attributes, a keyed runtime list, sources.
	f.Add(uint64(6), []byte(`{"agent":"agent1","tool":"crm","action":"read","task":"t1","attributes":{"recipient":"acme","amount":5},"session":{"flow":{"untrusted":true,"sources":{"untrusted":["kb.read"]}}}}`), []byte(`null`), []byte(`{"named":{"t1":["acme",42]},"blocked":["evil"]}`))
	f.Fuzz(func(t *testing.T, seed uint64, raw, rraw, lraw []byte) {
		seed %= 64
		var in, rev, lists any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&in) != nil || dec.More() {
			t.Skip("not one JSON value")
		}
		dec = json.NewDecoder(bytes.NewReader(rraw))
		dec.UseNumber()
		if dec.Decode(&rev) != nil || dec.More() {
			t.Skip("not one JSON value")
		}
		dec = json.NewDecoder(bytes.NewReader(lraw))
		dec.UseNumber()
		if dec.Decode(&lists) != nil || dec.More() {
			t.Skip("not one JSON value")
		}
		p := randomPolicy(rand.New(rand.NewPCG(seed, 7)))
		e, ok := engines[seed]
		if !ok {
			e = newEngine(t, p)
			engines[seed] = e
		}
		if err := e.SetRevocations(context.Background(), rev); err != nil {
			t.Fatal(err)
		}
		if err := e.SetLists(context.Background(), lists); err != nil {
			t.Fatal(err)
		}
		if _, err := decideBoth(p, e, in, rev, lists); err != nil && !errors.Is(err, errRefused) {
			t.Fatal(err)
		}
	})
}
