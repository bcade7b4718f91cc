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
	ctx := context.Background()
	if err := e.SetRevocations(ctx, rev); err != nil {
		t.Fatal(err)
	}
	env := policy.Env{Revocations: rev, Now: diffNow}
	want := p.Decide(input, env)
	got, err := e.Decide(ctx, input, env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		in, _ := json.Marshal(input)
		rv, _ := json.Marshal(rev)
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("engines disagree\ninput: %s\nrevocations: %s\nrego: %s\ngo:   %s", in, rv, g, w)
	}
	return want
}

// TestDifferential decides thousands of random requests (malformed ones included) on random
// policies with the Go reference and the compiled Rego, and requires identical decisions.
func TestDifferential(t *testing.T) {
	policies, perPolicy := 75, 40
	if testing.Short() {
		policies = 20
	}
	outcomes := map[string]int{}
	codes := map[string]int{}
	flows := map[policy.Flow]int{}
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
			in, rev := roundTrip(t, req), roundTrip(t, revocations)
			d := agree(t, p, e, in, rev)
			// Whatever the fast path allows, the full rules allow with the same labels.
			if err := fast.SetRevocations(ctx, rev); err != nil {
				t.Fatal(err)
			}
			flow, ok, err := fast.FastFlow(ctx, in, policy.Env{Now: diffNow})
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				outcomes["fast path"]++
				if d.Outcome != policy.OutcomeAllow || flow != d.Flow {
					raw, _ := json.Marshal(in)
					t.Fatalf("fast path allows with %+v, the full decision is %+v\ninput: %s", flow, d, raw)
				}
			}
			outcomes[d.Outcome]++
			flows[d.Flow]++
			for _, reason := range d.Reasons {
				codes[reason.Code]++
				if reason.Code == policy.CodeFlowBlocked {
					codes[reason.Code+" "+d.Outcome]++
				}
			}
		}
	}
	// The generator must reach every outcome and code, or the agreement proves little.
	for _, o := range []string{policy.OutcomeAllow, policy.OutcomeDeny, policy.OutcomeNeedsApproval, "fast path"} {
		if outcomes[o] == 0 {
			t.Errorf("no random request had outcome %s (outcomes %v)", o, outcomes)
		}
	}
	for _, f := range []policy.Flow{{}, {Untrusted: true}, {Sensitive: true}, {Untrusted: true, Sensitive: true}} {
		if flows[f] == 0 {
			t.Errorf("no random request returned flow %+v (flows %v)", f, flows)
		}
	}
	for _, c := range append(policy.ReasonCodes, "FLOW_BLOCKED deny", "FLOW_BLOCKED needs_approval") {
		if codes[c] == 0 {
			t.Errorf("no random request produced %s (codes %v)", c, codes)
		}
	}
	t.Logf("%d cases: outcomes %v, codes %v", policies*perPolicy, outcomes, codes)
}

// FuzzDifferential lets the fuzzer mutate the request JSON and the policy seed:
//
//	go test ./compile -run '^$' -fuzz FuzzDifferential -fuzztime 60s
func FuzzDifferential(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		p := randomPolicy(r)
		in, rev := randomRequest(r, p)
		raw, _ := json.Marshal(in)
		rraw, _ := json.Marshal(rev)
		f.Add(seed, raw, rraw)
	}
	f.Add(uint64(1), []byte(`[]`), []byte(`null`))
	f.Add(uint64(2), []byte(`{"agent":"agent0","tool":"crm","action":"read","chain":["agent0"]}`), []byte(`{"agents":{"agent0":false}}`))
	// Flow labels, and approvers that are one person, an agent, or no canonical name at all.
	f.Add(uint64(3), []byte(`{"agent":"agent1","tool":"crm","action":"write","session":{"flow":{"untrusted":true,"sensitive":true}},"approvals":[{"approver":"Dana","role":"Security-Reviewer","human":true},{"approver":"dana","role":"security-reviewer","human":true}]}`), []byte(`null`))
	f.Add(uint64(4), []byte(`{"agent":"agent2","tool":"kb","action":"export","session":{"flow":{"untrusted":"yes"}},"approvals":[{"approver":"fraud\u2011review","role":"sre","human":true},{"approver":"AGENT0","role":"sre","human":true}]}`), []byte(`null`))
	f.Add(uint64(5), []byte(`{"agent":"agent3","tool":"payments","action":"refund","session":{"flow":[]},"approvals":[{"approver":"dana ","role":"sre"}]}`), []byte(`null`))
	engines := map[uint64]*compile.Engine{}
	f.Fuzz(func(t *testing.T, seed uint64, raw, rraw []byte) {
		seed %= 64
		var in, rev any
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
		p := randomPolicy(rand.New(rand.NewPCG(seed, 7)))
		e, ok := engines[seed]
		if !ok {
			e = newEngine(t, p)
			engines[seed] = e
		}
		agree(t, p, e, in, rev)
	})
}
