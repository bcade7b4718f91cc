package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

// Engines.
const (
	EngineGo   = "go"
	EngineRego = "rego"
)

// Decider decides one runtime request: the Go reference or the compiled bundle.
type Decider interface {
	Decide(ctx context.Context, request map[string]any, env policy.Env) (policy.Decision, error)
}

type goDecider struct{ p *policy.Policy }

func (g goDecider) Decide(_ context.Context, in map[string]any, env policy.Env) (policy.Decision, error) {
	return g.p.Decide(in, env), nil
}

type regoDecider struct{ e *compile.Engine }

func (r regoDecider) Decide(ctx context.Context, in map[string]any, env policy.Env) (policy.Decision, error) {
	return r.e.Decide(ctx, in, env)
}

// NewDecider returns the engine's decider for p: EngineGo (the reference) or EngineRego
// (the compiled bundle, evaluated in-process as OPA would).
func NewDecider(ctx context.Context, p *policy.Policy, engine string) (Decider, error) {
	switch engine {
	case EngineGo:
		return goDecider{p}, nil
	case EngineRego:
		b, err := compile.Bundle(p)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", p.Dir, err)
		}
		e, err := compile.NewEngine(ctx, b)
		if err != nil {
			return nil, err
		}
		return regoDecider{e}, nil
	}
	return nil, fmt.Errorf("unknown engine %q (want go or rego)", engine)
}

// Side is one policy replay decides with, and its decider.
type Side struct {
	Policy  *policy.Policy
	Decider Decider
}

type side struct {
	Side
	byAction map[string][]toolAction // bare name -> the actions it may name, in tool order
}

// newSide indexes the bare names a recording may use for an action: its name, and for an
// imported MCP action the tool's name on the server (its pin), which `import mcp` may have
// rewritten into an action name ("getCharge" -> get_charge).
func newSide(s Side) *side {
	out := &side{Side: s, byAction: map[string][]toolAction{}}
	for _, t := range s.Policy.Tools { // sorted by name
		for _, a := range t.Actions {
			c := toolAction{t.Name, a.Name}
			out.byAction[a.Name] = append(out.byAction[a.Name], c)
			if a.Pin != nil && a.Pin.Tool != a.Name && !slices.Contains(out.byAction[a.Pin.Tool], c) {
				out.byAction[a.Pin.Tool] = append(out.byAction[a.Pin.Tool], c)
			}
		}
	}
	return out
}

type toolAction struct{ tool, action string }

// Replayer decides calls one by one, holding what the enforcement point would hold per
// session: the action count, the start time and the flow labels. Sessions are kept for the
// whole replay (a few words each), since a conversation may span traces and files.
type Replayer struct {
	head, base *side
	sessions   map[string]*session
}

type session struct {
	calls int // recorded so far
	start time.Time
	// What the enforcement point would hold, per policy: the calls it executed (its
	// session.actions) and the flow labels, threaded from each decision to the next call of
	// the session.
	head, base sideState
}

type sideState struct {
	actions int
	flow    policy.Flow
}

// New returns a Replayer deciding with head and, when base is not nil, with base too.
func New(head Side, base *Side) *Replayer {
	r := &Replayer{head: newSide(head), sessions: map[string]*session{}}
	if base != nil {
		r.base = newSide(*base)
	}
	return r
}

// Decide decides the next call of the recording. Calls of a session must come in the
// order they were made.
func (r *Replayer) Decide(ctx context.Context, c Call) (Result, error) {
	s := r.sessions[c.Session]
	if s == nil {
		s = &session{start: c.SessionStart}
		r.sessions[c.Session] = s
	}
	// A recording without a session start (MCP logs) starts the session at its first call.
	for _, t := range []time.Time{c.SessionStart, c.Time} {
		if !t.IsZero() && (s.start.IsZero() || t.Before(s.start)) {
			s.start = t
		}
	}
	s.calls++
	res := Result{Call: c, Seq: s.calls}
	var err error
	if res.Verdict, err = r.head.verdict(ctx, c, s.start, &s.head); err != nil {
		return res, err
	}
	if r.base != nil {
		b, err := r.base.verdict(ctx, c, s.start, &s.base)
		if err != nil {
			return res, err
		}
		res.Base = &b
	}
	return res, nil
}

// epoch is the clock for recordings without times, so replays stay deterministic.
var epoch = time.Unix(0, 0).UTC()

// verdict decides c with the session's state, and updates it as the enforcement point
// would: a call it runs counts as an action and leaves its flow labels.
func (sd *side) verdict(ctx context.Context, c Call, start time.Time, st *sideState) (Verdict, error) {
	var v Verdict
	now := c.Time
	if c.Request != nil {
		v.Request = c.Request
		tool, _ := c.Request["tool"].(string)
		action, _ := c.Request["action"].(string)
		v.Capability = policy.Capability(tool, action)
	} else {
		if c.Refused != "" {
			// No policy decided it, and it never ran: it leaves the session as it was.
			v.NotReplayable = RefusedByGateway
			v.Detail = fmt.Sprintf("the gateway refused it before asking the policy, so no policy decides it: %s: %s", c.Refused, c.RefusedMessage)
			return v, nil
		}
		if now.IsZero() {
			now = epoch
			v.Assumed = append(v.Assumed, AssumedTime)
		}
		if !sd.request(c, start, *st, now, &v) {
			// Not decided here: the recording shows the call ran.
			st.actions++
			return v, nil
		}
	}
	d, err := sd.Decider.Decide(ctx, v.Request, policy.Env{Now: now})
	if err != nil {
		return v, fmt.Errorf("%s: decide: %w", c.Source, err)
	}
	v.Decision = &d
	// The enforcement point counts and keeps the labels of a call it runs: an allowed one,
	// or one that needed approval (the recording shows it ran, so it was approved). A
	// denied call never ran: it leaves the count and the labels as they were.
	if d.Outcome != policy.OutcomeDeny {
		st.actions++
		st.flow = d.Flow
	}
	return v, nil
}

// request rebuilds the runtime request of a recorded tool call, or marks it not
// replayable.
func (sd *side) request(c Call, start time.Time, st sideState, now time.Time, v *Verdict) bool {
	p := sd.Policy
	tool, action, reason, detail := sd.capability(c.Name)
	switch {
	case reason != "":
	case c.Agent == "":
		reason, detail = NoAgent, "the recording names no agent for the call"
	case c.LongChain > 0:
		reason, detail = ChainTooLong, fmt.Sprintf("the recorded chain has %d agents; replay rebuilds chains of at most %d (max_chain_depth is at most 16 hand-offs, so the runtime denies it CHAIN_TOO_DEEP)", c.LongChain, MaxChain)
	}
	if reason != "" {
		v.NotReplayable, v.Detail = reason, detail
		return false
	}
	v.Capability = policy.Capability(tool, action)
	chain := c.Chain
	if len(chain) == 0 {
		chain = []string{c.Agent}
	}
	req := map[string]any{
		"agent": c.Agent, "tool": tool, "action": action, "chain": anySlice(chain),
		"now": now.UTC().Format(time.RFC3339Nano),
		"session": map[string]any{"actions": st.actions, "started_at": sessionStart(start, now).UTC().Format(time.RFC3339Nano),
			"flow": map[string]any{"untrusted": st.flow.Untrusted, "sensitive": st.flow.Sensitive}},
	}
	if st.flow.Sources != nil {
		req["session"].(map[string]any)["flow"].(map[string]any)["sources"] = map[string]any{
			"untrusted": anySlice(st.flow.Sources.Untrusted), "sensitive": anySlice(st.flow.Sources.Sensitive)}
	}
	act := p.Tool(tool).Action(action)
	attrs := map[string]any{}
	if act != nil {
		// The attributes conditions test are read from the arguments of the same name,
		// unless arguments.attributes maps them (below).
		for _, name := range p.ConditionAttributes(act) {
			if val, ok := c.Arguments[name]; ok {
				attrs[name] = val
			}
		}
	}
	// An undeclared action is decided as the runtime would: UNKNOWN_CAPABILITY.
	if act != nil && act.Arguments != nil {
		args := act.Arguments
		if args.Resource != "" {
			res, ok := argument(c.Arguments, args.Resource)
			if !ok {
				v.NotReplayable = MissingArgument
				v.Detail = fmt.Sprintf("%s declares its resource in argument %q, which the call lacks or holds no string or number in", v.Capability, args.Resource)
				return false
			}
			req["resource"] = res
		}
		for name, path := range args.Attributes {
			delete(attrs, name) // a mapped attribute is the mapped argument or nothing
			if val, ok := lookupPath(c.Arguments, path); ok {
				attrs[name] = val
			}
		}
	}
	if len(attrs) > 0 {
		req["attributes"] = attrs
	}
	a := p.Agent(c.Agent)
	switch {
	case c.Identity != "":
		req["identity"] = c.Identity
	case a != nil && a.SpiffeID != "":
		req["identity"] = a.SpiffeID
		v.Assumed = append(v.Assumed, AssumedIdentity)
	}
	if a != nil && a.Credential != nil && a.Credential.HasTTL {
		req["credential"] = map[string]any{"expires_at": now.Add(a.Credential.TTL).UTC().Format(time.RFC3339Nano)}
		v.Assumed = append(v.Assumed, AssumedCredential)
	}
	v.Request = req
	return true
}

func sessionStart(start, now time.Time) time.Time {
	if start.IsZero() || now.Before(start) {
		return now
	}
	return start
}

// capability maps a recorded tool name to a declared tool and action: "tool.action" when
// the name has that form and names a declared tool, else the single action of that name or
// imported from an MCP tool of that name (its pin). It never guesses: anything else is not
// replayable.
func (sd *side) capability(name string) (tool, action, reason, detail string) {
	if t, a, ok := policy.SplitCapability(name); ok && sd.Policy.Tool(t) != nil {
		return t, a, "", ""
	}
	switch named := sd.byAction[name]; len(named) {
	case 0:
		return "", "", UnknownTool, fmt.Sprintf("no tool declares %q, and no tool declares an action of that name", name)
	case 1:
		return named[0].tool, named[0].action, "", ""
	default:
		tools := make([]string, len(named))
		for i, c := range named {
			tools[i] = c.tool
		}
		return "", "", AmbiguousTool, fmt.Sprintf("%q is an action of %d tools: %s", name, len(tools), strings.Join(tools, ", "))
	}
}

// argument returns the resource argument at path as a string; numbers keep their JSON text.
func argument(args map[string]any, path string) (string, bool) {
	v, ok := lookupPath(args, path)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// lookupPath reads the argument at a dot-separated path.
func lookupPath(args map[string]any, path string) (any, bool) {
	return policy.Lookup(args, strings.Split(path, ".")...)
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Via renders a chain with the hand-off modes between its agents, as
// "triage -delegate-> billing" (simulate.FormatChain); several declared modes show sorted
// and joined ("-attenuate|delegate->"), an undeclared hand-off as "-?->".
func Via(p *policy.Policy, chain []string) string {
	modes := make([]string, 0, len(chain))
	for i := 1; i < len(chain); i++ {
		ms := slices.Sorted(slices.Values(p.HandoffModes(chain[i-1], chain[i])))
		m := strings.Join(ms, "|")
		if m == "" {
			m = "?"
		}
		modes = append(modes, m)
	}
	return simulate.FormatChain(chain, modes)
}
