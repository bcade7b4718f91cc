package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// Explained is an explanation plus whether the compiled Rego returned the same decision.
type Explained struct {
	Explanation policy.Explanation
	Capability  string
	Rego        policy.Decision
	Agree       bool
	// Assumed lists the request values explain filled in itself (flag mode).
	Assumed []Assumption
}

// Assumption is one request value explain assumed, and why.
type Assumption struct {
	Field string `json:"field"`
	Value any    `json:"value"`
	Why   string `json:"why"`
}

// ExplainText writes an explanation for people: decision, reasons, the chain hop by hop,
// the grant that allowed and the approval rules still unmet.
func ExplainText(w io.Writer, e Explained, unicode bool) error {
	x := e.Explanation
	var b strings.Builder
	fmt.Fprintf(&b, "decision: %s\n", x.Decision.Outcome)
	for _, r := range x.Decision.Reasons {
		fmt.Fprintf(&b, "  %s: %s\n", r.Code, r.Message)
	}
	if len(e.Assumed) > 0 {
		b.WriteString("assumed (not given by flags):\n")
		for _, a := range e.Assumed {
			fmt.Fprintf(&b, "  %s = %v (%s)\n", a.Field, a.Value, a.Why)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	b.Reset()
	if len(x.Hops) > 0 {
		var rows [][]string
		var notCarried []string // agents whose own grant the chain does not carry
		for i, h := range x.Hops {
			via := "originator"
			if i > 0 {
				via = strings.Join(h.Modes, " | ")
			}
			grant := "-"
			if h.Grant != nil {
				grant = grantRef(h.Grant)
			}
			holds := yesNo(h.Holds)
			if h.Grant != nil && !h.Holds {
				holds = "no (own grant not carried)"
				notCarried = append(notCarried, h.Agent)
			}
			rows = append(rows, []string{fmt.Sprint(i), h.Agent, via, grant, holds, yesNo(h.HoldsResource), strings.Join(h.Authority, " ")})
		}
		if err := Table(w, []string{"hop", "agent", "via", "own grant", "chain holds " + e.Capability, "resource", "effective authority"}, rows, unicode); err != nil {
			return err
		}
		// "chain holds" is the effective authority after the hop, which an agent's own grant
		// need not reach: say why when they differ.
		for _, a := range notCarried {
			fmt.Fprintf(&b, "note: %s's own grant covers %s, but the chain's authority after its hop does not: an attenuate hand-off keeps only what the sender already held\n", a, e.Capability)
		}
	}
	if x.AllowedBy != nil {
		fmt.Fprintf(&b, "allowed by: %s\n", grantRef(x.AllowedBy))
	}
	for _, c := range x.DeniedBy {
		fmt.Fprintf(&b, "denied by: %s %s", c.Code, c.Path)
		if c.Pos.IsValid() {
			fmt.Fprintf(&b, " (%s)", c.Pos)
		}
		b.WriteByte('\n')
		writeLabels(&b, c.Labels)
	}
	for _, a := range x.Approvals {
		fmt.Fprintf(&b, "approval required: %s (%s): %d approver(s) with role %q\n", a.Path(), a.Pos, a.Require.Approvers, a.Require.Role)
	}
	for _, f := range []*policy.FlowApproval{x.FlowApproval, x.IntegrityApproval} {
		if f == nil {
			continue
		}
		fmt.Fprintf(&b, "approval required: %s, the flow rule %s", f.Path, f.Rule)
		if f.Pos.IsValid() {
			fmt.Fprintf(&b, " (%s)", f.Pos)
		}
		fmt.Fprintf(&b, ": %d approver(s) with role %q\n", f.Approvers, f.Role)
		writeLabels(&b, f.Labels)
	}
	if len(x.Conditions) > 0 {
		b.WriteString("conditions:\n")
		for _, c := range x.Conditions {
			fmt.Fprintf(&b, "  %s: %s (%s, %s", c.Result, c.Condition, c.Use, c.Condition.Path)
			if c.Condition.Pos.IsValid() {
				fmt.Fprintf(&b, " %s", c.Condition.Pos)
			}
			b.WriteString(")\n")
		}
	}
	if e.Agree {
		b.WriteString("engines: the Go reference and the compiled Rego agree\n")
	} else {
		// Both decisions whole, as JSON: the difference may be in any field.
		goJSON, err := json.Marshal(x.Decision)
		if err != nil {
			return err
		}
		regoJSON, err := json.Marshal(e.Rego)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "engines: DISAGREE\n  go reference:  %s\n  compiled rego: %s\n", goJSON, regoJSON)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLabels lists what set the flow labels, under the line naming the flow rule.
func writeLabels(b *strings.Builder, labels []string) {
	for _, l := range labels {
		fmt.Fprintf(b, "  %s\n", l)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func grantRef(g *policy.Grant) string {
	name := g.Path
	if name == "" {
		name = fmt.Sprintf("grant %s %s", g.Tool, strings.Join(g.Actions, ","))
	}
	if g.Pos.IsValid() {
		return name + " (" + g.Pos.String() + ")"
	}
	return name
}

// ExplainJSON is the JSON shape of `agentctl explain -o json`.
type ExplainJSON struct {
	SchemaVersion int             `json:"schema_version"`
	Decision      policy.Decision `json:"decision"`
	Chain         []string        `json:"chain"`
	Hops          []HopJSON       `json:"hops"`
	AllowedBy     *GrantJSON      `json:"allowed_by"`
	DeniedBy      []CauseJSON     `json:"denied_by"`
	Approvals     []ApprovalJSON  `json:"approval_rules"`
	Assumed       []Assumption    `json:"assumed"`
	EnginesAgree  bool            `json:"engines_agree"`
	// Conditions are the conditions the decision tested, omitted when the policy has none
	// that bear on the request.
	Conditions []ConditionJSON `json:"conditions,omitempty"`
}

// ConditionJSON is one condition the decision tested: where it is written, what it says,
// what it is for ("grant", "approval", "untrusted", "egress", "integrity unless") and its
// result ("holds", "fails", "untested").
type ConditionJSON struct {
	Path      string `json:"path"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	Use       string `json:"use"`
	Condition string `json:"condition"`
	Result    string `json:"result"`
}

// HopJSON is one agent of the chain.
type HopJSON struct {
	Agent         string     `json:"agent"`
	Modes         []string   `json:"modes"`
	Authority     []string   `json:"authority"`
	Holds         bool       `json:"holds"`
	HoldsResource bool       `json:"holds_resource"`
	Grant         *GrantJSON `json:"grant"`
}

// GrantJSON locates a grant.
type GrantJSON struct {
	Path   string `json:"path"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// CauseJSON is what made one deny reason; file, line and column are empty when it is not
// written in the policy. Labels (FLOW_BLOCKED only) say what set the session's flow labels.
type CauseJSON struct {
	Code   string   `json:"code"`
	Path   string   `json:"path"`
	File   string   `json:"file,omitempty"`
	Line   int      `json:"line,omitempty"`
	Column int      `json:"column,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// ApprovalJSON is an unmet approval rule. The flow rule (rule "flow:egress") has path
// "settings.flow", a position only when the policy writes settings.flow, and the labels
// that triggered it.
type ApprovalJSON struct {
	Rule      string   `json:"rule"`
	Path      string   `json:"path"`
	Role      string   `json:"role"`
	Approvers int      `json:"approvers"`
	File      string   `json:"file,omitempty"`
	Line      int      `json:"line,omitempty"`
	Column    int      `json:"column,omitempty"`
	Labels    []string `json:"labels,omitempty"`
}

func grantJSON(g *policy.Grant) *GrantJSON {
	if g == nil {
		return nil
	}
	return &GrantJSON{g.Path, g.Pos.File, g.Pos.Line, g.Pos.Col}
}

// ExplainJSONWrite writes e as an ExplainJSON document.
func ExplainJSONWrite(w io.Writer, e Explained) error {
	x := e.Explanation
	doc := ExplainJSON{SchemaVersion: SchemaVersion, Decision: x.Decision, Chain: x.Chain, Hops: []HopJSON{},
		AllowedBy: grantJSON(x.AllowedBy), DeniedBy: []CauseJSON{}, Approvals: []ApprovalJSON{}, Assumed: e.Assumed,
		EnginesAgree: e.Agree}
	if doc.Assumed == nil {
		doc.Assumed = []Assumption{}
	}
	for _, c := range x.DeniedBy {
		doc.DeniedBy = append(doc.DeniedBy, CauseJSON{c.Code, c.Path, c.Pos.File, c.Pos.Line, c.Pos.Col, c.Labels})
	}
	if doc.Chain == nil {
		doc.Chain = []string{}
	}
	for _, h := range x.Hops {
		modes := h.Modes
		if modes == nil {
			modes = []string{}
		}
		doc.Hops = append(doc.Hops, HopJSON{h.Agent, modes, h.Authority, h.Holds, h.HoldsResource, grantJSON(h.Grant)})
	}
	for _, a := range x.Approvals {
		doc.Approvals = append(doc.Approvals, ApprovalJSON{a.Name, a.Path(), a.Require.Role, a.Require.Approvers, a.Pos.File, a.Pos.Line, a.Pos.Col, nil})
	}
	for _, f := range []*policy.FlowApproval{x.FlowApproval, x.IntegrityApproval} {
		if f != nil {
			doc.Approvals = append(doc.Approvals, ApprovalJSON{f.Rule, f.Path, f.Role, f.Approvers, f.Pos.File, f.Pos.Line, f.Pos.Col, f.Labels})
		}
	}
	for _, c := range x.Conditions {
		pos := c.Condition.Pos
		doc.Conditions = append(doc.Conditions, ConditionJSON{c.Condition.Path, pos.File, pos.Line, pos.Col, c.Use, c.Condition.String(), c.Result})
	}
	return JSON(w, doc)
}
