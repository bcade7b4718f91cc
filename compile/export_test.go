package compile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/agentctl/agentctl/policy"
)

// Work is the evaluation work of one decision as OPA's own tracer and instrumentation
// count it: unlike latency, it does not depend on the machine's load.
type Work struct {
	Evals    int // expressions evaluated (tracer Eval events)
	Enters   int // rule, function and comprehension bodies entered (tracer Enter events)
	Builtins int // built-in function calls
	Rules    int // rules evaluated (virtual document cache misses)
}

func (w Work) String() string {
	return fmt.Sprintf("evals=%d enters=%d builtins=%d rules=%d", w.Evals, w.Enters, w.Builtins, w.Rules)
}

type workTracer struct{ w *Work }

func (workTracer) Enabled() bool               { return true }
func (workTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{} }

func (t workTracer) TraceEvent(ev topdown.Event) {
	switch ev.Op {
	case topdown.EvalOp:
		t.w.Evals++
	case topdown.EnterOp:
		t.w.Enters++
	}
}

// Work decides input like Decide and also returns the work the decision took (meaningful
// only without an error).
func (e *Engine) Work(ctx context.Context, input any, env policy.Env) (policy.Decision, Work, error) {
	var w Work
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return policy.Decision{}, w, fmt.Errorf("input: %w", err)
	}
	m := metrics.New()
	d, err := e.eval(ctx, rego.EvalParsedInput(v), rego.EvalTime(env.Now),
		rego.EvalQueryTracer(workTracer{&w}), rego.EvalMetrics(m), rego.EvalInstrument(true))
	all := m.All()
	if h, ok := all["histogram_eval_op_builtin_call"].(map[string]any); ok {
		n, _ := h["count"].(int64)
		w.Builtins = int(n)
	}
	if n, ok := all["counter_eval_op_virtual_cache_miss"].(uint64); ok {
		w.Rules = int(n)
	}
	return d, w, err
}

// NewFastEngine prepares the library's fast path (data.agentctl.fast_flow) instead of the
// decision, to test that whatever it allows the full rules allow too.
func NewFastEngine(ctx context.Context, b *bundle.Bundle) (*Engine, error) {
	return newEngine(ctx, b, "data.agentctl.fast_flow")
}

// NewQueryEngine prepares query on the bundle as NewEngine prepares the decision, for
// benchmarks that compare the decision with a single lookup on the same store.
func NewQueryEngine(ctx context.Context, b *bundle.Bundle, query string) (*Engine, error) {
	return newEngine(ctx, b, query)
}

// Defined evaluates the prepared query on input and reports whether it is defined.
func (e *Engine) Defined(ctx context.Context, input ast.Value) (bool, error) {
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(input))
	return len(rs) > 0, err
}

// FastFlow evaluates the fast path on input: the flow labels and true when it allows the
// request, false when it leaves the request to the full rules.
func (e *Engine) FastFlow(ctx context.Context, input any, env policy.Env) (policy.Flow, bool, error) {
	var f policy.Flow
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return f, false, err
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(v), rego.EvalTime(env.Now))
	if err != nil || len(rs) == 0 {
		return f, false, err
	}
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return f, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, false, fmt.Errorf("fast flow %s: %w", raw, err)
	}
	return f, true, nil
}

// RoundTrip re-reads v as decoded JSON (numbers as json.Number), as a server receives it.
func RoundTrip(v any) (any, error) { return roundTrip(v) }
