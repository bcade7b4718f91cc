package compile

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/agentctl/agentctl/policy"
)

// CaseResult is one policy test decided by both engines.
type CaseResult struct {
	Test   *policy.Test
	Go     policy.Decision
	Rego   policy.Decision
	Agree  bool   // the engines returned the same decision
	Passed bool   // they agree and the decision meets the expectation
	Why    string // why it failed, empty when it passed
}

// RunTests decides every test of p with the Go reference and with the compiled Rego
// (in-process), and checks the expectations. A test passes when both engines agree, the
// outcome is as expected and, if a code is expected, some reason carries it.
func RunTests(ctx context.Context, p *policy.Policy, b *bundle.Bundle) ([]CaseResult, error) {
	e, err := NewEngine(ctx, b)
	if err != nil {
		return nil, err
	}
	out := make([]CaseResult, 0, len(p.Tests))
	for _, t := range p.Tests {
		input, err := roundTrip(t.Input)
		if err != nil {
			return nil, fmt.Errorf("test %s: input: %w", t.Name, err)
		}
		var lists any
		if t.Lists != nil {
			if lists, err = roundTrip(t.Lists); err != nil {
				return nil, fmt.Errorf("test %s: lists: %w", t.Name, err)
			}
		}
		if err := e.SetLists(ctx, lists); err != nil {
			return nil, fmt.Errorf("test %s: %w", t.Name, err)
		}
		env := policy.Env{Lists: lists, Now: policy.TestClock}
		r := CaseResult{Test: t, Go: p.Decide(input, env)}
		if r.Rego, err = e.Decide(ctx, input, env); err != nil {
			return nil, fmt.Errorf("test %s: %w", t.Name, err)
		}
		r.Agree = reflect.DeepEqual(r.Go, r.Rego)
		r.Why = expectationFailure(t.Expect, r.Go)
		if !r.Agree {
			r.Why = fmt.Sprintf("engines disagree: Go says %s, Rego says %s", summary(r.Go), summary(r.Rego))
		}
		r.Passed = r.Why == ""
		out = append(out, r)
	}
	return out, nil
}

// expectationFailure says why d does not meet the expectation, "" when it does.
func expectationFailure(want policy.TestExpect, d policy.Decision) string {
	if !want.Met(d) {
		return fmt.Sprintf("expected %s, got %s", want, summary(d))
	}
	return ""
}

// summary is "outcome CODE: message" of a decision's primary reason.
func summary(d policy.Decision) string {
	if len(d.Reasons) == 0 {
		return d.Outcome
	}
	return fmt.Sprintf("%s %s: %s", d.Outcome, d.Reasons[0].Code, d.Reasons[0].Message)
}

// RegoTests runs the bundle's generated Rego tests with OPA's test runner, as `opa test`
// would, and returns the names of the failing ones.
func RegoTests(ctx context.Context, b *bundle.Bundle) (failed []string, err error) {
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	err = storage.Txn(ctx, store, storage.WriteParams, func(txn storage.Transaction) error {
		ch, err := tester.NewRunner().SetStore(store).SetBundles(map[string]*bundle.Bundle{"agentctl": b}).RunTests(ctx, txn)
		if err != nil {
			return err
		}
		for r := range ch {
			if r.Error != nil || r.Fail {
				failed = append(failed, r.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run Rego tests: %w", err)
	}
	return failed, nil
}

// maxDifferential bounds the requests Verify generates.
const maxDifferential = 5000

// Verify proves a bundle before it is written: its generated Rego tests pass, and the
// compiled Rego decides like the Go reference on every test input and on requests built
// from the model (each agent calling each declared capability directly and after each
// hand-off into it).
func Verify(ctx context.Context, p *policy.Policy, b *bundle.Bundle) error {
	failed, err := RegoTests(ctx, b)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("generated Rego tests failed: %s", strings.Join(failed, ", "))
	}
	e, err := NewEngine(ctx, b)
	if err != nil {
		return err
	}
	env := policy.Env{Now: policy.TestClock}
	for _, in := range verifyRequests(p) {
		want := p.Decide(in, env)
		got, err := e.Decide(ctx, in, env)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			req, _ := json.Marshal(in)
			return fmt.Errorf("engines disagree on %s: Go says %s, Rego says %s", req, summary(want), summary(got))
		}
	}
	return nil
}

func verifyRequests(p *policy.Policy) []any {
	var out []any
	for _, t := range p.Tests {
		if in, err := roundTrip(t.Input); err == nil {
			out = append(out, in)
		}
	}
	ix := p.Caps()
	for _, a := range p.Agents {
		chains := [][]any{{a.Name}}
		for _, h := range p.Handoffs {
			if h.To == a.Name {
				chains = append(chains, []any{h.From, a.Name})
			}
		}
		for id := 0; id < ix.Len(); id++ {
			act := ix.Action(id)
			for _, c := range chains {
				if len(out) >= maxDifferential {
					return out
				}
				in := map[string]any{"agent": a.Name, "tool": act.Tool, "action": act.Name, "chain": c,
					"identity": a.SpiffeID, "resource": "r/1"}
				out = append(out, in)
			}
		}
	}
	return out
}
