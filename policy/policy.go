// Package policy is agentctl's domain model: the types of the policy language and their
// semantics (capabilities, effective authority along a hand-off chain). It is pure Go with no
// I/O; the schema package builds a Policy from CUE files.
package policy

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Pos is a source position. Line and Col are 1-based; a zero Pos means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.File == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d:%d", Escape(p.File), p.Line, p.Col)
}

// IsValid reports whether the position names a file.
func (p Pos) IsValid() bool { return p.File != "" }

// Less orders positions by file, line and column.
func (p Pos) Less(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Effects and data classes of tool actions.
const (
	EffectRead                = "read"
	EffectWrite               = "write"
	EffectDelete              = "delete"
	EffectExport              = "export"
	EffectPrivilegeEscalation = "privilege_escalation"
	EffectPayment             = "payment"
	EffectDeploy              = "deploy"
	EffectExecute             = "execute"

	DataPublic       = "public"
	DataInternal     = "internal"
	DataConfidential = "confidential"
	DataRegulated    = "regulated"
)

// HighRisk reports whether an effect needs a human approval rule: what lint's AC020 asks
// for and what diff compares approval coverage on.
func HighRisk(effect string) bool {
	switch effect {
	case EffectPayment, EffectDeploy, EffectPrivilegeEscalation, EffectExport, EffectDelete:
		return true
	}
	return false
}

// Hand-off modes.
const (
	ModeAttenuate          = "attenuate"
	ModeDelegate           = "delegate"
	ModeForwardCredentials = "forward_credentials"
)

// Wildcard is the grant wildcard for tools, actions and resources.
const Wildcard = "*"

// Policy is one loaded policy directory.
type Policy struct {
	Dir       string
	Files     []string // the .cue files, as given to the loader, sorted
	Settings  Settings
	Agents    []*Agent    // sorted by name
	Tools     []*Tool     // sorted by name
	Handoffs  []*Handoff  // in source order
	Approvals []*Approval // sorted by name
	Scenarios []*Scenario // sorted by name
	Tests     []*Test     // sorted by name
	Lists     []*List     // sorted by name

	// Ignores lists every @ignore attribute of the source, with the element path it sits on.
	Ignores []Ignore
	// Positions maps element paths ("agents.billing.grants[2]", "settings.audit.chains") to
	// where they are written. Paths absent from the source (defaults) are absent here, and so
	// are paths inside list elements ("handoffs[0].from"): use the element's position.
	Positions map[string]Pos

	agents     map[string]*Agent
	tools      map[string]*Tool
	lists      map[string]*List
	handoffs   map[Edge][]string
	caps       *CapIndex
	principals map[string]bool // canonical agent names and SPIFFE IDs
}

// Settings are the estate-wide settings.
type Settings struct {
	RiskTier         string // "high" | "low"
	MaxCredentialTTL time.Duration
	MaxChainDepth    int
	Audit            Audit
	Flow             FlowSettings
}

// Audit switches.
type Audit struct {
	ToolCalls bool
	Approvals bool
	Chains    bool
}

// Ignore is one @ignore("CHECK", "reason") attribute.
type Ignore struct {
	Path   string // the element it is attached to, e.g. "agents.billing"
	Check  string // check ID or slug as written
	Reason string // empty when the author gave none
	Pos    Pos
}

// Agent is one AI agent of the estate.
type Agent struct {
	Name           string
	Description    string
	Owner          string
	SpiffeID       string // empty when there is no identity block
	UntrustedInput bool
	Autonomy       string // "supervised" | "autonomous"
	Grants         []*Grant
	Credential     *Credential // nil when absent
	Session        *Session    // nil when absent
	FlowExempt     string      // flow_exempt: why the flow rule does not stop its egress; "" when absent
	Pos            Pos
}

// Path is the agent's element path.
func (a *Agent) Path() string { return "agents." + a.Name }

// Grant gives an agent actions on a tool.
type Grant struct {
	Tool      string   // tool name or "*"
	Actions   []string // action names or "*"
	Resources []string // glob patterns; nil means every resource
	JIT       bool
	// When are the conditions under which the grant covers a call: all must hold (nil:
	// always). Statically (simulate, lint) a conditional grant counts as held.
	When []*Condition
	Path string // e.g. "agents.billing.grants[2]" or "scenarios.s.authority[0]"
	Pos  Pos
}

// AllResources reports whether the grant covers every resource.
func (g *Grant) AllResources() bool { return g.Resources == nil }

// Covers reports whether the grant names action of tool, directly or by "*".
func (g *Grant) Covers(tool, action string) bool {
	return (g.Tool == Wildcard || g.Tool == tool) &&
		(slices.Contains(g.Actions, Wildcard) || slices.Contains(g.Actions, action))
}

// Credential is how an agent authenticates.
type Credential struct {
	Kind            string // "ephemeral" | "static" | "shared"
	Scope           string // "task" | "session" | "agent"
	TTL             time.Duration
	HasTTL          bool
	RevokeOnTaskEnd bool
	Pos             Pos
}

// Session limits an agent's run.
type Session struct {
	MaxActions     int // 0: absent
	MaxDuration    time.Duration
	HasMaxDuration bool
	Pos            Pos
}

// Tool is something agents call.
type Tool struct {
	Name        string
	Description string
	Source      string // "internal" | "mcp" | "third_party"
	External    bool
	Auth        Auth
	Actions     []*Action // sorted by name
	Pos         Pos

	actions map[string]*Action
}

// Path is the tool's element path.
func (t *Tool) Path() string { return "tools." + t.Name }

// Action returns the named action, or nil.
func (t *Tool) Action(name string) *Action { return t.actions[name] }

// Auth is how a tool authenticates its callers.
type Auth struct {
	Kind   string // "workload_identity" | "ephemeral_token" | "shared_token" | "static_key"
	TTL    time.Duration
	HasTTL bool
}

// Action is one action of a tool.
type Action struct {
	Tool       string
	Name       string
	Effect     string
	Data       string
	FlowExempt string // flow_exempt: why the flow rule does not stop it; "" when absent
	// Untrusted and Egress override the action's flow classes (nil: the defaults, see
	// Policy.ExternalRead and Policy.Egress).
	Untrusted *FlowClass
	Egress    *FlowClass
	Arguments *Arguments // nil when the policy declares no argument mapping
	Pin       *Pin       // nil when the action has no pin
	Pos       Pos
}

// Arguments says where a recorded call's arguments hold the request's resource and
// attributes (agentctl replay). Paths are argument names, dot-separated for nested objects.
type Arguments struct {
	Resource   string            // empty: the resource is not taken from the arguments
	Attributes map[string]string // request attribute -> argument path
}

// Pin records what an MCP server told agents about the tool behind an action when it was
// imported (agentctl import mcp): the tool's name, hashes of its description and input
// schema, and its annotations with the MCP defaults applied. `import mcp --check` compares a
// server's current tools/list with it.
type Pin struct {
	// Version is the pin's version: 1 (written before version 2: tool, description,
	// input_schema, hints) or 2 (adds title, output_schema and meta).
	Version     int
	Tool        string // the tool's name on the server
	Description string // "sha256:" + hex of the description
	InputSchema string // "sha256:" + hex of the input schema's canonical JSON
	// Version 2; empty when the pin does not hold them.
	Title        string // "sha256:" + hex of the title
	OutputSchema string // "sha256:" + hex of the output schema's canonical JSON ("null" when absent)
	Meta         string // "sha256:" + hex of the _meta object's canonical JSON ("null" when absent)
	Hints        Hints
	Pos          Pos
}

// PinVersion is the version of the pins agentctl import mcp writes.
const PinVersion = 2

// Hints are the MCP tool annotations, with the specification's defaults applied.
type Hints struct {
	ReadOnly    bool
	Destructive bool
	Idempotent  bool
	OpenWorld   bool
}

// Capability returns "tool.action".
func (a *Action) Capability() string { return Capability(a.Tool, a.Name) }

// Handoff lets one agent pass a task to another.
type Handoff struct {
	From  string
	To    string
	Mode  string
	Index int // position in the handoffs list
	Pos   Pos
}

// Path is the hand-off's element path.
func (h *Handoff) Path() string { return "handoffs[" + strconv.Itoa(h.Index) + "]" }

// Approval is a human-approval rule.
type Approval struct {
	Name        string
	Description string
	Match       Match
	Threshold   *Threshold // nil when absent
	Require     Require
	Timeout     time.Duration
	HasTimeout  bool
	Pos         Pos
}

// Path is the approval's element path.
func (a *Approval) Path() string { return "approvals." + a.Name }

// Match selects requests; a nil list matches anything.
type Match struct {
	Effects []string
	Tools   []string
	Actions []string // "tool.action"
	Data    []string
	Agents  []string
	// When are conditions on the request: the rule applies to a call only when they all
	// hold or cannot be tested (an absent attribute requires the approval). Nil: always.
	When []*Condition
}

// Threshold makes a rule apply only when a request attribute exceeds a value.
type Threshold struct {
	Attribute string
	Above     float64
}

// Require says who must approve.
type Require struct {
	Approvers int
	Role      string
}

// Scenario is a simulated task entering the estate.
type Scenario struct {
	Name           string
	Description    string
	Start          string
	UntrustedInput *bool    // nil: the start agent's flag
	Authority      []*Grant // nil: C(start)
	WhatIf         *WhatIf
	Expect         *Expect
	Pos            Pos
}

// Path is the scenario's element path.
func (s *Scenario) Path() string { return "scenarios." + s.Name }

// WhatIf changes the policy before a scenario runs.
type WhatIf struct {
	Compromised    []string
	RemoveHandoffs []Edge
	HandoffMode    string // empty: keep each hand-off's mode
	Revoke         []string
}

// Edge names a hand-off by its ends.
type Edge struct {
	From string
	To   string
}

// Expect holds a scenario's expectations; nil fields are not checked.
type Expect struct {
	Escalations   *int
	Reachable     []string
	Unreachable   []string
	NeedsApproval []string
	Exfiltration  *bool
}

// Test is a request-level decision test.
type Test struct {
	Name   string
	Input  map[string]any // the runtime request, as decoded from JSON
	Lists  map[string]any // data.agentctl_lists for the test; nil when it sets none
	Expect TestExpect
	Pos    Pos
}

// Path is the test's element path.
func (t *Test) Path() string { return "tests." + t.Name }

// TestExpect is the expected decision.
type TestExpect struct {
	Outcome string // "allow" | "deny" | "needs_approval"
	Code    string // optional reason code
}

// Index builds the lookup tables and the capability index. The loader calls it; code that
// builds a Policy by hand must call it before using lookups or capabilities.
func (p *Policy) Index() {
	sort.Slice(p.Agents, func(i, j int) bool { return p.Agents[i].Name < p.Agents[j].Name })
	sort.Slice(p.Tools, func(i, j int) bool { return p.Tools[i].Name < p.Tools[j].Name })
	sort.Slice(p.Approvals, func(i, j int) bool { return p.Approvals[i].Name < p.Approvals[j].Name })
	sort.Slice(p.Scenarios, func(i, j int) bool { return p.Scenarios[i].Name < p.Scenarios[j].Name })
	sort.Slice(p.Tests, func(i, j int) bool { return p.Tests[i].Name < p.Tests[j].Name })
	sort.Slice(p.Lists, func(i, j int) bool { return p.Lists[i].Name < p.Lists[j].Name })
	p.lists = make(map[string]*List, len(p.Lists))
	for _, l := range p.Lists {
		p.lists[l.Name] = l
	}
	p.agents = make(map[string]*Agent, len(p.Agents))
	p.principals = make(map[string]bool, 2*len(p.Agents))
	for _, a := range p.Agents {
		p.agents[a.Name] = a
		for _, n := range []string{a.Name, a.SpiffeID} {
			if c, ok := CanonicalName(n); ok {
				p.principals[c] = true
			}
		}
	}
	p.tools = make(map[string]*Tool, len(p.Tools))
	for _, t := range p.Tools {
		sort.Slice(t.Actions, func(i, j int) bool { return t.Actions[i].Name < t.Actions[j].Name })
		t.actions = make(map[string]*Action, len(t.Actions))
		for _, a := range t.Actions {
			t.actions[a.Name] = a
		}
		p.tools[t.Name] = t
	}
	p.handoffs = make(map[Edge][]string, len(p.Handoffs))
	for _, h := range p.Handoffs {
		e := Edge{h.From, h.To}
		p.handoffs[e] = append(p.handoffs[e], h.Mode)
	}
	p.caps = newCapIndex(p.Tools)
}

// List returns the named list, or nil.
func (p *Policy) List(name string) *List { return p.lists[name] }

// Agent returns the named agent, or nil.
func (p *Policy) Agent(name string) *Agent { return p.agents[name] }

// Tool returns the named tool, or nil.
func (p *Policy) Tool(name string) *Tool { return p.tools[name] }

// Caps returns the capability index.
func (p *Policy) Caps() *CapIndex { return p.caps }

// Pos returns the source position of an element path, or the zero Pos.
func (p *Policy) Pos(path string) Pos { return p.Positions[path] }

// FormatDuration prints a duration the way policies write it: "1h", "1h30m", "90s" rather
// than "1h0m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
