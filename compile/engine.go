package compile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/agentctl/agentctl/policy"
)

// Engine evaluates a compiled bundle in-process with a prepared query, the way an embedded
// OPA would, so the decision can be compared with the Go reference.
type Engine struct {
	query rego.PreparedEvalQuery
	store storage.Store
}

// NewEngine prepares the bundle's decision query.
func NewEngine(ctx context.Context, b *bundle.Bundle) (*Engine, error) {
	return newEngine(ctx, b, Query)
}

func newEngine(ctx context.Context, b *bundle.Bundle, query string) (*Engine, error) {
	// Values are stored as AST, so lookups into the model are not converted on every read.
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	var q rego.PreparedEvalQuery
	// The bundle is activated into the store inside one write transaction, so revocations
	// can be written to the same store later, as OPA's Data API does.
	err := storage.Txn(ctx, store, storage.WriteParams, func(txn storage.Transaction) error {
		var err error
		q, err = rego.New(
			rego.Query(query),
			rego.ParsedBundle("agentctl", b),
			rego.Store(store),
			rego.Transaction(txn),
		).PrepareForEval(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", query, err)
	}
	return &Engine{query: q, store: store}, nil
}

// SetRevocations replaces data.agentctl_revocations (nil removes it), as an operator would
// with PUT /v1/data/agentctl_revocations.
func (e *Engine) SetRevocations(ctx context.Context, revocations any) error {
	return e.setRoot(ctx, "agentctl_revocations", revocations)
}

// SetLists replaces data.agentctl_lists, the runtime lists (nil removes it), as an
// operator or the enforcement point would with PUT /v1/data/agentctl_lists.
func (e *Engine) SetLists(ctx context.Context, lists any) error {
	return e.setRoot(ctx, "agentctl_lists", lists)
}

func (e *Engine) setRoot(ctx context.Context, root string, doc any) error {
	path := storage.Path{root}
	return storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		if doc == nil {
			err := e.store.Write(ctx, txn, storage.RemoveOp, path, nil)
			if storage.IsNotFound(err) {
				return nil
			}
			return err
		}
		v, err := roundTrip(doc)
		if err != nil {
			return err
		}
		return e.store.Write(ctx, txn, storage.AddOp, path, v)
	})
}

// Decide evaluates input (decoded JSON) with env.Now as the clock. Revocations and lists are
// the ones last set with SetRevocations and SetLists.
func (e *Engine) Decide(ctx context.Context, input any, env policy.Env) (policy.Decision, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("input: %w", err)
	}
	return e.eval(ctx, rego.EvalParsedInput(v), rego.EvalTime(env.Now))
}

// eval evaluates the decision query with opts, which carry the input and the clock, and
// decodes the single decision it must return.
func (e *Engine) eval(ctx context.Context, opts ...rego.EvalOption) (policy.Decision, error) {
	rs, err := e.query.Eval(ctx, opts...)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("evaluate %s: %w", Query, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return policy.Decision{}, fmt.Errorf("evaluate %s: undefined", Query)
	}
	return DecodeDecision(rs[0].Expressions[0].Value)
}

// DecodeDecision converts a decision value (as OPA returns it) to a policy.Decision,
// rejecting anything that is not exactly the contract shape.
func DecodeDecision(v any) (policy.Decision, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("decision: %w", err)
	}
	var d policy.Decision
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber() // the arguments of a flow approval, exactly as the request had them
	if err := dec.Decode(&d); err != nil {
		return policy.Decision{}, fmt.Errorf("decision %s: %w", raw, err)
	}
	return d, nil
}

// roundTrip re-reads v as decoded JSON (numbers as json.Number): the form OPA stores and
// the Go reference reads.
func roundTrip(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return out, dec.Decode(&out)
}
