package compile_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
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
// 1,000 and 10,000 agents, for a direct call and a 3-hop chain. Each op is timed, and the
// p50 and p99 (µs) of the compiled Rego and of the Go reference are reported, with their
// ratio, from the same run, beside the expressions OPA evaluates for the decision
// (rego-evals, load-independent):
//
//	go test ./compile -run '^$' -bench Decision -benchtime 2000x
func BenchmarkDecision(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		p := estate(n)
		e := newEngine(b, p)
		for _, hops := range []int{0, 3} {
			in := benchRequest(n, hops)
			b.Run(fmt.Sprintf("agents=%d/hops=%d", n, hops), func(b *testing.B) {
				measure(b, p, e, in)
			})
		}
	}
}

func measure(b *testing.B, p *policy.Policy, e *compile.Engine, in map[string]any) {
	ctx := context.Background()
	env := policy.Env{Now: time.Now()}
	want := p.Decide(in, env)
	if want.Outcome != policy.OutcomeAllow {
		b.Fatalf("benchmark request is not allowed: %+v", want)
	}
	_, work, err := e.Work(ctx, in, env)
	if err != nil {
		b.Fatal(err)
	}
	regoLat := make(latencies, 0, b.N)
	goLat := make(latencies, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		d, err := e.Decide(ctx, in, env)
		t1 := time.Now()
		p.Decide(in, env)
		t2 := time.Now()
		if err != nil || d.Outcome != want.Outcome {
			b.Fatalf("rego: %v %+v", err, d)
		}
		regoLat = append(regoLat, t1.Sub(t0))
		goLat = append(goLat, t2.Sub(t1))
	}
	r50, g50 := regoLat.percentile(0.50), goLat.percentile(0.50)
	b.ReportMetric(r50, "rego-p50-µs")
	b.ReportMetric(regoLat.percentile(0.99), "rego-p99-µs")
	b.ReportMetric(g50, "go-p50-µs")
	b.ReportMetric(goLat.percentile(0.99), "go-p99-µs")
	b.ReportMetric(r50/g50, "rego/go-p50")
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

import data.agentctl.model

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
		{name: "lookup", query: "data.agentctl.model.agents[input.agent]"},
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
