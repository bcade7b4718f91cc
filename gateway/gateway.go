// Package gateway is agentctl's enforcement point: an MCP proxy that authenticates the
// calling agent (SPIFFE SVIDs), asks OPA for the runtime decision on every tool call with a
// request built only from what the gateway itself knows (the trust boundary of
// docs/runtime.md), forwards allowed calls to upstream MCP servers, and keeps the per-task
// state the decision needs: flow labels, counters, hand-off chains and approvals.
package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/policy"
)

// Where an agent presents its task record: the _meta key of a tools/call (any transport),
// else the HTTP header.
const (
	TaskMetaKey = "agentctl.dev/task"
	TaskHeader  = "Agentctl-Task"
)

// HandoffTool is the gateway's own tool through which an agent hands its task to another.
const HandoffTool = "agentctl.handoff"

// Codes of refusals the gateway makes itself, besides the decision's reason codes. Every
// refusal is a tool error whose structured content carries them.
const (
	CodeTaskRecordRequired = "TASK_RECORD_REQUIRED" // the call presents no task record
	CodeTaskRecordInvalid  = "TASK_RECORD_INVALID"  // forged, expired, or held by another agent
	CodePDPUnavailable     = "PDP_UNAVAILABLE"      // OPA failed or timed out: deny
	CodeUpstreamError      = "UPSTREAM_ERROR"       // the allowed call failed at the upstream
	CodeBadArguments       = "BAD_ARGUMENTS"        // the arguments are not a JSON object
)

// Config configures a gateway.
type Config struct {
	Policy    *policy.Policy
	PDP       PDP
	Upstreams []Upstream
	OnDrift   string // DriftRefuse (default) or DriftWarn
	Identity  *Identity
	Signer    *Signer
	Sessions  *Sessions

	DecisionTimeout time.Duration // default 2s
	UpstreamTimeout time.Duration // default 60s
	MaxOutput       int           // bytes of one upstream message; default 4 MiB

	Log       *slog.Logger
	Telemetry *Telemetry // nil: no spans; Close flushes and stops it
	Stderr    io.Writer  // stdio upstreams' stderr
	Now       func() time.Time
}

// Gateway serves MCP to agents in front of the upstream servers.
type Gateway struct {
	cfg     Config
	p       *policy.Policy
	ups     map[string]*upstream // by policy tool
	could   map[string]policy.Bitset
	servers sync.Map // agent -> *sdk.Server
}

// New connects to every upstream and checks its tools against the pins of its tool block.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.OnDrift == "" {
		cfg.OnDrift = DriftRefuse
	}
	if cfg.DecisionTimeout <= 0 {
		cfg.DecisionTimeout = 2 * time.Second
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = 60 * time.Second
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 4 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	p := cfg.Policy
	g := &Gateway{cfg: cfg, p: p, ups: map[string]*upstream{}, could: couldAllow(p)}
	for _, spec := range cfg.Upstreams {
		t := p.Tool(spec.Tool)
		switch {
		case t == nil:
			g.Close()
			return nil, fmt.Errorf("upstream %s: the policy declares no tool %q", spec, spec.Tool)
		case !slices.ContainsFunc(t.Actions, func(a *policy.Action) bool { return a.Pin != nil }):
			g.Close()
			return nil, fmt.Errorf("upstream %s: tools.%s has no pinned actions to map the server's tools to (write them with agentctl import mcp)", spec, spec.Tool)
		case g.ups[spec.Tool] != nil:
			g.Close()
			return nil, fmt.Errorf("upstream %s: tool %q has two upstreams", spec, spec.Tool)
		}
		u := &upstream{spec: spec, tool: t, p: p, onDrift: cfg.OnDrift, maxOut: cfg.MaxOutput, stderr: cfg.Stderr, log: cfg.Log}
		u.mu.Lock()
		err := u.connect(ctx)
		u.mu.Unlock()
		if err != nil {
			g.Close()
			return nil, err
		}
		g.ups[spec.Tool] = u
	}
	return g, nil
}

// Close stops the upstream sessions (and stdio servers), then flushes and stops the
// telemetry (bounded by its export timeout).
func (g *Gateway) Close() {
	for _, u := range g.ups {
		u.close()
	}
	if err := g.cfg.Telemetry.Shutdown(context.Background()); err != nil {
		g.cfg.Log.Warn("trace flush at shutdown failed: spans dropped", "error", err)
	}
}

// couldAllow is, per agent, every capability some request could be allowed: its own grants,
// and through forward_credentials hand-offs into it, whatever its senders could be allowed
// (attenuate and delegate never carry more than the receiver holds).
func couldAllow(p *policy.Policy) map[string]policy.Bitset {
	out := map[string]policy.Bitset{}
	for _, a := range p.Agents {
		out[a.Name] = p.C(a)
	}
	for changed := true; changed; {
		changed = false
		for _, h := range p.Handoffs {
			if h.Mode == "forward_credentials" && out[h.From] != nil && out[h.To] != nil && out[h.To].OrChanged(out[h.From]) {
				changed = true
			}
		}
	}
	return out
}

// Handler serves MCP's Streamable HTTP transport to agents. Every HTTP request is
// authenticated; the MCP server behind it lists only the caller's tools. It runs without
// MCP sessions (each request stands alone), so nothing depends on an Mcp-Session-Id: the
// task record carries the session.
func (g *Gateway) Handler() http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		peer, ok := peerFrom(r.Context())
		if !ok {
			return nil
		}
		return g.server(peer.Agent)
	}, &sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, PropagateRequestCancellation: true,
		Logger: g.cfg.Log})
	return g.cfg.Identity.withPeer(h)
}

// server returns the MCP server of one agent, built on first use.
func (g *Gateway) server(agent string) *sdk.Server {
	if s, ok := g.servers.Load(agent); ok {
		return s.(*sdk.Server)
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "agentctl-gateway", Version: "1"},
		&sdk.ServerOptions{Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}}})
	for _, tool := range slices.Sorted(maps.Keys(g.ups)) {
		u := g.ups[tool]
		for _, act := range u.tool.Actions {
			id, _ := g.p.Caps().ID(act.Capability())
			if act.Pin == nil || !g.could[agent].Has(id) || u.tools[act.Pin.Tool] == nil {
				continue
			}
			st := u.tools[act.Pin.Tool]
			schema := st.InputSchema
			if schema == nil {
				schema = map[string]any{"type": "object"}
			}
			s.AddTool(&sdk.Tool{Name: act.Capability(), Title: st.Title, Description: st.Description,
				InputSchema: schema, OutputSchema: st.OutputSchema, Annotations: st.Annotations},
				g.toolHandler(u, act))
		}
	}
	if receivers := g.receivers(agent); len(receivers) > 0 {
		s.AddTool(&sdk.Tool{Name: HandoffTool,
			Description: "Hand the current task to another agent. Returns the signed task record the receiving agent presents with its calls.",
			InputSchema: map[string]any{"type": "object", "required": []any{"to"},
				"properties": map[string]any{"to": map[string]any{"type": "string", "enum": receivers}}}},
			g.handoffHandler)
	}
	actual, _ := g.servers.LoadOrStore(agent, s)
	return actual.(*sdk.Server)
}

// receivers lists the agents agent may hand a task to, sorted.
func (g *Gateway) receivers(agent string) []any {
	var out []string
	for _, h := range g.p.Handoffs {
		if h.From == agent && !slices.Contains(out, h.To) {
			out = append(out, h.To)
		}
	}
	slices.Sort(out)
	res := make([]any, len(out))
	for i, s := range out {
		res[i] = s
	}
	return res
}

// task verifies the task record the call presents and that the caller holds it; else it
// says why not: a refusal's code and message.
func (g *Gateway) task(req *sdk.CallToolRequest, peer Peer, now time.Time) (rec *Record, code, msg string) {
	tok, _ := req.Params.Meta[TaskMetaKey].(string)
	if tok == "" && req.Extra != nil {
		tok = req.Extra.Header.Get(TaskHeader)
	}
	if tok == "" {
		return nil, CodeTaskRecordRequired, fmt.Sprintf("present the task record in _meta[%q] or the %s header", TaskMetaKey, TaskHeader)
	}
	rec, err := g.cfg.Signer.Verify(tok, now)
	if err != nil {
		return nil, CodeTaskRecordInvalid, err.Error()
	}
	if rec.Holder() != peer.Agent {
		return nil, CodeTaskRecordInvalid, fmt.Sprintf("%v: the record hands task %s to %s, not to %s", errRecord, rec.Task, rec.Holder(), peer.Agent)
	}
	return rec, "", ""
}

// toolHandler decides and forwards calls of one pinned action.
func (g *Gateway) toolHandler(u *upstream, act *policy.Action) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		peer, ok := peerFrom(ctx)
		if !ok {
			return nil, errors.New("unauthenticated")
		}
		now := g.cfg.Now()
		span := g.cfg.Telemetry.start(ctx, peer, act, now)
		res := g.handle(ctx, u, act, peer, req, now, span)
		span.end(res, g.cfg.Now())
		return res, nil
	}
}

func (g *Gateway) handle(ctx context.Context, u *upstream, act *policy.Action, peer Peer, req *sdk.CallToolRequest, now time.Time, span *toolSpan) *sdk.CallToolResult {
	args, err := decodeArguments(req.Params.Arguments)
	if err != nil {
		span.refused(CodeBadArguments, err.Error(), nil)
		return refusal(CodeBadArguments, err.Error(), nil)
	}
	rec, code, msg := g.task(req, peer, now)
	if rec == nil {
		span.refused(code, msg, args)
		return refusal(code, msg, nil)
	}
	span.task(rec, args)
	sess := g.cfg.Sessions.Lock(rec.Task, now, rec.Flow)
	defer sess.Unlock()

	in := g.request(act, peer, rec, sess, args, now)
	d, err := g.decide(ctx, in)
	ref := ""
	if err == nil && d.Outcome == policy.OutcomeNeedsApproval {
		ref = approvalRef(rec.Task, peer.Agent, act.Capability(), args)
		var approvals []any
		if approvals, err = g.approvals(ctx, ref); err == nil && len(approvals) > 0 {
			in["approvals"] = approvals
			d, err = g.decide(ctx, in)
		}
	}
	if err != nil {
		g.cfg.Log.Error("decision failed: call denied", "agent", peer.Agent, "capability", act.Capability(), "task", rec.Task, "error", err)
		span.decision(policy.OutcomeDeny, []policy.Reason{{Code: CodePDPUnavailable, Message: err.Error()}})
		return refusal(CodePDPUnavailable, "the policy decision point failed, so the call is denied: "+err.Error(), nil)
	}
	span.decision(d.Outcome, d.Reasons)
	if !d.Allow {
		return decisionRefusal(d, act, rec, args, ref)
	}

	dctx, release := detach(ctx)
	defer release()
	res, err := u.call(dctx, g.cfg.UpstreamTimeout, act.Pin.Tool, args)
	// The call was sent: it may have run even if no answer came back, so its labels and
	// its count hold from here on.
	sess.Actions++
	if d.Flow != nil {
		sess.Flow = d.Flow
	}
	switch {
	case errors.Is(err, errStreamTooLarge):
		g.cfg.Log.Warn("upstream message too large: the connection was dropped; the server is restarted for the next call", "upstream", u.spec.Tool,
			"in_flight", act.Pin.Tool, "max_output", g.cfg.MaxOutput, "agent", peer.Agent, "task", rec.Task)
		return refusal(CodeUpstreamError, fmt.Sprintf("upstream %s: a message larger than %d bytes (--max-output) came while %s was in flight; it was dropped with the connection, and the server is restarted for the next call",
			u.spec.Tool, g.cfg.MaxOutput, act.Pin.Tool), nil)
	case errors.Is(err, errTooLarge):
		g.cfg.Log.Warn("upstream answer too large: dropped; the server is reconnected for the next call", "upstream", u.spec.Tool,
			"tool", act.Pin.Tool, "max_output", g.cfg.MaxOutput, "agent", peer.Agent, "task", rec.Task)
		return refusal(CodeUpstreamError, fmt.Sprintf("upstream %s: the answer to %s is too large: more than %d bytes (--max-output); it was dropped",
			u.spec.Tool, act.Pin.Tool, g.cfg.MaxOutput), nil)
	case err != nil:
		return refusal(CodeUpstreamError, fmt.Sprintf("upstream %s failed on %s: %v", u.spec.Tool, act.Pin.Tool, err), nil)
	}
	return res
}

// request builds the decision's input from the gateway's own knowledge: the authenticated
// peer, the call being forwarded, the task record, the session and the clock.
func (g *Gateway) request(act *policy.Action, peer Peer, rec *Record, sess *Session, args map[string]any, now time.Time) map[string]any {
	chain := make([]any, len(rec.Chain))
	for i, a := range rec.Chain {
		chain[i] = a
	}
	session := map[string]any{"actions": sess.Actions, "started_at": sess.Started.UTC().Format(time.RFC3339Nano)}
	if sess.Flow != nil {
		session["flow"] = sess.Flow
	}
	in := map[string]any{"agent": peer.Agent, "tool": act.Tool, "action": act.Name, "chain": chain,
		"task": rec.Task, "now": now.UTC().Format(time.RFC3339Nano), "session": session}
	if peer.SpiffeID != "" {
		in["identity"] = peer.SpiffeID
	}
	if !peer.Expires.IsZero() {
		in["credential"] = map[string]any{"expires_at": peer.Expires.UTC().Format(time.RFC3339Nano)}
	}
	if attrs := attributes(act, args); len(attrs) > 0 {
		in["attributes"] = attrs
	}
	if act.Arguments != nil && act.Arguments.Resource != "" {
		if v, ok := policy.Lookup(args, strings.Split(act.Arguments.Resource, ".")...); ok {
			switch x := v.(type) {
			case string:
				in["resource"] = x
			case json.Number:
				in["resource"] = x.String()
			}
		}
	}
	return in
}

// attributes are the call's scalar arguments by name, and the attributes the action's
// argument mapping names (nested paths included).
func attributes(act *policy.Action, args map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range args {
		switch v.(type) {
		case string, json.Number, bool:
			out[k] = v
		}
	}
	if act.Arguments != nil {
		for name, path := range act.Arguments.Attributes {
			if v, ok := policy.Lookup(args, strings.Split(path, ".")...); ok {
				out[name] = v
			}
		}
	}
	return out
}

func decodeArguments(raw any) (map[string]any, error) {
	var b []byte
	switch x := raw.(type) {
	case nil:
		return map[string]any{}, nil
	case json.RawMessage:
		b = x
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			return nil, err
		}
	}
	if len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return map[string]any{}, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the arguments are not a JSON object: %v", err)
	}
	return m, nil
}

// decide asks the PDP, bounded by the decision timeout.
func (g *Gateway) decide(ctx context.Context, in map[string]any) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.DecisionTimeout)
	defer cancel()
	return g.cfg.PDP.Decide(ctx, in)
}

// ApprovalsRoot is where an approval service puts granted approvals, one document per
// approval reference: data.agentctl_approvals[ref] = [{approver, role, human}].
const ApprovalsRoot = "agentctl_approvals"

// approvals reads the approvals granted for ref. Only human approvers that are not agents
// (or SPIFFE IDs) of the policy are passed on.
func (g *Gateway) approvals(ctx context.Context, ref string) ([]any, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.DecisionTimeout)
	defer cancel()
	v, err := g.cfg.PDP.Data(ctx, ApprovalsRoot+"/"+ref)
	if err != nil {
		return nil, fmt.Errorf("read approvals: %w", err)
	}
	if m, ok := v.(map[string]any); ok {
		v = m["approvals"]
	}
	list, _ := v.([]any)
	var out []any
	for _, e := range list {
		m, _ := e.(map[string]any)
		approver, _ := m["approver"].(string)
		role, _ := m["role"].(string)
		human, _ := m["human"].(bool)
		if approver == "" || role == "" || !human {
			continue
		}
		if c, ok := policy.CanonicalName(approver); !ok || g.p.IsPrincipal(c) {
			g.cfg.Log.Warn("approval by an agent of the policy ignored", "ref", ref, "approver", approver)
			continue
		}
		out = append(out, map[string]any{"approver": approver, "role": role, "human": true})
	}
	return out, nil
}

// approvalRef names one exact call of one agent in one task: an approval granted for it
// lets nothing else through.
func approvalRef(task, agent, capability string, args map[string]any) string {
	raw, _ := json.Marshal(map[string]any{"task": task, "agent": agent, "capability": capability, "arguments": args})
	sum := sha256.Sum256(raw)
	return "apr-" + hex.EncodeToString(sum[:16])
}

// refusal is a tool error the gateway returns instead of calling the upstream.
func refusal(code, msg string, extra map[string]any) *sdk.CallToolResult {
	sc := map[string]any{"outcome": policy.OutcomeDeny, "reasons": []any{map[string]any{"code": code, "message": msg}}}
	for k, v := range extra {
		sc[k] = v
	}
	return &sdk.CallToolResult{IsError: true, StructuredContent: sc,
		Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("agentctl gateway: %s: %s", code, msg)}}}
}

// decisionRefusal reports a deny or needs_approval: the reasons, and for an approval what to
// approve: the rules, the flow sources, the arguments and the reference to approve under.
func decisionRefusal(d Decision, act *policy.Action, rec *Record, args map[string]any, ref string) *sdk.CallToolResult {
	reasons := make([]any, len(d.Reasons))
	lines := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = map[string]any{"code": r.Code, "message": r.Message}
		lines[i] = r.Code + ": " + r.Message
	}
	sc := map[string]any{"outcome": d.Outcome, "reasons": reasons, "capability": act.Capability(), "task": rec.Task}
	text := fmt.Sprintf("agentctl gateway: %s %s: %s", d.Outcome, act.Capability(), strings.Join(lines, "; "))
	if d.Outcome == policy.OutcomeNeedsApproval {
		sc["approvals_required"] = d.ApprovalsRequired
		sc["approval_ref"] = ref
		sc["arguments"] = args
		if src, ok := d.Flow["sources"]; ok {
			sc["sources"] = src
		}
		text += fmt.Sprintf(" (approval reference %s; retry the same call once it is granted)", ref)
	}
	return &sdk.CallToolResult{IsError: true, StructuredContent: sc, Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

// handoffHandler issues the record that hands the caller's task to another agent. A
// refused hand-off is traced (Telemetry.handoffRefused) with the refusal's code.
func (g *Gateway) handoffHandler(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	peer, ok := peerFrom(ctx)
	if !ok {
		return nil, errors.New("unauthenticated")
	}
	now := g.cfg.Now()
	args, argErr := decodeArguments(req.Params.Arguments)
	to, named := args["to"].(string)
	rec, code, msg := g.task(req, peer, now)
	switch {
	case rec == nil:
	case argErr != nil:
		code, msg = CodeBadArguments, argErr.Error()
	case !named:
		// The SDK does not enforce the tool's input schema.
		code, msg = CodeBadArguments, `the argument "to" must be the name of the receiving agent`
	case len(g.p.HandoffModes(peer.Agent, to)) == 0:
		code, msg = policy.CodeUndeclaredHandoff, fmt.Sprintf("the policy declares no hand-off from %s to %q", peer.Agent, to)
	case len(rec.Chain) > g.p.MaxChainDepth():
		code, msg = policy.CodeChainTooDeep, fmt.Sprintf("the chain would have %d hand-offs; settings.max_chain_depth is %d", len(rec.Chain), g.p.MaxChainDepth())
	}
	if code != "" {
		g.cfg.Telemetry.handoffRefused(ctx, peer, rec, to, code, msg, now, g.cfg.Now())
		return refusal(code, msg, nil), nil
	}
	sess := g.cfg.Sessions.Lock(rec.Task, now, rec.Flow)
	next := Record{Task: rec.Task, Chain: append(slices.Clone(rec.Chain), to), Flow: sess.Flow}
	sess.Unlock()
	tok, err := g.cfg.Signer.Sign(&next, now)
	if err != nil {
		return nil, err
	}
	g.cfg.Telemetry.handoff(ctx, &next, now)
	return &sdk.CallToolResult{StructuredContent: map[string]any{"task": next.Task, "chain": next.Chain, "record": tok},
		Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("task %s handed to %s; the receiver presents this record: %s", next.Task, to, tok)}}}, nil
}

// StartTask issues the record of a new task for agent: what the platform gives an agent
// when it assigns it work (the admin endpoint POST /v1/tasks).
func (g *Gateway) StartTask(agent string) (Record, string, error) {
	if g.p.Agent(agent) == nil {
		return Record{}, "", fmt.Errorf("no agent %q in the policy", agent)
	}
	return g.cfg.Signer.NewTask(agent, g.cfg.Now())
}
