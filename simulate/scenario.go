package simulate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// Result is the outcome of one scenario. Its JSON form is the contract's `simulate -o json`
// scenario entry; lists are sorted.
type Result struct {
	Policy        string         `json:"policy,omitempty"` // the policy directory, when known
	Name          string         `json:"name"`
	Start         string         `json:"start"`
	Checked       bool           `json:"checked"` // the scenario has an expect block
	Passed        bool           `json:"passed"`
	Failures      []string       `json:"failures"`
	Reachable     []string       `json:"reachable"`
	Escalations   []Escalation   `json:"escalations"`
	Exfiltration  []Exfiltration `json:"exfiltration"`
	NeedsApproval []string       `json:"needs_approval"`
	Approvals     []ApprovalNeed `json:"approvals"`
	// Pos is where the scenario is written, for CI annotations of a failed one.
	Pos policy.Pos `json:"-"`

	witness func(c string) (Escalation, bool) // a shortest chain for a reachable capability
}

// Escalation is a capability outside the originator's authority that a chain reaches, with
// a shortest witness chain: Chain[i] -Modes[i]-> Chain[i+1].
type Escalation struct {
	Capability string   `json:"capability"`
	Chain      []string `json:"chain"`
	Modes      []string `json:"modes"`
	// Conditions are the conditions of the grants the capability comes from (one entry per
	// grant); absent when a grant covers it unconditionally.
	Conditions []string `json:"conditions,omitempty"`
}

// Via renders the witness chain as "triage -delegate-> billing".
func (e Escalation) Via() string { return FormatChain(e.Chain, e.Modes) + WhenText(e.Conditions) }

// Exfiltration is a chain on which an agent with untrusted context, after a sensitive read,
// holds a non-read capability on an external tool.
type Exfiltration struct {
	Chain         []string `json:"chain"`
	Modes         []string `json:"modes"`
	SensitiveRead string   `json:"sensitive_read"` // the first agent holding a sensitive read
	Egress        string   `json:"egress"`         // the agent holding the egress capability
	Capability    string   `json:"capability"`     // that egress capability
	// Runtime is what the runtime flow rule does to that egress once the enforcement point
	// holds both flow labels: "deny" or "needs_approval" (FLOW_BLOCKED, settings.flow), or
	// "exempt" when the agent or the action opts out (flow_exempt).
	Runtime string `json:"runtime"`
	// Conditions are what the runtime still tests before this egress: the egress class's
	// conditions and those of the grants it comes from; absent when none.
	Conditions []string `json:"conditions,omitempty"`
}

// ApprovalNeed is a reached capability that approval rules match for an agent executing it.
type ApprovalNeed struct {
	Capability string   `json:"capability"`
	Rules      []string `json:"rules"`
	Agents     []string `json:"agents"` // the executing agents some rule matches
}

// FormatChain renders a walk as "a -mode-> b -mode-> c".
func FormatChain(chain, modes []string) string {
	var b strings.Builder
	for i, a := range chain {
		if i > 0 {
			fmt.Fprintf(&b, " -%s-> ", modes[i-1])
		}
		b.WriteString(a)
	}
	return b.String()
}

// Witness returns a shortest chain that reaches capability c, if any does.
func (r *Result) Witness(c string) (Escalation, bool) {
	if r.witness == nil {
		return Escalation{}, false
	}
	return r.witness(c)
}

// Run runs one scenario on p: its what-if is applied first, then reachability from its start
// agent, then its expectations are checked.
// To run several scenarios on one policy, prepare it once with NewEstate.
func Run(p *policy.Policy, sc *policy.Scenario) (*Result, error) {
	e, err := NewEstate(p)
	if err != nil {
		return nil, err
	}
	return e.Run(sc)
}

// Run runs one scenario on the estate.
func (e *Estate) Run(sc *policy.Scenario) (*Result, error) {
	res, _, err := e.run(sc)
	return res, err
}

func (e *Estate) run(sc *policy.Scenario) (*Result, *reach, error) {
	p := e.p
	n, err := e.apply(sc.WhatIf)
	if err != nil {
		return nil, nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	start, ok := n.id[sc.Start]
	if !ok {
		return nil, nil, fmt.Errorf("scenario %s: start agent %q is not defined", sc.Name, sc.Start)
	}
	// Defaults are taken on the changed policy. Revoked capabilities are unreachable, so they
	// are masked from an explicit authority too.
	a0 := n.capsOf(start).Clone()
	if sc.Authority != nil {
		a0 = p.GrantCaps(sc.Authority)
		a0.AndNot(n.revoked)
	}
	// A scenario can add outsider content, never remove what the start agent declares it
	// reads (AC034 treats the agent's flag the same way).
	untrusted := p.Agent(sc.Start).UntrustedInput || (sc.UntrustedInput != nil && *sc.UntrustedInput)
	r := n.run(start, a0, untrusted)
	res := &Result{Name: sc.Name, Start: sc.Start, Pos: sc.Pos}
	ix := n.ix
	res.Reachable = n.capNamesOf(r.all)
	esc := r.all.Clone()
	esc.AndNot(a0)
	res.Escalations = make([]Escalation, 0, esc.Count())
	esc.Each(func(id int) { res.Escalations = append(res.Escalations, r.escalation(id)) })
	// Other witnesses are built on demand (expectation messages, --compare).
	res.witness = func(c string) (Escalation, bool) {
		id, ok := ix.ID(c)
		if !ok || !r.all.Has(id) {
			return Escalation{}, false
		}
		return r.escalation(id), true
	}
	res.Exfiltration = r.exfilPaths(nil)
	res.Approvals = approvals(p, r)
	for _, a := range res.Approvals {
		res.NeedsApproval = append(res.NeedsApproval, a.Capability)
	}
	if sc.Expect != nil {
		res.Checked = true
		res.Failures = check(sc.Expect, res, ix)
	}
	res.Passed = len(res.Failures) == 0
	normalize(res)
	return res, r, nil
}

// approvals lists the reached capabilities that some approval rule matches for an agent
// that holds them on some walk.
func approvals(p *policy.Policy, r *reach) []ApprovalNeed {
	if len(p.Approvals) == 0 {
		return nil
	}
	n := r.n
	// First the reached capabilities some rule selects for some agent, then the agents.
	cand := n.ix.New()
	r.all.Each(func(id int) {
		if len(n.rulesFor(id)) > 0 {
			cand.Set(id)
		}
	})
	if cand.Empty() {
		return nil
	}
	// One entry per candidate, in capability order (which is name order). Rules without an
	// agents field match whoever executes; only the others are checked per agent.
	type need struct {
		id       int
		rules    []int // indexes into p.Approvals, which is sorted by name
		filtered bool  // some candidate rule names agents
		open     bool  // some candidate rule matches any agent
		agents   []string
	}
	slot := make([]int32, n.ix.Len()) // capability -> 1 + its index in needs
	needs := make([]need, 0, cand.Count())
	cand.Each(func(id int) {
		x := need{id: id}
		for _, ri := range n.rulesFor(id) {
			if p.Approvals[ri].Match.Agents == nil {
				x.rules, x.open = append(x.rules, ri), true
			} else {
				x.filtered = true
			}
		}
		needs = append(needs, x)
		slot[id] = int32(len(needs))
	})
	// Agents are visited in name order, so each agent list comes out sorted.
	held := n.ix.New()
	for a := int32(0); a < int32(len(n.names)); a++ {
		if !r.reached(a) {
			continue
		}
		name := n.names[a]
		copy(held, r.agentReach(a))
		held.And(cand)
		held.Each(func(id int) {
			x := &needs[slot[id]-1]
			matched := x.open
			if x.filtered {
				for _, ri := range n.rulesFor(id) {
					if agents := p.Approvals[ri].Match.Agents; agents != nil && slices.Contains(agents, name) {
						matched = true
						if !slices.Contains(x.rules, ri) {
							x.rules = append(x.rules, ri)
						}
					}
				}
			}
			if matched {
				x.agents = append(x.agents, name)
			}
		})
	}
	// A single rule's name list is shared between capabilities.
	single := map[int][]string{}
	out := make([]ApprovalNeed, 0, len(needs))
	for _, x := range needs {
		if len(x.agents) == 0 {
			continue
		}
		slices.Sort(x.rules)
		rules, ok := single[x.rules[0]]
		if len(x.rules) > 1 || !ok {
			rules = make([]string, len(x.rules))
			for i, ri := range x.rules {
				rules[i] = p.Approvals[ri].Name
			}
			if len(x.rules) == 1 {
				single[x.rules[0]] = rules
			}
		}
		out = append(out, ApprovalNeed{Capability: n.capName(x.id), Rules: rules, Agents: x.agents})
	}
	return out
}

// check compares a result with the scenario's expectations and says exactly what differed.
func check(ex *policy.Expect, res *Result, ix *policy.CapIndex) []string {
	var fails []string
	if ex.Escalations != nil && *ex.Escalations != len(res.Escalations) {
		msg := fmt.Sprintf("expected %s, got %d", plural(*ex.Escalations, "escalation"), len(res.Escalations))
		var items []string
		for _, e := range res.Escalations {
			items = append(items, "+ "+e.Capability+" via "+e.Via())
		}
		if len(items) > 0 {
			msg += ": " + joinCapped(items)
		}
		fails = append(fails, msg)
	}
	reached := set(res.Reachable)
	for _, c := range ex.Reachable {
		if _, ok := ix.ID(c); !ok {
			fails = append(fails, fmt.Sprintf("expected %s reachable, but it is not a declared capability", c))
		} else if !reached[c] {
			fails = append(fails, fmt.Sprintf("expected %s reachable, but no chain reaches it", c))
		}
	}
	for _, c := range ex.Unreachable {
		if reached[c] {
			w, _ := res.Witness(c)
			fails = append(fails, fmt.Sprintf("expected %s unreachable, got it via %s", c, w.Via()))
		}
	}
	if ex.NeedsApproval != nil {
		got := map[string][]string{}
		for _, a := range res.Approvals {
			got[a.Capability] = a.Rules
		}
		want := map[string]bool{}
		var diff []string
		for _, c := range sortedUnique(ex.NeedsApproval) {
			want[c] = true
			switch {
			case got[c] != nil:
			case !reached[c]:
				diff = append(diff, "- "+c+" (not reachable)")
			default:
				diff = append(diff, "- "+c+" (no approval rule matches it)")
			}
		}
		for _, a := range res.Approvals {
			if !want[a.Capability] {
				diff = append(diff, fmt.Sprintf("+ %s (%s %s)", a.Capability, pluralWord(len(a.Rules), "rule"), strings.Join(a.Rules, ", ")))
			}
		}
		if len(diff) > 0 {
			fails = append(fails, fmt.Sprintf("expected needs_approval [%s], got [%s]: %s",
				strings.Join(sortedUnique(ex.NeedsApproval), ", "), strings.Join(res.NeedsApproval, ", "), strings.Join(diff, ", ")))
		}
	}
	if ex.Exfiltration != nil {
		switch got := len(res.Exfiltration) > 0; {
		case *ex.Exfiltration && !got:
			fails = append(fails, "expected exfiltration, got none")
		case !*ex.Exfiltration && got:
			var items []string
			for _, x := range res.Exfiltration {
				items = append(items, fmt.Sprintf("+ %s via %s (sensitive read at %s; runtime: %s)", x.Capability, FormatChain(x.Chain, x.Modes), x.SensitiveRead, x.Runtime))
			}
			fails = append(fails, fmt.Sprintf("expected no exfiltration, got %s: %s",
				plural(len(items), "path"), joinCapped(items)))
		}
	}
	return fails
}

// maxListed bounds the items one failure message lists; the JSON output has them all.
const maxListed = 20

func joinCapped(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(", and %d more (see -o json)", len(items)-maxListed)
}

// normalize turns nil lists into empty ones so JSON shows [] rather than null. Witness
// modes need no care: modeStrings never returns nil.
func normalize(r *Result) {
	r.Failures = nonNil(r.Failures)
	r.Reachable = nonNil(r.Reachable)
	r.Escalations = nonNil(r.Escalations)
	r.Exfiltration = nonNil(r.Exfiltration)
	r.NeedsApproval = nonNil(r.NeedsApproval)
	r.Approvals = nonNil(r.Approvals)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (n *net) agentNames(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = n.names[id]
	}
	return out
}

// modeStrings names the modes of a walk. The result is never nil, so a walk without
// hand-offs shows "modes": [] in JSON.
func modeStrings(ms []uint8) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = modeName(m)
	}
	return out
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func plural(n int, word string) string { return fmt.Sprintf("%d %s", n, pluralWord(n, word)) }

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
