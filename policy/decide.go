package policy

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Reason codes of the runtime decision (contract), plus MALFORMED_REQUEST for input that
// does not have the request's shape. Their order here is the evaluation order: reasons are
// reported sorted by it (then by message), so Reasons[0] is the primary reason.
const (
	CodeMalformedRequest    = "MALFORMED_REQUEST"
	CodeUnknownAgent        = "UNKNOWN_AGENT"
	CodeIdentityMismatch    = "IDENTITY_MISMATCH"
	CodeUnknownCapability   = "UNKNOWN_CAPABILITY"
	CodeUndeclaredHandoff   = "UNDECLARED_HANDOFF"
	CodeChainTooDeep        = "CHAIN_TOO_DEEP"
	CodeNotGranted          = "NOT_GRANTED"
	CodeResourceNotGranted  = "RESOURCE_NOT_GRANTED"
	CodeConditionNotMet     = "CONDITION_NOT_MET"
	CodeCredentialExpired   = "CREDENTIAL_EXPIRED"
	CodeSessionLimit        = "SESSION_LIMIT"
	CodeRevoked             = "REVOKED"
	CodeApprovalRequired    = "APPROVAL_REQUIRED"
	CodeFlowBlocked         = "FLOW_BLOCKED"
	CodeIntegrityBlocked    = "INTEGRITY_BLOCKED"
	OutcomeAllow            = "allow"
	OutcomeDeny             = "deny"
	OutcomeNeedsApproval    = "needs_approval"
	defaultMaxChainDepth    = 3
	revocationAgents        = "agents"
	revocationTasks         = "tasks"
	approvalFieldsMalformed = "approvals must hold objects with an approver and a role that are printable ASCII without spaces and, if present, a boolean human"
)

// ReasonCodes lists every reason code in evaluation order.
var ReasonCodes = []string{
	CodeMalformedRequest, CodeUnknownAgent, CodeIdentityMismatch, CodeUnknownCapability,
	CodeUndeclaredHandoff, CodeChainTooDeep, CodeNotGranted, CodeResourceNotGranted, CodeConditionNotMet,
	CodeCredentialExpired, CodeSessionLimit, CodeRevoked, CodeApprovalRequired, CodeFlowBlocked,
	CodeIntegrityBlocked,
}

// Decision is the runtime verdict on one tool call (contract shape).
type Decision struct {
	Allow             bool               `json:"allow"`
	Outcome           string             `json:"outcome"`
	Reasons           []Reason           `json:"reasons"`
	ApprovalsRequired []RequiredApproval `json:"approvals_required"`
	// Flow holds the labels the enforcement point must keep for the task once this call
	// has executed (whatever the outcome: it only matters if the call runs).
	Flow Flow `json:"flow"`
}

// Reason explains a deny or a needs_approval.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RequiredApproval is an approval rule the request still lacks approvers for. The flow
// rules' entries (flow:egress, flow:integrity) also carry their Context.
type RequiredApproval struct {
	Rule      string `json:"rule"`
	Role      string `json:"role"`
	Approvers int    `json:"approvers"`
	*Context
}

// Context tells a reviewer why a flow rule stopped a call: the capabilities that set the
// session's labels, and the call's arguments (the request's attributes).
type Context struct {
	Sources   FlowSources    `json:"sources"`
	Arguments map[string]any `json:"arguments"`
}

// Env is what a decision reads besides the request: the operator-pushed revocations (the
// JSON document OPA holds at data.agentctl_revocations, or nil) and the clock used when the
// request carries no "now".
type Env struct {
	Revocations any
	// Lists is the JSON document OPA holds at data.agentctl_lists (runtime lists), or nil.
	Lists any
	Now   time.Time
}

// MaxChainDepth is settings.max_chain_depth, with the schema default when unset.
func (p *Policy) MaxChainDepth() int {
	if p.Settings.MaxChainDepth <= 0 {
		return defaultMaxChainDepth
	}
	return p.Settings.MaxChainDepth
}

// Decide is the reference runtime decision for input, a decoded JSON request. The compiled
// Rego must return the same Decision for every input; docs/runtime.md states the rules.
func (p *Policy) Decide(input any, env Env) Decision {
	d := decider{p: p, env: env}
	d.run(input)
	return d.decision()
}

type decider struct {
	p       *Policy
	env     Env
	reasons []Reason
	pending []RequiredApproval
	flow    Flow
}

func (d *decider) deny(code, format string, args ...any) {
	r := Reason{code, fmt.Sprintf(format, args...)}
	if !slices.Contains(d.reasons, r) {
		d.reasons = append(d.reasons, r)
	}
}

// request is the input with each field classified; absent and malformed fields are unset.
type request struct {
	in            map[string]any
	agent         string
	hasAgent      bool
	capability    string
	hasCapability bool
	chain         []string // the well-formed chain, or nil
	chainArray    []any    // the request's chain when it is an array
	nowNS         int64
	hasNow        bool
}

// run decides input and returns the request as classified, for Explain.
func (d *decider) run(input any) *request {
	in, ok := input.(map[string]any)
	if !ok {
		d.deny(CodeMalformedRequest, "request must be a JSON object")
		in = map[string]any{}
	}
	r := request{in: in}
	d.checkShape(&r)
	d.checkNames(&r)
	d.checkGrant(&r)
	d.checkCredential(&r)
	d.checkSession(&r)
	d.checkRevoked(&r)
	d.checkApprovals(&r)
	d.checkFlow(&r)
	return &r
}

func (d *decider) checkShape(r *request) {
	in := r.in
	r.agent, r.hasAgent = in["agent"].(string)
	if !r.hasAgent {
		d.deny(CodeMalformedRequest, "agent must be a string")
	}
	tool, okTool := in["tool"].(string)
	if !okTool {
		d.deny(CodeMalformedRequest, "tool must be a string")
	}
	action, okAction := in["action"].(string)
	if !okAction {
		d.deny(CodeMalformedRequest, "action must be a string")
	}
	if okTool && okAction {
		r.capability, r.hasCapability = Capability(tool, action), true
	}
	for _, k := range []string{"identity", "resource", "task"} {
		if v, ok := in[k]; ok {
			if _, isStr := v.(string); !isStr {
				d.deny(CodeMalformedRequest, "%s must be a string", k)
			}
		}
	}
	if v, ok := in["attributes"]; ok {
		if _, isObj := v.(map[string]any); !isObj {
			d.deny(CodeMalformedRequest, "attributes must be an object")
		}
	}
	if v, ok := in["approvals"]; ok {
		list, isArr := v.([]any)
		if !isArr {
			d.deny(CodeMalformedRequest, "approvals must be an array")
		}
		for _, e := range list {
			if !wellFormedApproval(e) {
				d.deny(CodeMalformedRequest, approvalFieldsMalformed)
			}
		}
	}
	for _, k := range []string{"credential", "session"} {
		if v, ok := in[k]; ok {
			if _, isObj := v.(map[string]any); !isObj {
				d.deny(CodeMalformedRequest, "%s must be an object", k)
			}
		}
	}
	for _, path := range [][]string{{"credential", "expires_at"}, {"session", "started_at"}, {"now"}} {
		if v, ok := Lookup(in, path...); ok {
			if _, valid := timestampNS(v); !valid {
				d.deny(CodeMalformedRequest, "%s must be an RFC 3339 timestamp", strings.Join(path, "."))
			}
		}
	}
	if v, ok := Lookup(in, "session", "actions"); ok {
		if n, isNum := number(v); !isNum || n.Sign() < 0 {
			d.deny(CodeMalformedRequest, "session.actions must be a non-negative number")
		}
	}
	if v, ok := Lookup(in, "session", "flow"); ok {
		if _, isObj := v.(map[string]any); !isObj {
			d.deny(CodeMalformedRequest, "session.flow must be an object")
		}
	}
	for _, k := range []string{"untrusted", "sensitive"} {
		if v, ok := Lookup(in, "session", "flow", k); ok {
			if _, isBool := v.(bool); !isBool {
				d.deny(CodeMalformedRequest, "session.flow.%s must be a boolean", k)
			}
		}
	}
	if v, ok := Lookup(in, "session", "flow", "sources"); ok {
		if _, isObj := v.(map[string]any); !isObj {
			d.deny(CodeMalformedRequest, "session.flow.sources must be an object")
		}
	}
	for _, k := range []string{"untrusted", "sensitive"} {
		if v, ok := Lookup(in, "session", "flow", "sources", k); ok && !stringArray(v) {
			d.deny(CodeMalformedRequest, "session.flow.sources.%s must be an array of strings", k)
		}
	}
	if v, ok := in["now"]; ok {
		r.nowNS, r.hasNow = timestampNS(v)
	} else {
		r.nowNS, r.hasNow = d.env.Now.UnixNano(), true
	}
	d.checkChainShape(r)
}

func (d *decider) checkChainShape(r *request) {
	v, ok := r.in["chain"]
	if !ok {
		if r.hasAgent {
			r.chain = []string{r.agent}
		}
		return
	}
	list, isArr := v.([]any)
	r.chainArray = list
	names := make([]string, 0, len(list))
	for _, e := range list {
		if s, isStr := e.(string); isStr {
			names = append(names, s)
		}
	}
	if !isArr || len(list) == 0 || len(names) != len(list) {
		d.deny(CodeMalformedRequest, "chain must be a non-empty array of agent names")
		return
	}
	if r.hasAgent && names[len(names)-1] != r.agent {
		d.deny(CodeMalformedRequest, "chain must end with the agent")
		return
	}
	if r.hasAgent {
		r.chain = names
	}
}

func stringArray(v any) bool {
	list, ok := v.([]any)
	for _, e := range list {
		if _, isStr := e.(string); !isStr {
			return false
		}
	}
	return ok
}

func wellFormedApproval(e any) bool {
	m, ok := e.(map[string]any)
	if !ok {
		return false
	}
	if !canonicalField(m, "approver") || !canonicalField(m, "role") {
		return false
	}
	if h, ok := m["human"]; ok {
		if _, isBool := h.(bool); !isBool {
			return false
		}
	}
	return true
}

// canonicalField reports whether m[key] is a string with a canonical form.
func canonicalField(m map[string]any, key string) bool {
	s, ok := m[key].(string)
	if ok {
		_, ok = CanonicalName(s)
	}
	return ok
}

// names returns the agent and every string element of the request's chain: the agents the
// request says take part.
func (r *request) names() []string {
	var out []string
	if r.hasAgent {
		out = append(out, r.agent)
	}
	for _, e := range r.chainArray {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decider) checkNames(r *request) {
	p := d.p
	for _, n := range r.names() {
		if p.Agent(n) == nil {
			d.deny(CodeUnknownAgent, "agent %q is not declared", n)
		}
	}
	if a := p.Agent(r.agent); r.hasAgent && a != nil && a.SpiffeID != "" {
		switch id, present := r.in["identity"]; {
		case !present:
			d.deny(CodeIdentityMismatch, "agent %q must present its SPIFFE ID", r.agent)
		case id != a.SpiffeID:
			if s, ok := id.(string); ok {
				d.deny(CodeIdentityMismatch, "identity %q is not the SPIFFE ID of agent %q", s, r.agent)
			}
		}
	}
	if r.hasCapability {
		if _, ok := p.Caps().ID(r.capability); !ok {
			d.deny(CodeUnknownCapability, "capability %q is not declared", r.capability)
		}
	}
	for i := 1; i < len(r.chainArray); i++ {
		from, ok1 := r.chainArray[i-1].(string)
		to, ok2 := r.chainArray[i].(string)
		if ok1 && ok2 && len(p.HandoffModes(from, to)) == 0 {
			d.deny(CodeUndeclaredHandoff, "no hand-off from %q to %q is declared", from, to)
		}
	}
	if hops := len(r.chainArray) - 1; hops > p.MaxChainDepth() {
		d.deny(CodeChainTooDeep, "chain has %d hand-offs, more than max_chain_depth %d", hops, p.MaxChainDepth())
	}
}

// walkable reports whether the chain is well-formed, declared and within depth, and the
// capability is declared: the preconditions for asking whether it is granted.
func (d *decider) walkable(r *request) bool {
	if r.chain == nil || !r.hasCapability || len(r.chain)-1 > d.p.MaxChainDepth() {
		return false
	}
	if _, ok := d.p.Caps().ID(r.capability); !ok {
		return false
	}
	for i, n := range r.chain {
		if d.p.Agent(n) == nil || i > 0 && len(d.p.HandoffModes(r.chain[i-1], n)) == 0 {
			return false
		}
	}
	return true
}

func (d *decider) checkGrant(r *request) {
	if !d.walkable(r) {
		return
	}
	chain := strings.Join(r.chain, " -> ")
	if !d.p.Carried(r.chain, func(a *Agent) bool { return a.GrantFor(d.p, r.capability, nil, true) != nil }) {
		d.deny(CodeNotGranted, "%q is not granted along the chain %s", r.capability, chain)
		return
	}
	resource := r.resource()
	if !d.p.Carried(r.chain, func(a *Agent) bool { return a.GrantFor(d.p, r.capability, resource, false) != nil }) {
		if resource != nil {
			d.deny(CodeResourceNotGranted, "resource %q is not granted for %q along the chain %s", *resource, r.capability, chain)
		} else {
			d.deny(CodeResourceNotGranted, "%q is granted only on listed resources along the chain %s and the request names none", r.capability, chain)
		}
		return
	}
	ce := d.conditions(r)
	if d.p.Carried(r.chain, func(a *Agent) bool { return a.grantWhen(d.p, r.capability, resource, ce) != nil }) {
		return
	}
	d.deny(CodeConditionNotMet, "%q is granted along the chain %s only under conditions the call does not meet: %s",
		r.capability, chain, strings.Join(d.failingConditions(r, resource, ce), "; "))
}

// conditions is what the request's conditions are evaluated against.
func (d *decider) conditions(r *request) conditionEnv {
	return conditionEnv{p: d.p, in: r.in, lists: d.env.Lists}
}

// grantWhen returns the first grant of a that covers capability on resource and whose
// conditions hold for the request.
func (a *Agent) grantWhen(p *Policy, capability string, resource *string, ce conditionEnv) *Grant {
	tool, action, _ := SplitCapability(capability)
	for _, g := range a.Grants {
		if g.Covers(tool, action) && (g.AllResources() || resource != nil && matchAny(g.Resources, *resource)) && ce.all(g.When) {
			return g
		}
	}
	return nil
}

// failingConditions are the conditions that do not hold of the grants of the chain's agents
// covering the capability on the resource, as Condition.String shows them, sorted and
// deduplicated.
func (d *decider) failingConditions(r *request, resource *string, ce conditionEnv) []string {
	tool, action, _ := SplitCapability(r.capability)
	var out []string
	for _, n := range r.chain {
		for _, g := range d.p.Agent(n).Grants {
			if g.Covers(tool, action) && (g.AllResources() || resource != nil && matchAny(g.Resources, *resource)) {
				out = append(out, ce.failing(g.When)...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// resource is the request's resource, or nil when it names none.
func (r *request) resource() *string {
	if s, ok := r.in["resource"].(string); ok {
		return &s
	}
	return nil
}

// Carried reports whether a capability survives a declared chain, given which agents hold it
// themselves: the originator's holding, then per hand-off into a: attenuate keeps it only if
// a holds it, delegate replaces it by a's holding, forward_credentials adds a's holding.
// Parallel hand-offs between the same agents are alternatives: any of them may carry it.
func (p *Policy) Carried(chain []string, holds func(*Agent) bool) bool {
	cur := holds(p.Agent(chain[0]))
	for i := 1; i < len(chain); i++ {
		h := holds(p.Agent(chain[i]))
		next := false
		for _, m := range p.HandoffModes(chain[i-1], chain[i]) {
			switch m {
			case ModeAttenuate:
				next = next || cur && h
			case ModeDelegate:
				next = next || h
			case ModeForwardCredentials:
				next = next || cur || h
			}
		}
		cur = next
	}
	return cur
}

// GrantFor returns the first grant of a that covers capability and, unless anyResource, the
// resource; a nil resource (the request names none) is covered only by grants without a
// resource list.
func (a *Agent) GrantFor(p *Policy, capability string, resource *string, anyResource bool) *Grant {
	tool, action, _ := SplitCapability(capability)
	if t := p.Tool(tool); t == nil || t.Action(action) == nil {
		return nil
	}
	for _, g := range a.Grants {
		if !g.Covers(tool, action) {
			continue
		}
		if anyResource || g.AllResources() || resource != nil && matchAny(g.Resources, *resource) {
			return g
		}
	}
	return nil
}

func matchAny(patterns []string, resource string) bool {
	for _, pat := range patterns {
		if globMatch(pat, resource) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches the resource glob pat, with the meaning of
// ResourceRegexp (which the Rego engine uses), without compiling a regular expression on
// the hot path: with "*" the only special character, matching each literal piece at its
// leftmost place is exact.
func globMatch(pat, s string) bool {
	parts := strings.Split(pat, Wildcard)
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// ResourceRegexp translates a resource glob to an anchored RE2 expression: "*" matches any
// run of characters (newlines and "/" included), every other character matches itself.
// Both engines match with this expression, so they agree character for character.
func ResourceRegexp(glob string) string {
	parts := strings.Split(glob, Wildcard)
	for i, s := range parts {
		parts[i] = regexp.QuoteMeta(s)
	}
	return "(?s)^" + strings.Join(parts, ".*") + "$"
}

func (d *decider) checkCredential(r *request) {
	exp, present := Lookup(r.in, "credential", "expires_at")
	if !present {
		if a := d.p.Agent(r.agent); r.hasAgent && a != nil && a.Credential != nil && a.Credential.HasTTL {
			d.deny(CodeCredentialExpired, "credential.expires_at is required: agent %q has a credential ttl", r.agent)
		}
		return
	}
	if ns, ok := timestampNS(exp); ok && r.hasNow && r.nowNS >= ns {
		d.deny(CodeCredentialExpired, "credential expired at %s", exp)
	}
}

func (d *decider) checkSession(r *request) {
	a := d.p.Agent(r.agent)
	if !r.hasAgent || a == nil || a.Session == nil {
		return
	}
	if max := a.Session.MaxActions; max > 0 {
		v, present := Lookup(r.in, "session", "actions")
		n, isNum := number(v)
		switch {
		case !present:
			d.deny(CodeSessionLimit, "session.actions is required: agent %q limits sessions to %d actions", r.agent, max)
		case isNum && n.Cmp(bigOf(float64(max))) >= 0: // max fits 32 bits: exact as a float
			d.deny(CodeSessionLimit, "agent %q reached its session limit of %d actions", r.agent, max)
		}
	}
	if a.Session.HasMaxDuration {
		v, present := Lookup(r.in, "session", "started_at")
		start, valid := timestampNS(v)
		switch {
		case !present:
			d.deny(CodeSessionLimit, "session.started_at is required: agent %q limits sessions to %s", r.agent, a.Session.MaxDuration)
		case valid && r.hasNow && elapsed(r.nowNS, start) >= a.Session.MaxDuration:
			d.deny(CodeSessionLimit, "agent %q exceeded its session duration of %s", r.agent, a.Session.MaxDuration)
		}
	}
}

func (d *decider) checkRevoked(r *request) {
	for _, n := range r.names() {
		if revoked(d.env.Revocations, revocationAgents, n) {
			d.deny(CodeRevoked, "agent %q is revoked", n)
		}
	}
	if t, ok := r.in["task"].(string); ok && revoked(d.env.Revocations, revocationTasks, t) {
		d.deny(CodeRevoked, "task %q is revoked", t)
	}
}

// revoked reports whether revocations[kind][key] is present and not false.
func revoked(revocations any, kind, key string) bool {
	v, ok := Lookup(revocations, kind, key)
	return ok && v != false
}

func (d *decider) checkApprovals(r *request) {
	if !r.hasAgent || !r.hasCapability {
		return
	}
	id, ok := d.p.Caps().ID(r.capability)
	if !ok {
		return
	}
	ce := d.conditions(r)
	for _, rule := range d.p.MatchingApprovals(r.agent, d.p.Caps().Action(id)) {
		if !d.thresholdApplies(r, rule) || !ce.noneFails(rule.Match.When) {
			continue
		}
		if n := d.approverCount(r, rule.Require.Role); n < rule.Require.Approvers {
			d.pending = append(d.pending, RequiredApproval{Rule: rule.Name, Role: rule.Require.Role, Approvers: rule.Require.Approvers})
		}
	}
}

// thresholdApplies reports whether a rule applies to the request: always without a
// threshold; with one, when the attribute is above it or absent (fail closed). A present
// attribute that is not a number makes the request malformed.
func (d *decider) thresholdApplies(r *request, rule *Approval) bool {
	t := rule.Threshold
	if t == nil {
		return true
	}
	v, present := Lookup(r.in, "attributes", t.Attribute)
	if !present {
		return true
	}
	n, ok := number(v)
	if !ok {
		d.deny(CodeMalformedRequest, "attribute %q must be a number", t.Attribute)
		return false
	}
	return n.Cmp(bigOf(t.Above)) > 0
}

// approverCount counts the distinct human approvers holding role that are not agents of
// the policy (by name or by SPIFFE ID), approvers and roles compared in canonical form. It
// is only called once the request is well-formed, so every entry has canonical names.
func (d *decider) approverCount(r *request, role string) int {
	want, ok := CanonicalName(role)
	if !ok {
		return 0 // no request can present a role without a canonical form
	}
	list, _ := r.in["approvals"].([]any)
	seen := map[string]bool{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		has, _ := CanonicalName(fmt.Sprint(m["role"]))
		who, _ := CanonicalName(fmt.Sprint(m["approver"]))
		if has != want || m["human"] != true || d.p.IsPrincipal(who) {
			continue
		}
		seen[who] = true
	}
	return len(seen)
}

// flowLabel is the request's session.flow label, set only when it is true.
func flowLabel(in map[string]any, label string) bool {
	v, _ := Lookup(in, "session", "flow", label)
	return v == true
}

// checkFlow computes the flow labels after the call and their sources, stops egress in a
// session that holds both labels, and stops a call with an effect the integrity rule guards
// in a session that holds untrusted content. An agent of the request with untrusted_input,
// or a call of the untrusted class, sets untrusted; a sensitive read sets sensitive.
func (d *decider) checkFlow(r *request) {
	d.flow.Untrusted = flowLabel(r.in, "untrusted")
	d.flow.Sensitive = flowLabel(r.in, "sensitive")
	untrustedFrom, sensitiveFrom := flowSources(r.in, "untrusted"), flowSources(r.in, "sensitive")
	defer func() {
		if len(untrustedFrom)+len(sensitiveFrom) > 0 {
			d.flow.Sources = &FlowSources{Untrusted: boundSources(untrustedFrom), Sensitive: boundSources(sensitiveFrom)}
		}
	}()
	for _, n := range r.names() {
		if a := d.p.Agent(n); a != nil && a.UntrustedInput {
			d.flow.Untrusted = true
		}
	}
	id, ok := d.p.Caps().ID(r.capability)
	if !r.hasCapability || !ok {
		return
	}
	act := d.p.Caps().Action(id)
	ce := d.conditions(r)
	untrusted, egress := d.p.DefaultClasses(act)
	if classApplies(act.Untrusted, untrusted, ce) {
		d.flow.Untrusted = true
		untrustedFrom = append(untrustedFrom, r.capability)
	}
	if SensitiveRead(act) {
		d.flow.Sensitive = true
		sensitiveFrom = append(sensitiveFrom, r.capability)
	}
	var agent *Agent
	if r.hasAgent {
		agent = d.p.Agent(r.agent)
	}
	exempt := d.p.FlowVerdict(agent, act) == FlowExempt
	context := func() *Context {
		attrs, _ := r.in["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
		}
		return &Context{Sources: FlowSources{Untrusted: boundSources(untrustedFrom), Sensitive: boundSources(sensitiveFrom)}, Arguments: attrs}
	}
	if classApplies(act.Egress, egress, ce) && d.flow.Untrusted && d.flow.Sensitive && !exempt {
		f := d.p.Flow()
		switch f.OnEgress {
		case FlowDeny:
			d.deny(CodeFlowBlocked, "%q is egress and the session holds untrusted content and a sensitive read%s", r.capability, context().text())
		case FlowNeedsApproval:
			if d.approverCount(r, f.Role) < f.Approvers {
				d.pending = append(d.pending, RequiredApproval{FlowRule, f.Role, f.Approvers, context()})
			}
		}
	}
	rule := d.p.IntegrityRule()
	if rule == nil || !slices.Contains(rule.Effects, act.Effect) || !d.flow.Untrusted || exempt ||
		len(rule.Unless) > 0 && ce.all(rule.Unless) {
		return
	}
	switch rule.On {
	case IntegrityDeny:
		d.deny(CodeIntegrityBlocked, "%q has effect %s and the session holds untrusted content%s", r.capability, act.Effect, context().text())
	case IntegrityNeedsApproval:
		if d.approverCount(r, rule.Role) < rule.Approvers {
			d.pending = append(d.pending, RequiredApproval{IntegrityRule, rule.Role, rule.Approvers, context()})
		}
	}
}

// flowSources are the string elements of session.flow.sources.<label>, when it is an array.
func flowSources(in map[string]any, label string) []string {
	v, _ := Lookup(in, "session", "flow", "sources", label)
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// boundSources sorts and deduplicates sources and keeps the first MaxSources.
func boundSources(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out[:min(len(out), MaxSources)]
}

// text is the context as messages append it: the sources of each label and the names of
// the arguments, each part left out when empty.
func (c *Context) text() string {
	var b strings.Builder
	for _, part := range []struct {
		name string
		list []string
	}{{"untrusted sources", c.Sources.Untrusted}, {"sensitive sources", c.Sources.Sensitive}, {"arguments", slices.Sorted(maps.Keys(c.Arguments))}} {
		if len(part.list) > 0 {
			fmt.Fprintf(&b, "; %s: %s", part.name, strings.Join(part.list, ", "))
		}
	}
	return b.String()
}

func (d *decider) decision() Decision {
	out := Decision{Outcome: OutcomeDeny, Reasons: []Reason{}, ApprovalsRequired: []RequiredApproval{}, Flow: d.flow}
	switch {
	case len(d.reasons) > 0:
		out.Reasons = d.reasons
	case len(d.pending) > 0:
		out.Outcome = OutcomeNeedsApproval
		out.ApprovalsRequired = d.pending
		slices.SortFunc(out.ApprovalsRequired, func(a, b RequiredApproval) int { return strings.Compare(a.Rule, b.Rule) })
		for _, a := range d.pending {
			out.Reasons = append(out.Reasons, a.reason())
		}
	default:
		out.Outcome, out.Allow = OutcomeAllow, true
	}
	slices.SortFunc(out.Reasons, func(a, b Reason) int {
		if c := slices.Index(ReasonCodes, a.Code) - slices.Index(ReasonCodes, b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return out
}

// reason explains a pending approval: a rule's, or a flow rule's.
func (a RequiredApproval) reason() Reason {
	switch a.Rule {
	case FlowRule:
		return Reason{CodeFlowBlocked, fmt.Sprintf("egress after untrusted content and a sensitive read requires %d approver(s) with role %q%s", a.Approvers, a.Role, a.Context.text())}
	case IntegrityRule:
		return Reason{CodeIntegrityBlocked, fmt.Sprintf("a call with this effect after untrusted content requires %d approver(s) with role %q%s", a.Approvers, a.Role, a.Context.text())}
	}
	return Reason{CodeApprovalRequired, fmt.Sprintf("approval rule %q requires %d approver(s) with role %q", a.Rule, a.Approvers, a.Role)}
}

// Lookup follows keys through nested JSON objects the way the decision reads a request:
// anything that is not an object on the way makes the path absent, as a Rego reference would
// be undefined. Replay reads recorded tool-call arguments with it.
func Lookup(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// OPA converts timestamps to int64 nanoseconds and rejects those outside that range.
var (
	minTimestamp = time.Unix(0, math.MinInt64)
	maxTimestamp = time.Unix(0, math.MaxInt64)
)

// timestampNS parses an RFC 3339 timestamp exactly as OPA's time.parse_rfc3339_ns does.
func timestampNS(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Before(minTimestamp) || t.After(maxTimestamp) {
		return 0, false
	}
	return t.UnixNano(), true
}
