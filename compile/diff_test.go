package compile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

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
	env := policy.Env{Revocations: rev, Lists: lists, Now: diffNow}
	want := p.Decide(input, env)
	got, err := e.Decide(ctx, input, env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		in, _ := json.Marshal(input)
		rv, _ := json.Marshal(rev)
		ls, _ := json.Marshal(lists)
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("engines disagree\ninput: %s\nrevocations: %s\nlists: %s\nrego: %s\ngo:   %s", in, rv, ls, g, w)
	}
	return want
}

// TestDifferential decides thousands of random requests (malformed ones included) on random
// policies with the Go reference and the compiled Rego, and requires identical decisions.
func TestDifferential(t *testing.T) {
	policies, perPolicy := 75, 40
	if testing.Short() {
		policies = 30
	}
	outcomes := map[string]int{}
	codes := map[string]int{}
	flows := map[policy.Flow]int{} // by labels
	sources := 0
	ctx := context.Background()
	for seed := range policies {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		p := randomPolicy(r)
		e := newEngine(t, p)
		fast, err := compile.NewFastEngine(ctx, compileBundle(t, p))
		if err != nil {
			t.Fatal(err)
		}
		for range perPolicy {
			req, revocations := randomRequest(r, p)
			in, rev, lists := roundTrip(t, req), roundTrip(t, revocations), roundTrip(t, randomLists(r))
			d := agreeWith(t, p, e, in, rev, lists)
			// Whatever the fast path allows, the full rules allow with the same labels.
			if err := fast.SetRevocations(ctx, rev); err != nil {
				t.Fatal(err)
			}
			if err := fast.SetLists(ctx, lists); err != nil {
				t.Fatal(err)
			}
			flow, ok, err := fast.FastFlow(ctx, in, policy.Env{Now: diffNow})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				outcomes["fast path"]++
				if d.Outcome != policy.OutcomeAllow || !reflect.DeepEqual(flow, d.Flow) {
					raw, _ := json.Marshal(in)
					t.Fatalf("fast path allows with %+v, the full decision is %+v\ninput: %s", flow, d, raw)
				}
			}
			outcomes[d.Outcome]++
			flows[policy.Flow{Untrusted: d.Flow.Untrusted, Sensitive: d.Flow.Sensitive}]++
			if d.Flow.Sources != nil {
				sources++
				if ok {
					outcomes["fast path with sources"]++
				}
			}
			for _, reason := range d.Reasons {
				codes[reason.Code]++
				if reason.Code == policy.CodeFlowBlocked || reason.Code == policy.CodeIntegrityBlocked {
					codes[reason.Code+" "+d.Outcome]++
				}
			}
		}
	}
	// The generator must reach every outcome and code, or the agreement proves little.
	if sources == 0 {
		t.Error("no random request returned flow sources")
	}
	for _, o := range []string{policy.OutcomeAllow, policy.OutcomeDeny, policy.OutcomeNeedsApproval, "fast path", "fast path with sources"} {
		if outcomes[o] == 0 {
			t.Errorf("no random request had outcome %s (outcomes %v)", o, outcomes)
		}
	}
	for _, f := range []policy.Flow{{}, {Untrusted: true}, {Sensitive: true}, {Untrusted: true, Sensitive: true}} {
		if flows[f] == 0 {
			t.Errorf("no random request returned flow %+v (flows %v)", f, flows)
		}
	}
	for _, c := range append(policy.ReasonCodes, "FLOW_BLOCKED deny", "FLOW_BLOCKED needs_approval", "INTEGRITY_BLOCKED deny", "INTEGRITY_BLOCKED needs_approval") {
		if codes[c] == 0 {
			t.Errorf("no random request produced %s (codes %v)", c, codes)
		}
	}
	t.Logf("%d cases: outcomes %v, codes %v", policies*perPolicy, outcomes, codes)
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
		agreeWith(t, p, e, in, rev, lists)
	})
}
