package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/logging"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/sdk"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/agentctl/agentctl/policy"
)

// GCPercent is the collector setting `agentctl gateway` runs with when GOGC is not set in its
// environment: the MCP SDK allocates about 1 MiB per proxied call, so at Go's default (100)
// the collector runs every few calls and its work falls on the decisions the calls wait for
// (docs/gateway.md, Performance).
const GCPercent = 400

// DecisionPath is the bundle's decision, as OPA's Data API names it.
const DecisionPath = "agentctl/decision"

// Decision is OPA's answer on one call: the contract fields the gateway acts on, and the
// raw result, so fields it does not know (a newer bundle's `flow.sources`, say) are echoed
// back to OPA and to the agent unchanged.
type Decision struct {
	Allow             bool
	Outcome           string
	Reasons           []policy.Reason
	ApprovalsRequired []any          // as OPA returned them
	Flow              map[string]any // the labels after the call, echoed as session.flow
}

// decodeDecision reads a decision result. Anything but an object with a boolean allow and a
// known outcome is an error, which denies.
func decodeDecision(v any) (Decision, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("the decision is %T, not an object (is the bundle loaded?)", v)
	}
	var d Decision
	d.Allow, ok = m["allow"].(bool)
	if !ok {
		return Decision{}, errors.New("the decision has no boolean allow")
	}
	d.Outcome, _ = m["outcome"].(string)
	switch d.Outcome {
	case policy.OutcomeAllow, policy.OutcomeDeny, policy.OutcomeNeedsApproval:
	default:
		return Decision{}, fmt.Errorf("the decision has outcome %q", d.Outcome)
	}
	if d.Allow != (d.Outcome == policy.OutcomeAllow) {
		return Decision{}, fmt.Errorf("the decision says allow %t with outcome %s", d.Allow, d.Outcome)
	}
	rs, _ := m["reasons"].([]any)
	for _, r := range rs {
		rm, _ := r.(map[string]any)
		code, _ := rm["code"].(string)
		msg, _ := rm["message"].(string)
		d.Reasons = append(d.Reasons, policy.Reason{Code: code, Message: msg})
	}
	d.ApprovalsRequired, _ = m["approvals_required"].([]any)
	d.Flow, _ = m["flow"].(map[string]any)
	return d, nil
}

// PDP answers decisions and holds the data operators push beside the bundle (revocations,
// approvals, runtime lists).
type PDP interface {
	Decide(ctx context.Context, input map[string]any) (Decision, error)
	// Data reads the document at a slash-separated path under data; nil when absent.
	Data(ctx context.Context, path string) (any, error)
	Close(ctx context.Context)
}

// Remote is an OPA server reached over its REST API.
type Remote struct {
	URL    string // base URL, e.g. http://127.0.0.1:8181
	Client *http.Client
}

// NewRemote returns a PDP that asks the OPA server at base. Each request is bounded by the
// caller's context.
func NewRemote(base string) (*Remote, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OPA URL %q: want http://HOST:PORT or https://HOST:PORT", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &Remote{URL: strings.TrimRight(base, "/"), Client: &http.Client{Transport: tr}}, nil
}

func (r *Remote) Decide(ctx context.Context, input map[string]any) (Decision, error) {
	body, err := json.Marshal(map[string]any{"input": input})
	if err != nil {
		return Decision{}, err
	}
	var resp struct {
		Result any `json:"result"`
	}
	if err := r.do(ctx, http.MethodPost, "/v1/data/"+DecisionPath, body, &resp); err != nil {
		return Decision{}, err
	}
	if resp.Result == nil {
		return Decision{}, fmt.Errorf("OPA at %s: data.%s is undefined (is the agentctl bundle loaded?)", r.URL, strings.ReplaceAll(DecisionPath, "/", "."))
	}
	return decodeDecision(resp.Result)
}

func (r *Remote) Data(ctx context.Context, path string) (any, error) {
	var resp struct {
		Result any `json:"result"`
	}
	if err := r.do(ctx, http.MethodGet, "/v1/data/"+path, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Result, nil
}

func (r *Remote) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("OPA at %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("OPA at %s: %w", r.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("OPA at %s: %s %s: %s: %s", r.URL, method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("OPA at %s: %s %s: %w", r.URL, method, path, err)
	}
	return nil
}

func (r *Remote) Close(context.Context) { r.Client.CloseIdleConnections() }

// bundleError keeps, per bundle, the last error of OPA's bundle plugin while that bundle
// is not activated.
type bundleError struct {
	mu     sync.Mutex
	failed map[string]string // bundle name -> its last error
}

func (b *bundleError) set(s bundleplugin.Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.Code == "" && len(s.Errors) == 0 {
		delete(b.failed, s.Name)
		return
	}
	msg := "bundle " + s.Name
	if s.Message != "" {
		msg += ": " + s.Message
	}
	if len(s.Errors) > 0 {
		msg += ": " + errors.Join(s.Errors...).Error()
	}
	if b.failed == nil {
		b.failed = map[string]string{}
	}
	b.failed[s.Name] = msg
}

// get is the errors of the bundles still failing, sorted by name.
func (b *bundleError) get() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(slices.Sorted(maps.Values(b.failed)), "; ")
}

// Embedded is OPA running in the gateway's process through OPA's Go SDK: the bundle comes
// from OPA's bundle plugin (a file or a bundle service), decision logs and status go through
// OPA's own plugins, as the configuration says.
//
// Decisions run on long-lived worker goroutines. OPA's evaluator recurses deeply (one
// decision grows a goroutine's stack to 512 KiB), and the MCP SDK serves each request on a
// new goroutine whose stack starts at a few KiB: evaluated there, every decision doubled its
// stack six or seven times, each time copying every frame already on it, which cost about as
// much as the evaluation (docs/gateway.md, "Performance"). A worker keeps its grown stack
// (between collections, which may halve an idle one's).
type Embedded struct {
	opa   *sdk.OPA
	store storage.Store
	work  chan func() // received by idle workers only
	quit  chan struct{}
	stop  sync.Once
}

// EmbeddedConfig returns an OPA configuration that loads the bundle archive at path and logs
// every decision to the console (stderr).
func EmbeddedConfig(bundlePath string) []byte {
	cfg := map[string]any{
		"bundles":       map[string]any{"agentctl": map[string]any{"resource": "file://" + bundlePath}},
		"decision_logs": map[string]any{"console": true},
	}
	raw, _ := json.Marshal(cfg)
	return raw
}

// NewEmbedded starts OPA with the given configuration (YAML or JSON, OPA's own format) and
// waits until the bundle is active or ctx ends. console receives decision logs and status
// when the configuration sends them to the console; logger receives OPA's own logs.
func NewEmbedded(ctx context.Context, config []byte, logger, console logging.Logger) (*Embedded, error) {
	// Values are stored as AST, so the decision's lookups into the model are not converted
	// on every read (as OPA's --optimize-store-for-read-speed).
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	ready := make(chan struct{})
	o, err := sdk.New(ctx, sdk.Options{ID: "agentctl-gateway", Config: bytes.NewReader(config),
		Logger: logger, ConsoleLogger: console, Store: store, Ready: ready})
	if err != nil {
		return nil, fmt.Errorf("start embedded OPA: %w", err)
	}
	// OPA's bundle plugin retries a failed download or a bundle it refuses (bad signature,
	// say) forever; giving up must say what it last failed on.
	var last bundleError
	if bp, ok := o.Plugin(bundleplugin.Name).(*bundleplugin.Plugin); ok {
		bp.Register(&last, last.set)
		defer bp.Unregister(&last)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		o.Stop(context.Background())
		if msg := last.get(); msg != "" {
			return nil, fmt.Errorf("embedded OPA: no bundle activated (%w): %s", ctx.Err(), msg)
		}
		return nil, fmt.Errorf("embedded OPA: no bundle activated (%w)", ctx.Err())
	}
	e := &Embedded{opa: o, store: store, work: make(chan func()), quit: make(chan struct{})}
	for range runtime.GOMAXPROCS(0) {
		go e.worker()
	}
	return e, nil
}

func (e *Embedded) worker() {
	for {
		select {
		case f := <-e.work:
			f()
		case <-e.quit:
			return
		}
	}
}

// Decide evaluates on an idle worker, or on the caller's goroutine when all are busy, so
// that decisions never queue behind each other. OPA cancels the evaluation when ctx ends.
func (e *Embedded) Decide(ctx context.Context, input map[string]any) (Decision, error) {
	var res *sdk.DecisionResult
	var err error
	done := make(chan struct{})
	eval := func() {
		res, err = e.opa.Decision(ctx, sdk.DecisionOptions{Now: time.Now(), Path: DecisionPath, Input: input})
		close(done)
	}
	select {
	case e.work <- eval:
	default:
		eval()
	}
	<-done
	if err != nil {
		return Decision{}, fmt.Errorf("embedded OPA: %w", err)
	}
	return decodeDecision(res.Result)
}

func (e *Embedded) Data(ctx context.Context, path string) (any, error) {
	p, ok := storage.ParsePath("/" + path)
	if !ok {
		return nil, fmt.Errorf("bad data path %q", path)
	}
	v, err := storage.ReadOne(ctx, e.store, p)
	if storage.IsNotFound(err) {
		return nil, nil
	}
	if av, ok := v.(ast.Value); ok && err == nil {
		return ast.JSON(av)
	}
	return v, err
}

// Put writes (value non-nil) or removes the document at path, as OPA's Data API PUT and
// DELETE do, creating parent documents as needed.
func (e *Embedded) Put(ctx context.Context, path string, value any) error {
	p, ok := storage.ParsePath("/" + path)
	if !ok || len(p) == 0 {
		return fmt.Errorf("bad data path %q", path)
	}
	return storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		if value == nil {
			err := e.store.Write(ctx, txn, storage.RemoveOp, p, nil)
			if storage.IsNotFound(err) {
				return nil
			}
			return err
		}
		// The store holds values as OPA decodes JSON.
		if err := util.RoundTrip(&value); err != nil {
			return err
		}
		if err := storage.MakeDir(ctx, e.store, txn, p[:len(p)-1]); err != nil {
			return err
		}
		op := storage.AddOp
		if _, err := e.store.Read(ctx, txn, p); err == nil {
			op = storage.ReplaceOp
		}
		return e.store.Write(ctx, txn, op, p, value)
	})
}

// Close stops the workers and OPA; a second call does nothing.
func (e *Embedded) Close(ctx context.Context) {
	e.stop.Do(func() {
		close(e.quit)
		e.opa.Stop(ctx)
	})
}
