// Package diff compares two versions of a policy the way `terraform plan` shows what an apply
// will change: structural changes matched by what the elements are (never by list index),
// capabilities that each start agent and scenario gains or loses with witness chains,
// exfiltration paths, approval coverage, lint findings, scenario and test outcomes, and runtime
// decisions that flip. Reach is recomputed only for the starts a change can affect.
package diff

import (
	"cmp"

	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
)

// Ops of changes.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
	New     = "new"   // a finding only HEAD has
	Fixed   = "fixed" // a finding only BASE has
)

// Options tune Run.
type Options struct {
	// Lint selects the checks and suppressions of the findings diff.
	Lint lint.Options
	// Baseline, when set, marks the findings it lists as suppressed on both sides.
	Baseline *lint.Baseline
	// MaxDecisions caps the requests decided on each side; 0 means DefaultMaxDecisions.
	MaxDecisions int
	// Scope, when set, says which elements may differ (the loader read everything else from
	// the same text): the structural comparison looks at those only.
	Scope *Scope
	// FullReach recomputes reach for every start instead of the starts a change can affect
	// (for tests and benchmarks: the answer is the same).
	FullReach bool
}

// Scope names the elements of one container that may differ between the versions.
type Scope struct {
	Container string        // agents, tools, handoffs, approvals, scenarios or tests; "" for none
	Names     []string      // the elements of a map container
	Edges     []policy.Edge // the hand-offs
}

// DefaultMaxDecisions is the default cap on the derived request set.
const DefaultMaxDecisions = 5000

// Result is what changed from base to head. Its JSON form is `agentctl diff -o json`.
type Result struct {
	SchemaVersion int              `json:"schema_version"`
	Base          string           `json:"base"`
	Head          string           `json:"head"`
	Changes       []Change         `json:"changes"`
	Reach         []ReachChange    `json:"reach"`
	Exfiltration  []ExfilChange    `json:"exfiltration"`
	Approvals     []ApprovalChange `json:"approvals"`
	Flow          []FlowChange     `json:"flow"`
	Findings      []FindingChange  `json:"findings"`
	Scenarios     []OutcomeChange  `json:"scenarios"`
	Decisions     []DecisionChange `json:"decisions"`
	Summary       Summary          `json:"summary"`
}

// Change is a structural change of one element or field. Before is absent for an added
// element, After for a removed one. File and Line are on the side where it exists (HEAD for
// added and changed, BASE for removed).
type Change struct {
	Kind   string `json:"kind"` // agent, grant, credential, session, tool, action, handoff, approval, setting, scenario, test
	Op     string `json:"op"`
	Path   string `json:"path"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
}

// ReachChange is a capability that a start agent (or a scenario) reaches in one version only,
// with a shortest witness chain on the side where it is reachable.
//
// A scenario whose change is the same as its start agent's (same capability, escalation and
// witness) is not listed again: the start's entry names it in Scenarios.
type ReachChange struct {
	Start      string   `json:"start"`
	Scenario   string   `json:"scenario,omitempty"`  // set when the start is a scenario's
	Scenarios  []string `json:"scenarios,omitempty"` // scenarios with the same change as this start
	Capability string   `json:"capability"`
	Op         string   `json:"op"`         // added: reachable in HEAD only; removed: in BASE only
	Escalation bool     `json:"escalation"` // outside the start's own authority on that side
	Chain      []string `json:"chain"`
	Modes      []string `json:"modes"`
	// Approvals are the rules that still gate the capability at the chain's last agent on
	// that side, each as "name" or "name (when ATTRIBUTE > N)" for a threshold rule.
	Approvals []string `json:"approvals,omitempty"`
	File      string   `json:"file,omitempty"`
	Line      int      `json:"line,omitempty"`
}

// ExfilChange is an exfiltration path (from a start, ending at an egress agent) that exists in
// one version only, with its witness there.
//
// As for reach, a scenario with the same path as its start agent is named in the start's
// Scenarios instead of being listed again.
type ExfilChange struct {
	Start         string   `json:"start"`
	Scenario      string   `json:"scenario,omitempty"`
	Scenarios     []string `json:"scenarios,omitempty"`
	Op            string   `json:"op"`
	Chain         []string `json:"chain"`
	Modes         []string `json:"modes"`
	SensitiveRead string   `json:"sensitive_read"`
	Egress        string   `json:"egress"`
	Capability    string   `json:"capability"`
	Runtime       string   `json:"runtime"` // what the runtime flow rule does to the egress (docs/runtime.md)
	File          string   `json:"file,omitempty"`
	Line          int      `json:"line,omitempty"`
}

// Approval change ops besides added/removed.
const (
	Gained   = "gained"   // a high-risk capability an agent holds gains a matching rule
	Lost     = "lost"     // ... loses every matching rule
	Weaker   = "weaker"   // a rule asks for less: higher threshold, fewer approvers, removed
	Stronger = "stronger" // a rule asks for more
)

// ApprovalChange is a change of approval coverage (Agent and Capability set) or of a rule's
// strength (Rule set).
type ApprovalChange struct {
	Op         string   `json:"op"`
	Agent      string   `json:"agent,omitempty"`
	Capability string   `json:"capability,omitempty"`
	Rule       string   `json:"rule,omitempty"`
	Before     []string `json:"before"` // matching rules, or the rule's terms
	After      []string `json:"after"`
	Detail     string   `json:"detail"`
	File       string   `json:"file,omitempty"`
	Line       int      `json:"line,omitempty"` // HEAD's
}

// FindingChange is a lint finding of one version only, matched by fingerprint.
type FindingChange struct {
	Op          string `json:"op"` // new or fixed
	Check       string `json:"check"`
	Slug        string `json:"slug"`
	Severity    string `json:"severity"`
	Message     string `json:"message"`
	Element     string `json:"element"`
	Fingerprint string `json:"fingerprint"`
	Suppressed  bool   `json:"suppressed"`
	File        string `json:"file,omitempty"`
	Line        int    `json:"line,omitempty"`
	Column      int    `json:"column,omitempty"`

	severity lint.Severity
}

// Outcomes of scenarios and tests.
const (
	Pass   = "pass"
	Fail   = "fail"
	Absent = "absent"
)

// OutcomeChange is a scenario expectation or a request-level test whose outcome differs.
type OutcomeChange struct {
	Kind     string   `json:"kind"` // scenario or test
	Name     string   `json:"name"`
	Before   string   `json:"before"` // pass, fail or absent
	After    string   `json:"after"`
	Decision []string `json:"decision,omitempty"` // tests: outcome/code before and after
	Failures []string `json:"failures,omitempty"` // HEAD's failures
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
}

// DecisionChange is a derived request whose runtime decision differs.
type DecisionChange struct {
	Request map[string]any `json:"request"`
	Before  Verdict        `json:"before"`
	After   Verdict        `json:"after"`
	File    string         `json:"file,omitempty"` // the executing agent in HEAD
	Line    int            `json:"line,omitempty"`
}

// Verdict is a decision's outcome and its primary reason.
type Verdict struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Summary counts the result and says how much was computed.
type Summary struct {
	Changes           int  `json:"changes"`
	ReachAdded        int  `json:"reach_added"`
	ReachRemoved      int  `json:"reach_removed"`
	EscalationsAdded  int  `json:"escalations_added"`
	EscalationsGone   int  `json:"escalations_removed"`
	ExfilAdded        int  `json:"exfiltration_added"`
	ExfilRemoved      int  `json:"exfiltration_removed"`
	ApprovalsWeaker   int  `json:"approvals_weaker"`
	ApprovalsStronger int  `json:"approvals_stronger"`
	FlowWeaker        int  `json:"flow_weaker"`
	FlowStronger      int  `json:"flow_stronger"`
	FindingsNew       int  `json:"findings_new"`
	FindingsFixed     int  `json:"findings_fixed"`
	Regressions       int  `json:"scenario_regressions"`
	Flipped           int  `json:"decisions_flipped"`
	Starts            int  `json:"starts"`            // start agents present in both versions
	StartsRecomputed  int  `json:"starts_recomputed"` // of which reach was recomputed
	Requests          int  `json:"requests"`          // derived requests decided on each side
	RequestsCapped    bool `json:"requests_capped"`   // the request set hit the cap
}

// Run compares base with head. Both must be loaded and indexed.
func Run(base, head *policy.Policy, opts Options) (*Result, error) {
	r := &Result{SchemaVersion: 1, Base: base.Dir, Head: head.Dir}
	d := newDelta(base, head, opts.Scope)
	r.Changes = d.changes
	if err := r.reach(d, opts.FullReach); err != nil {
		return nil, err
	}
	r.approvals(d)
	r.flow(d)
	r.findings(base, head, opts)
	r.tests(base, head)
	r.decisions(d, cmp.Or(opts.MaxDecisions, DefaultMaxDecisions))
	r.normalize()
	r.summarize()
	return r, nil
}

func (r *Result) summarize() {
	s := &r.Summary
	s.Changes = len(r.Changes)
	for _, x := range r.Reach {
		if x.Op == Added {
			s.ReachAdded++
			if x.Escalation {
				s.EscalationsAdded++
			}
		} else {
			s.ReachRemoved++
			if x.Escalation {
				s.EscalationsGone++
			}
		}
	}
	for _, x := range r.Exfiltration {
		if x.Op == Added {
			s.ExfilAdded++
		} else {
			s.ExfilRemoved++
		}
	}
	for _, x := range r.Approvals {
		switch x.Op {
		case Weaker, Lost:
			s.ApprovalsWeaker++
		case Stronger, Gained:
			s.ApprovalsStronger++
		}
	}
	for _, x := range r.Flow {
		switch x.Op {
		case Weaker:
			s.FlowWeaker++
		case Stronger:
			s.FlowStronger++
		}
	}
	for _, x := range r.Findings {
		if x.Op == New {
			s.FindingsNew++
		} else {
			s.FindingsFixed++
		}
	}
	for _, x := range r.Scenarios {
		if x.Regression() {
			s.Regressions++
		}
	}
	s.Flipped = len(r.Decisions)
}

// Regression reports whether the scenario or test fails in HEAD and did not fail in BASE.
func (o OutcomeChange) Regression() bool { return o.After == Fail && o.Before != Fail }

// normalize turns nil lists into empty ones so that JSON shows [] rather than null.
func (r *Result) normalize() {
	r.Changes = nonNil(r.Changes)
	r.Reach = nonNil(r.Reach)
	r.Exfiltration = nonNil(r.Exfiltration)
	r.Approvals = nonNil(r.Approvals)
	r.Flow = nonNil(r.Flow)
	r.Findings = nonNil(r.Findings)
	r.Scenarios = nonNil(r.Scenarios)
	r.Decisions = nonNil(r.Decisions)
	for i := range r.Approvals {
		r.Approvals[i].Before = nonNil(r.Approvals[i].Before)
		r.Approvals[i].After = nonNil(r.Approvals[i].After)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MapFiles rewrites the file names of the items that sit on the BASE side (removed
// elements, reach and paths only BASE has, fixed findings) with f: `diff --base REF` loads
// BASE from a temporary copy and shows its files under their names in the repository.
func (r *Result) MapFiles(f func(string) string) {
	for i := range r.Changes {
		if r.Changes[i].Op == Removed {
			r.Changes[i].File = f(r.Changes[i].File)
		}
	}
	for i := range r.Reach {
		if r.Reach[i].Op == Removed {
			r.Reach[i].File = f(r.Reach[i].File)
		}
	}
	for i := range r.Exfiltration {
		if r.Exfiltration[i].Op == Removed {
			r.Exfiltration[i].File = f(r.Exfiltration[i].File)
		}
	}
	for i := range r.Findings {
		if r.Findings[i].Op == Fixed {
			r.Findings[i].File = f(r.Findings[i].File)
		}
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].After == Absent {
			r.Scenarios[i].File = f(r.Scenarios[i].File)
		}
	}
}

func posOf(p policy.Pos) (string, int) { return p.File, p.Line }
