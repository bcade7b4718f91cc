package diff

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// element is one thing of a policy that the structural diff matches by what it is: its key
// is its name (agents, tools, rules), tool.action, hand-off ends, or a grant's tool.
type element struct {
	kind   string
	key    string // the path shown: agents.billing, handoffs[triage->billing], ...
	parent string // the key of the element it belongs to, "" for top-level ones
	pos    policy.Pos
	fields []field
}

type field struct {
	name  string // relative to the element: "credential.ttl", "mode"
	value any
}

func (e *element) set(name string, v any) { e.fields = append(e.fields, field{name, v}) }

// values returns the fields as a map, for the before/after of an added or removed element.
func (e *element) values() map[string]any {
	m := make(map[string]any, len(e.fields))
	for _, f := range e.fields {
		m[f.name] = f.value
	}
	return m
}

// delta is what changed between two versions, as the later stages need it.
type delta struct {
	base, head *policy.Policy
	changes    []Change
	agents     map[string]bool      // agents added, removed, or with changed grants or input trust
	tools      map[string]bool      // tools added, removed, or with changed actions, effects, data or trust boundary
	edges      map[policy.Edge]bool // hand-offs whose modes differ (added and removed included)
	rules      map[string]bool      // approval rules added, removed or changed
	settings   bool                 // max_chain_depth differs
	decide     map[string]bool      // agents whose runtime decisions may differ (identity, credential, session too)
}

func newDelta(base, head *policy.Policy, scope *Scope) *delta {
	d := &delta{base: base, head: head, agents: map[string]bool{}, tools: map[string]bool{},
		edges: map[policy.Edge]bool{}, rules: map[string]bool{}, decide: map[string]bool{}}
	be, he := elements(base, scope), elements(head, scope)
	bm, hm := index(be), index(he)
	for _, e := range be {
		if _, ok := hm[e.key]; !ok {
			if _, parentGone := hm[e.parent]; e.parent == "" || parentGone {
				file, line := posOf(e.pos)
				d.changes = append(d.changes, Change{Kind: e.kind, Op: Removed, Path: e.key, Before: e.values(), File: file, Line: line})
			}
			d.note(e, true)
		}
	}
	for _, e := range he {
		b, ok := bm[e.key]
		if !ok {
			if _, parentThere := bm[e.parent]; e.parent == "" || parentThere {
				file, line := posOf(e.pos)
				d.changes = append(d.changes, Change{Kind: e.kind, Op: Added, Path: e.key, After: e.values(), File: file, Line: line})
			}
			d.note(e, true)
			continue
		}
		changed := false
		bv, hv := b.values(), e.values()
		for _, name := range unionNames(b, e) {
			x, inB := bv[name]
			y, inH := hv[name]
			if inB && inH && equal(x, y) {
				continue
			}
			changed = true
			path := e.key + "." + name
			pos := e.pos
			if p, ok := head.Positions[path]; ok && e.kind != "handoff" && e.kind != "grant" {
				pos = p
			}
			file, line := posOf(pos)
			c := Change{Kind: e.kind, Op: Changed, Path: path, Before: x, After: y, File: file, Line: line}
			d.changes = append(d.changes, c)
			d.noteField(e, name)
		}
		if changed {
			d.note(e, false)
		}
	}
	slices.SortStableFunc(d.changes, func(a, b Change) int { return strings.Compare(order(a), order(b)) })
	return d
}

// kinds are the kinds of elements in the order of the language reference.
var kinds = []string{"setting", "list", "agent", "grant", "credential", "session", "tool", "action", "handoff", "approval", "scenario", "test"}

// order sorts changes by kind, then path.
func order(c Change) string {
	return fmt.Sprintf("%02d %s", slices.Index(kinds, c.Kind), c.Path)
}

// note records which later stages an added, removed or changed element affects.
func (d *delta) note(e *element, whole bool) {
	switch e.kind {
	case "agent":
		name := strings.TrimPrefix(e.key, "agents.")
		d.decide[name] = true
		if whole {
			d.agents[name] = true
		}
	case "grant":
		name := strings.TrimPrefix(e.parent, "agents.")
		d.agents[name], d.decide[name] = true, true
	case "credential", "session":
		d.decide[strings.TrimPrefix(e.parent, "agents.")] = true
	case "tool":
		if whole {
			d.tools[strings.TrimPrefix(e.key, "tools.")] = true
		}
	case "action":
		d.tools[strings.TrimPrefix(e.parent, "tools.")] = true
	case "handoff":
		from, to, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(e.key, "handoffs["), "]"), "->")
		d.edges[policy.Edge{From: from, To: to}] = true
	case "approval":
		d.rules[strings.TrimPrefix(e.key, "approvals.")] = true
	}
}

// noteField records what a changed field of a matched element affects.
func (d *delta) noteField(e *element, name string) {
	switch {
	case e.kind == "agent" && name == "untrusted_input":
		d.agents[strings.TrimPrefix(e.key, "agents.")] = true
	case e.kind == "tool" && name == "external":
		d.tools[strings.TrimPrefix(e.key, "tools.")] = true
	case e.kind == "setting" && name == "max_chain_depth":
		d.settings = true
	}
}

func index(es []*element) map[string]*element {
	m := make(map[string]*element, len(es))
	for _, e := range es {
		m[e.key] = e
	}
	return m
}

// unionNames lists the field names of a, then those only b has.
func unionNames(a, b *element) []string {
	var names []string
	for _, f := range a.fields {
		names = append(names, f.name)
	}
	for _, f := range b.fields {
		if !slices.Contains(names, f.name) {
			names = append(names, f.name)
		}
	}
	return names
}

func equal(x, y any) bool {
	xs, ok1 := x.([]string)
	ys, ok2 := y.([]string)
	if ok1 || ok2 {
		return ok1 && ok2 && slices.Equal(xs, ys)
	}
	return x == y
}

func sortedCopy(s []string) []string {
	if s == nil {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// elements lists p's elements in source-independent order: all of them, or those of scope.
func elements(p *policy.Policy, scope *Scope) []*element {
	var out []*element
	add := func(e *element) *element { out = append(out, e); return e }
	// in reports whether the elements of a container are compared, and which.
	in := func(container, name string) bool {
		return scope == nil || scope.Container == container && slices.Contains(scope.Names, name)
	}
	if scope == nil {
		s := p.Settings
		st := add(&element{kind: "setting", key: "settings", pos: p.Pos("settings")})
		st.set("risk_tier", s.RiskTier)
		st.set("max_credential_ttl", policy.FormatDuration(s.MaxCredentialTTL))
		st.set("max_chain_depth", p.MaxChainDepth())
		st.set("audit.tool_calls", s.Audit.ToolCalls)
		st.set("audit.approvals", s.Audit.Approvals)
		st.set("audit.chains", s.Audit.Chains)
		f := p.Flow()
		st.set("flow.on_egress", f.OnEgress)
		st.set("flow.role", f.Role)
		st.set("flow.approvers", f.Approvers)
		if in := p.IntegrityRule(); in != nil {
			st.set("flow.integrity.on", in.On)
			st.set("flow.integrity.effects", sortedCopy(in.Effects))
			st.set("flow.integrity.role", in.Role)
			st.set("flow.integrity.approvers", in.Approvers)
			if in.Unless != nil {
				st.set("flow.integrity.unless", condText(in.Unless))
			}
		}
		for _, l := range p.Lists {
			e := add(&element{kind: "list", key: l.Path(), pos: l.Pos})
			if l.Runtime {
				e.set("runtime", true)
				optional(e, "key", l.Key)
			} else {
				vals, _ := values(&policy.Condition{List: l.Name}, p)
				e.set("values", vals)
			}
		}
	}
	for _, a := range p.Agents {
		if !in("agents", a.Name) {
			continue
		}
		e := add(&element{kind: "agent", key: a.Path(), pos: a.Pos})
		optional(e, "description", a.Description)
		optional(e, "owner", a.Owner)
		optional(e, "identity.spiffe_id", a.SpiffeID)
		e.set("untrusted_input", a.UntrustedInput)
		e.set("autonomy", a.Autonomy)
		optional(e, "flow_exempt", a.FlowExempt)
		for i, key := range grantKeys(a) {
			g := a.Grants[i]
			ge := add(&element{kind: "grant", key: key, parent: a.Path(), pos: g.Pos})
			ge.set("actions", sortedCopy(g.Actions))
			if g.Resources != nil {
				ge.set("resources", sortedCopy(g.Resources))
			}
			ge.set("jit", g.JIT)
			if g.When != nil {
				ge.set("when", condText(g.When))
			}
		}
		if c := a.Credential; c != nil {
			ce := add(&element{kind: "credential", key: a.Path() + ".credential", parent: a.Path(), pos: c.Pos})
			ce.set("kind", c.Kind)
			ce.set("scope", c.Scope)
			if c.HasTTL {
				ce.set("ttl", policy.FormatDuration(c.TTL))
			}
			ce.set("revoke_on_task_end", c.RevokeOnTaskEnd)
		}
		if ss := a.Session; ss != nil {
			se := add(&element{kind: "session", key: a.Path() + ".session", parent: a.Path(), pos: ss.Pos})
			if ss.MaxActions > 0 {
				se.set("max_actions", ss.MaxActions)
			}
			if ss.HasMaxDuration {
				se.set("max_duration", policy.FormatDuration(ss.MaxDuration))
			}
		}
	}
	for _, t := range p.Tools {
		if !in("tools", t.Name) {
			continue
		}
		e := add(&element{kind: "tool", key: t.Path(), pos: t.Pos})
		optional(e, "description", t.Description)
		e.set("source", t.Source)
		e.set("external", t.External)
		e.set("auth.kind", t.Auth.Kind)
		if t.Auth.HasTTL {
			e.set("auth.ttl", policy.FormatDuration(t.Auth.TTL))
		}
		for _, a := range t.Actions {
			ae := add(&element{kind: "action", key: t.Path() + ".actions." + a.Name, parent: t.Path(), pos: a.Pos})
			ae.set("effect", a.Effect)
			ae.set("data", a.Data)
			optional(ae, "flow_exempt", a.FlowExempt)
			if a.Untrusted != nil {
				ae.set("untrusted", classOf(a.Untrusted, false).String())
			}
			if a.Egress != nil {
				ae.set("egress", classOf(a.Egress, false).String())
			}
			if m := a.Arguments; m != nil {
				optional(ae, "arguments.resource", m.Resource)
				for _, k := range slices.Sorted(maps.Keys(m.Attributes)) {
					ae.set("arguments.attributes."+k, m.Attributes[k])
				}
			}
			if pin := a.Pin; pin != nil {
				ae.set("pin.tool", pin.Tool)
				ae.set("pin.description", pin.Description)
				ae.set("pin.input_schema", pin.InputSchema)
				ae.set("pin.version", pin.Version)
				ae.set("pin.title", pin.Title)
				ae.set("pin.output_schema", pin.OutputSchema)
				ae.set("pin.meta", pin.Meta)
				ae.set("pin.hints.read_only", pin.Hints.ReadOnly)
				ae.set("pin.hints.destructive", pin.Hints.Destructive)
				ae.set("pin.hints.idempotent", pin.Hints.Idempotent)
				ae.set("pin.hints.open_world", pin.Hints.OpenWorld)
			}
		}
	}
	// Hand-offs are matched by their ends; an edge declared in several modes keeps them all.
	modes := map[policy.Edge][]string{}
	first := map[policy.Edge]policy.Pos{}
	var edges []policy.Edge
	for _, h := range p.Handoffs {
		x := policy.Edge{From: h.From, To: h.To}
		if scope != nil && (scope.Container != "handoffs" || !slices.Contains(scope.Edges, x)) {
			continue
		}
		if _, ok := modes[x]; !ok {
			edges = append(edges, x)
			first[x] = h.Pos
		}
		if !slices.Contains(modes[x], h.Mode) {
			modes[x] = append(modes[x], h.Mode)
		}
	}
	slices.SortFunc(edges, func(a, b policy.Edge) int {
		return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
	})
	for _, x := range edges {
		e := add(&element{kind: "handoff", key: edgeKey(x), pos: first[x]})
		e.set("mode", strings.Join(sortedCopy(modes[x]), ","))
	}
	for _, r := range p.Approvals {
		if !in("approvals", r.Name) {
			continue
		}
		e := add(&element{kind: "approval", key: r.Path(), pos: r.Pos})
		optional(e, "description", r.Description)
		m := r.Match
		for _, f := range []struct {
			name string
			list []string
		}{{"effects", m.Effects}, {"tools", m.Tools}, {"actions", m.Actions}, {"data", m.Data}, {"agents", m.Agents}} {
			if f.list != nil {
				e.set("match."+f.name, sortedCopy(f.list))
			}
		}
		if m.When != nil {
			e.set("match.when", condText(m.When))
		}
		if t := r.Threshold; t != nil {
			e.set("threshold.attribute", t.Attribute)
			e.set("threshold.above", t.Above)
		}
		e.set("require.approvers", r.Require.Approvers)
		e.set("require.role", r.Require.Role)
		if r.HasTimeout {
			e.set("timeout", policy.FormatDuration(r.Timeout))
		}
	}
	for _, sc := range p.Scenarios {
		if !in("scenarios", sc.Name) {
			continue
		}
		e := add(&element{kind: "scenario", key: sc.Path(), pos: sc.Pos})
		e.set("definition", scenarioText(sc))
	}
	for _, t := range p.Tests {
		if !in("tests", t.Name) {
			continue
		}
		e := add(&element{kind: "test", key: t.Path(), pos: t.Pos})
		e.set("definition", fmt.Sprintf("%v -> %s %s", t.Input, t.Expect.Outcome, t.Expect.Code))
	}
	return out
}

// grantKeys keys an agent's grants by what they are, not their index: by tool, with "#n"
// for the n-th grant on one tool.
func grantKeys(a *policy.Agent) []string {
	keys := make([]string, len(a.Grants))
	seen := map[string]int{}
	for i, g := range a.Grants {
		seen[g.Tool]++
		keys[i] = a.Path() + ".grants[" + g.Tool + "]"
		if n := seen[g.Tool]; n > 1 {
			keys[i] = a.Path() + ".grants[" + g.Tool + "#" + strconv.Itoa(n) + "]"
		}
	}
	return keys
}

func edgeKey(x policy.Edge) string { return "handoffs[" + x.From + "->" + x.To + "]" }

func optional(e *element, name, v string) {
	if v != "" {
		e.set(name, v)
	}
}

// scenarioText is a scenario's definition in one comparable line (what changed inside it
// shows in its outcome and reach, not here).
func scenarioText(sc *policy.Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "start=%s", sc.Start)
	if sc.UntrustedInput != nil {
		fmt.Fprintf(&b, " untrusted_input=%t", *sc.UntrustedInput)
	}
	if sc.Authority != nil {
		b.WriteString(" authority=")
		for _, g := range sc.Authority {
			fmt.Fprintf(&b, "[%s %v %v %t]", g.Tool, g.Actions, g.Resources, g.JIT)
		}
	}
	if w := sc.WhatIf; w != nil {
		fmt.Fprintf(&b, " what_if=%v", *w)
	}
	if x := sc.Expect; x != nil {
		b.WriteString(" expect=")
		if x.Escalations != nil {
			fmt.Fprintf(&b, "escalations:%d ", *x.Escalations)
		}
		if x.Exfiltration != nil {
			fmt.Fprintf(&b, "exfiltration:%t ", *x.Exfiltration)
		}
		fmt.Fprintf(&b, "%v %v %v", x.Reachable, x.Unreachable, x.NeedsApproval)
	}
	return b.String()
}
