package compile

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/agentctl/agentctl/policy"
)

// Work is the evaluation work of one decision as OPA's own tracer and instrumentation
// count it: unlike latency it does not depend on the machine's load.
type Work struct {
	Evals    int // expressions evaluated (tracer Eval events)
	Enters   int // rule and comprehension bodies entered (tracer Enter events)
	Builtins int // built-in function calls
	Rules    int // virtual documents evaluated (rule cache misses)
}

func (w Work) String() string {
	return fmt.Sprintf("evals=%d enters=%d builtins=%d rules=%d", w.Evals, w.Enters, w.Builtins, w.Rules)
}

type workTracer struct {
	w     *Work
	byRow map[int]int
}

func (workTracer) Enabled() bool               { return true }
func (workTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{} }
func (t workTracer) TraceEvent(ev topdown.Event) {
	switch ev.Op {
	case topdown.EvalOp:
		t.w.Evals++
		if t.byRow != nil && ev.Location != nil {
			t.byRow[ev.Location.Row]++
		}
	case topdown.EnterOp:
		t.w.Enters++
	}
}

// Work decides input like Decide and returns the decision and the work it took.
func (e *Engine) Work(ctx context.Context, input any, env policy.Env) (policy.Decision, Work, error) {
	return e.WorkByRow(ctx, input, env, nil)
}

// WorkByRow is Work that also counts the evaluations per library source row in byRow.
func (e *Engine) WorkByRow(ctx context.Context, input any, env policy.Env, byRow map[int]int) (policy.Decision, Work, error) {
	var w Work
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return policy.Decision{}, w, err
	}
	m := metrics.New()
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(v), rego.EvalTime(env.Now),
		rego.EvalQueryTracer(workTracer{&w, byRow}), rego.EvalMetrics(m), rego.EvalInstrument(true))
	if err != nil {
		return policy.Decision{}, w, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return policy.Decision{}, w, fmt.Errorf("evaluate %s: undefined", Query)
	}
	all := m.All()
	w.Builtins = histogramCount(all["histogram_eval_op_builtin_call"])
	w.Rules = counterValue(all["counter_eval_op_virtual_cache_miss"])
	d, err := DecodeDecision(rs[0].Expressions[0].Value)
	return d, w, err
}

func histogramCount(v any) int {
	h, _ := v.(map[string]any)
	n, _ := h["count"].(int64)
	return int(n)
}

func counterValue(v any) int {
	n, _ := v.(uint64)
	return int(n)
}
