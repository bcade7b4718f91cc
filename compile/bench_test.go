package compile_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

// estate builds an n-agent estate: n/10 tools of four actions, three grants per agent (one
// resource-scoped), a hand-off ring i -> i+1 cycling through the three modes, and an
// approval rule on payments, so a 3-hop chain exercises every part of the decision.
func estate(n int) *policy.Policy {
	p := &policy.Policy{Settings: policy.Settings{MaxChainDepth: 3}}
	tools := max(1, n/10)
	for i := range tools {
		name := fmt.Sprintf("tool%d", i)
		t := &policy.Tool{Name: name}
		for j, eff := range []string{"read", "write", "payment", "export"} {
			t.Actions = append(t.Actions, &policy.Action{Tool: name, Name: fmt.Sprintf("act%d", j), Effect: eff, Data: "internal"})
		}
		p.Tools = append(p.Tools, t)
	}
	modes := []string{policy.ModeDelegate, policy.ModeForwardCredentials, policy.ModeAttenuate}
	for i := range n {
		a := &policy.Agent{Name: fmt.Sprintf("agent%d", i), SpiffeID: fmt.Sprintf("spiffe://bench/agent%d", i)}
		for k := range 3 {
			g := &policy.Grant{Tool: fmt.Sprintf("tool%d", (i+k)%tools), Actions: []string{"act0", "act1", "act2"}}
			if k == 0 {
				g.Resources = []string{"accounts/*", "shared/reports"}
			}
			a.Grants = append(a.Grants, g)
		}
		p.Agents = append(p.Agents, a)
		p.Handoffs = append(p.Handoffs, &policy.Handoff{From: a.Name, To: fmt.Sprintf("agent%d", (i+1)%n), Mode: modes[i%3], Index: i})
	}
	p.Approvals = []*policy.Approval{{Name: "payments", Match: policy.Match{Effects: []string{"payment"}},
		Threshold: &policy.Threshold{Attribute: "amount", Above: 100}, Require: policy.Require{Approvers: 1, Role: "finance"}}}
	p.Index()
	return p
}

// benchRequest asks agent (n/2+hops) for a capability that survives a chain of hops hand-offs.
func benchRequest(n, hops int) map[string]any {
	start := n / 2
	var chain []any
	for i := start; i <= start+hops; i++ {
		chain = append(chain, fmt.Sprintf("agent%d", i%n))
	}
	last := start + hops
	return map[string]any{
		"agent": chain[len(chain)-1], "identity": fmt.Sprintf("spiffe://bench/agent%d", last%n),
		"tool": fmt.Sprintf("tool%d", last%max(1, n/10)), "action": "act2", "resource": "accounts/42",
		"chain": chain, "attributes": map[string]any{"amount": 500}, "now": "2026-11-27T09:30:00Z",
		"approvals": []any{map[string]any{"approver": "dana", "role": "finance", "human": true}},
	}
}

type latencies []time.Duration

func (l latencies) percentile(q float64) float64 {
	s := slices.Clone(l)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Nanoseconds()) / 1e3
}

// BenchmarkDecision measures decision latency with a prepared query on bundles of 100,
// 1,000 and 10,000 agents, for a direct call and a 3-hop chain, allowed and denied (the
// same request with another workload's SPIFFE ID). Each iteration times, interleaved so that
// all see the same machine load, the single-lookup floor (data.agentctl_model.agents[
// input.agent], on the same store), the compiled decision (both with parsed input, as an
// OPA server evaluates them) and the Go reference. It reports the p50 and p99 (µs) of each,
// the decision's p50 and p99 as multiples of the floor's p50 (target for the allowed 3-hop
// decision at 10,000 agents: 6 and 15), and the expressions OPA evaluates (rego-evals,
// load-independent):
//
//	go test ./compile -run '^$' -bench 'Decision$' -benchtime 2000x
func BenchmarkDecision(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		p := estate(n)
		bundle := compileBundle(b, p)
		e, err := compile.NewEngine(context.Background(), bundle)
		if err != nil {
			b.Fatal(err)
		}
		decision := queryEngine(b, bundle, compile.Query)
		floor := queryEngine(b, bundle, "data.agentctl_model.agents[input.agent]")
		for _, hops := range []int{0, 3} {
			for _, outcome := range []string{policy.OutcomeAllow, policy.OutcomeDeny} {
				in := benchRequest(n, hops)
				if outcome == policy.OutcomeDeny {
					in["identity"] = "spiffe://bench/intruder"
				}
				b.Run(fmt.Sprintf("agents=%d/hops=%d/%s", n, hops, outcome), func(b *testing.B) {
					measure(b, p, e, decision, floor, in, outcome)
				})
			}
		}
	}
}

func queryEngine(b *testing.B, bundle *bundle.Bundle, query string) *compile.Engine {
	e, err := compile.NewQueryEngine(context.Background(), bundle, query)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func measure(b *testing.B, p *policy.Policy, e, decision, floor *compile.Engine, in map[string]any, outcome string) {
	ctx := context.Background()
	env := policy.Env{Now: time.Now()}
	want := p.Decide(in, env)
	got, work, err := e.Work(ctx, in, env)
	if err != nil || want.Outcome != outcome || got.Outcome != outcome {
		b.Fatalf("benchmark request: Go %+v, Rego %+v (%v), want %s", want, got, err, outcome)
	}
	parsed, err := ast.InterfaceToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	var regoLat, floorLat, goLat latencies
	for b.Loop() {
		t0 := time.Now()
		ok1, err1 := floor.Defined(ctx, parsed)
		t1 := time.Now()
		ok2, err2 := decision.Defined(ctx, parsed)
		t2 := time.Now()
		p.Decide(in, env)
		t3 := time.Now()
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			b.Fatalf("floor %v %v, decision %v %v", ok1, err1, ok2, err2)
		}
		floorLat = append(floorLat, t1.Sub(t0))
		regoLat = append(regoLat, t2.Sub(t1))
		goLat = append(goLat, t3.Sub(t2))
	}
	r50, r99, f50 := regoLat.percentile(0.50), regoLat.percentile(0.99), floorLat.percentile(0.50)
	b.ReportMetric(r50, "rego-p50-µs")
	b.ReportMetric(r99, "rego-p99-µs")
	b.ReportMetric(f50, "floor-p50-µs")
	b.ReportMetric(r50/f50, "p50/floor")
	b.ReportMetric(r99/f50, "p99/floor")
	b.ReportMetric(goLat.percentile(0.50), "go-p50-µs")
	b.ReportMetric(float64(work.Evals), "rego-evals")
}

// BenchmarkDecisionScaling interleaves the 3-hop decision on 100 and 10,000 agents in one
// loop, so both see the same machine load, and reports p50(10,000)/p50(100): lookups, not
// scans, keep it near 1 (target: within 1.2).
func BenchmarkDecisionScaling(b *testing.B) {
	ctx := context.Background()
	type side struct {
		e   *compile.Engine
		in  map[string]any
		lat latencies
	}
	var sides []*side
	for _, n := range []int{100, 10000} {
		sides = append(sides, &side{e: newEngine(b, estate(n)), in: benchRequest(n, 3)})
	}
	env := policy.Env{Now: time.Now()}
	for b.Loop() {
		for _, s := range sides {
			t0 := time.Now()
			if _, err := s.e.Decide(ctx, s.in, env); err != nil {
				b.Fatal(err)
			}
			s.lat = append(s.lat, time.Since(t0))
		}
	}
	small, large := sides[0].lat.percentile(0.5), sides[1].lat.percentile(0.5)
	b.ReportMetric(small, "p50-100-µs")
	b.ReportMetric(large, "p50-10000-µs")
	b.ReportMetric(large/small, "ratio-10000/100")
}

// lowerBound is not a decision: it is the fewest lookups that could allow the benchmark's
// direct request (the agent, its identity, the capability, the resource pattern, the chain,
// the clock, an approver), with none of the checks that make a decision sound. Timing it
// beside the real decision shows how far below the decision's latency any Rego formulation
// could go on this machine.
const lowerBound = `package agentctl.lowerbound

import data.agentctl_model as model

allow if {
	a := model.agents[input.agent]
	input.identity == a.identity
	held := a.caps[concat(".", [input.tool, input.action])]
	regex.match(held.patterns[_], input.resource)
	input.chain == [input.agent]
	time.parse_rfc3339_ns(input.now)
	input.approvals[_].role == "finance"
}
`

// BenchmarkDecisionFloor times three prepared queries on the 10,000-agent bundle in one
// interleaved loop, so all see the same machine load: a single keyed lookup (the cost of any
// query at all), lowerBound, and the decision of the direct request. It reports their p50
// (µs) and the decision's and lowerBound's ratios to the lookup:
//
//	go test ./compile -run '^$' -bench DecisionFloor -benchtime 3000x -count 3
func BenchmarkDecisionFloor(b *testing.B) {
	ctx := context.Background()
	const n = 10000
	bundle := compileBundle(b, estate(n))
	in, err := ast.InterfaceToValue(benchRequest(n, 0))
	if err != nil {
		b.Fatal(err)
	}
	type probe struct {
		name, query string
		q           rego.PreparedEvalQuery
		lat         latencies
	}
	probes := []*probe{
		{name: "lookup", query: "data.agentctl_model.agents[input.agent]"},
		{name: "lower-bound", query: "data.agentctl.lowerbound.allow"},
		{name: "decision", query: compile.Query},
	}
	for _, p := range probes {
		p.q, err = rego.New(rego.Query(p.query), rego.ParsedBundle("agentctl", bundle),
			rego.Module("lowerbound.rego", lowerBound)).PrepareForEval(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rs, err := p.q.Eval(ctx, rego.EvalParsedInput(in))
		if err != nil || len(rs) != 1 {
			b.Fatalf("%s: %v %v", p.name, err, rs)
		}
	}
	for b.Loop() {
		for _, p := range probes {
			t0 := time.Now()
			if _, err := p.q.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
				b.Fatal(err)
			}
			p.lat = append(p.lat, time.Since(t0))
		}
	}
	lookup := probes[0].lat.percentile(0.5)
	for _, p := range probes {
		p50 := p.lat.percentile(0.5)
		b.ReportMetric(p50, p.name+"-p50-µs")
		if p != probes[0] {
			b.ReportMetric(p50/lookup, p.name+"/lookup")
		}
	}
}

// conditionalEstate is estate(n) with conditions on every grant: the recipient in a runtime
// list scoped by task (data.agentctl_lists.payees[task]) and the amount at most 1,000.
func conditionalEstate(n int) *policy.Policy {
	p := estate(n)
	p.Lists = []*policy.List{{Name: "payees", Runtime: true, Key: "task"}}
	for _, a := range p.Agents {
		for _, g := range a.Grants {
			g.When = []*policy.Condition{
				{Attribute: "recipient", Op: policy.OpIn, List: "payees"},
				{Attribute: "amount", Op: policy.OpAtMost, Number: 1000},
			}
		}
	}
	p.Index()
	return p
}

// BenchmarkDecisionConditions times, interleaved on 1,000-agent bundles so all see the same
// machine load, the single-lookup floor, the direct request of BenchmarkDecision on estate
// (no conditions) and the same request, with a task and a recipient, on conditionalEstate
// with the task's list pushed. It reports each p50 (µs) and the decisions' p50 as multiples
// of the floor's:
//
//	go test ./compile -run '^$' -bench DecisionConditions -benchtime 3000x -count 3
func BenchmarkDecisionConditions(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	plain, cond := estate(n), conditionalEstate(n)
	plainBundle, condBundle := compileBundle(b, plain), compileBundle(b, cond)
	floor := queryEngine(b, plainBundle, "data.agentctl_model.agents[input.agent]")
	plainE, condE := queryEngine(b, plainBundle, compile.Query), queryEngine(b, condBundle, compile.Query)
	lists := map[string]any{"payees": map[string]any{"t1": []any{"globex", "acme"}}}
	if err := condE.SetLists(ctx, lists); err != nil {
		b.Fatal(err)
	}
	in := benchRequest(n, 0)
	in["task"] = "t1"
	in["attributes"] = map[string]any{"amount": 500, "recipient": "acme"}
	env := policy.Env{Lists: lists, Now: time.Now()}
	for _, side := range []struct {
		p *policy.Policy
		e *compile.Engine
	}{{plain, plainE}, {cond, condE}} {
		want := side.p.Decide(roundTrip(b, in), env)
		got, err := side.e.Decide(ctx, roundTrip(b, in), env)
		if err != nil || !want.Allow || !got.Allow {
			b.Fatalf("benchmark request: Go %+v, Rego %+v (%v), want allow", want, got, err)
		}
	}
	parsed, err := ast.InterfaceToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	var floorLat, plainLat, condLat latencies
	for b.Loop() {
		t0 := time.Now()
		ok1, err1 := floor.Defined(ctx, parsed)
		t1 := time.Now()
		ok2, err2 := plainE.Defined(ctx, parsed)
		t2 := time.Now()
		ok3, err3 := condE.Defined(ctx, parsed)
		t3 := time.Now()
		if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil || err3 != nil {
			b.Fatalf("floor %v %v, plain %v %v, conditions %v %v", ok1, err1, ok2, err2, ok3, err3)
		}
		floorLat = append(floorLat, t1.Sub(t0))
		plainLat = append(plainLat, t2.Sub(t1))
		condLat = append(condLat, t3.Sub(t2))
	}
	f50, p50, c50 := floorLat.percentile(0.5), plainLat.percentile(0.5), condLat.percentile(0.5)
	b.ReportMetric(f50, "floor-p50-µs")
	b.ReportMetric(p50, "plain-p50-µs")
	b.ReportMetric(c50, "conditions-p50-µs")
	b.ReportMetric(p50/f50, "plain/floor")
	b.ReportMetric(c50/f50, "conditions/floor")
}
