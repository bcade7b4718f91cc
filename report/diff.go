package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

// DiffSummaryLine is the closing line of a diff: "Changes: 5 · Reach: 2 added, 0 removed ·
// escalations +2 −0 · ... · decisions 4 flipped".
func DiffSummaryLine(s diff.Summary) string {
	return fmt.Sprintf("Changes: %d · Reach: %d added, %d removed · escalations +%d −%d · exfiltration +%d −%d · approvals weaker %d, stronger %d · flow weaker %d, stronger %d · findings +%d −%d · scenarios %d regressed · decisions %d flipped",
		s.Changes, s.ReachAdded, s.ReachRemoved, s.EscalationsAdded, s.EscalationsGone, s.ExfilAdded, s.ExfilRemoved,
		s.ApprovalsWeaker, s.ApprovalsStronger, s.FlowWeaker, s.FlowStronger, s.FindingsNew, s.FindingsFixed, s.Regressions, s.Flipped)
}

// diffLine is one line of a diff section: its sign (+, -, ~), its text and where it is;
// risk marks what a reviewer must not miss (a new escalation, exfiltration path, weaker
// approval, active finding or regression, a decision that becomes more permissive).
type diffLine struct {
	sign, text, where string
	risk              bool
}

// diffSection is one titled part of a diff.
type diffSection struct {
	title string
	lines []diffLine
}

func sign(op string) string {
	switch op {
	case diff.Added, diff.New, diff.Gained, diff.Stronger:
		return "+"
	case diff.Removed, diff.Fixed, diff.Lost, diff.Weaker:
		return "-"
	}
	return "~"
}

func where(file string, line int) string {
	if file == "" {
		return ""
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// value renders a structural before/after value.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	case map[string]any:
		var parts []string
		for _, k := range sortedMapKeys(x) {
			parts = append(parts, k+"="+value(x[k]))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func startLabel(start, scenario string) string {
	if scenario != "" {
		return "scenario " + scenario + " (" + start + ")"
	}
	return start
}

// startsLabel is startLabel, naming the scenarios that share the start's change.
func startsLabel(start, scenario string, scenarios []string) string {
	l := startLabel(start, scenario)
	if len(scenarios) > 0 {
		l += " (also scenario " + strings.Join(scenarios, ", ") + ")"
	}
	return l
}

// reachText is one reach change: who reaches what and how, and whether it escalates and
// which approval rules still gate it.
func reachText(x diff.ReachChange) string {
	text := startsLabel(x.Start, x.Scenario, x.Scenarios) + " ⇒ " + x.Capability + " via " + simulate.FormatChain(x.Chain, x.Modes)
	var notes []string
	if x.Escalation {
		notes = append(notes, "escalation")
	}
	if len(x.Approvals) > 0 {
		notes = append(notes, "still gated by approval "+strings.Join(x.Approvals, ", "))
	}
	if len(notes) > 0 {
		text += "  [" + strings.Join(notes, "; ") + "]"
	}
	return text
}

// permissiveness orders outcomes: a flip to a higher one loosens the policy.
var permissiveness = map[string]int{"deny": 0, "needs_approval": 1, "allow": 2}

// diffSections lays a result out in sections; empty sections are left out.
func diffSections(r *diff.Result) []diffSection {
	var out []diffSection
	add := func(title string, lines []diffLine) {
		if len(lines) > 0 {
			out = append(out, diffSection{title, lines})
		}
	}
	var ls []diffLine
	for _, c := range r.Changes {
		text := c.Kind + " " + c.Path
		switch c.Op {
		case diff.Added:
			text += "  " + value(c.After)
		case diff.Removed:
			text += "  " + value(c.Before)
		default:
			text += ": " + value(c.Before) + " -> " + value(c.After)
		}
		ls = append(ls, diffLine{sign: sign(c.Op), text: text, where: where(c.File, c.Line)})
	}
	add("Structure", ls)
	ls = nil
	for _, x := range r.Reach {
		ls = append(ls, diffLine{sign(x.Op), reachText(x), where(x.File, x.Line), x.Op == diff.Added && x.Escalation})
	}
	add("Reach", ls)
	ls = nil
	for _, x := range r.Exfiltration {
		text := fmt.Sprintf("%s ⇒ %s at %s via %s (sensitive read at %s; runtime: %s)", startsLabel(x.Start, x.Scenario, x.Scenarios), x.Capability,
			x.Egress, simulate.FormatChain(x.Chain, x.Modes), x.SensitiveRead, x.Runtime)
		ls = append(ls, diffLine{sign(x.Op), text, where(x.File, x.Line), x.Op == diff.Added})
	}
	add("Exfiltration", ls)
	ls = nil
	for _, x := range r.Approvals {
		ls = append(ls, diffLine{sign(x.Op), approvalText(x), where(x.File, x.Line), x.Op == diff.Weaker || x.Op == diff.Lost})
	}
	add("Approvals", ls)
	ls = nil
	for _, x := range r.Flow {
		ls = append(ls, diffLine{sign(x.Op), flowText(x), where(x.File, x.Line), x.Op == diff.Weaker})
	}
	add("Conditions and flow", ls)
	ls = nil
	for _, f := range r.Findings {
		text := fmt.Sprintf("%s %s %s %s: %s", f.Op, f.Check, f.Severity, f.Element, f.Message)
		if f.Suppressed {
			text += " (suppressed)"
		}
		ls = append(ls, diffLine{sign(f.Op), text, where(f.File, f.Line), f.Op == diff.New && !f.Suppressed})
	}
	add("Findings", ls)
	ls = nil
	for _, o := range r.Scenarios {
		text := fmt.Sprintf("%s %s: %s -> %s", o.Kind, o.Name, o.Before, o.After)
		if len(o.Decision) == 2 {
			text += fmt.Sprintf(" (decision %s -> %s)", o.Decision[0], o.Decision[1])
		}
		for _, f := range o.Failures {
			text += "; " + f
		}
		s := "~"
		if o.Regression() {
			s = "-"
		} else if o.After == diff.Pass {
			s = "+"
		}
		ls = append(ls, diffLine{s, text, where(o.File, o.Line), o.Regression()})
	}
	add("Scenarios and tests", ls)
	ls = nil
	for _, d := range r.Decisions {
		ls = append(ls, diffLine{"~", requestText(d.Request) + ": " + verdictText(d.Before) + " -> " + verdictText(d.After), where(d.File, d.Line),
			permissiveness[d.After.Outcome] > permissiveness[d.Before.Outcome]})
	}
	add("Decisions", ls)
	return out
}

// approvalText is one approval change: of a rule ("approvals.R weaker: ...") or of an
// agent's capability ("lost approval: ...").
func approvalText(x diff.ApprovalChange) string {
	if x.Rule != "" {
		return "approvals." + x.Rule + " " + x.Op + ": " + x.Detail
	}
	return x.Op + " approval: " + x.Detail
}

// flowText is one flow change: "agents.billing.grants[payments].when weaker: holds for more
// calls: ...".
func flowText(x diff.FlowChange) string {
	return x.Path + " " + x.Op + ": " + x.Detail
}

func requestText(in map[string]any) string {
	var chain []string
	if c, ok := in["chain"].([]any); ok {
		for _, a := range c {
			chain = append(chain, fmt.Sprint(a))
		}
	}
	on := ""
	if r, ok := in["resource"].(string); ok {
		on = " on " + r
	}
	return fmt.Sprintf("%s.%s%s by %s (chain %s)", in["tool"], in["action"], on, in["agent"], strings.Join(chain, " -> "))
}

func verdictText(v diff.Verdict) string {
	if v.Code != "" {
		return v.Outcome + " " + v.Code
	}
	return v.Outcome
}

// conditionWords says what each gate condition guards against, for the gate line.
var conditionWords = map[string]string{
	diff.FailNewEscalation:      "new escalation",
	diff.FailNewExfiltration:    "new exfiltration path",
	diff.FailWeakerApproval:     "weaker approval",
	diff.FailWeakerFlow:         "weaker flow/condition",
	diff.FailNewFinding:         "new finding at or above %s",
	diff.FailDecisionFlip:       "decision flip",
	diff.FailScenarioRegression: "scenario/test regression",
}

// DiffGate is the verdict over every result, each judged by its own gate (gates[i] judges
// results[i]), in plain words: "gate: passed — no new escalation, ... or scenario/test
// regression", "gate: FAILED — new-escalation: 2, new-finding: 1", or "gate: off
// (--fail-on none)". When the gates differ (directories with their own configuration), the
// words are given by HEAD directory: "gate: FAILED — a: new-escalation: 2; b: new-finding:
// 1", "gate: passed — a: no new escalation; b: off". failed is true when a condition holds.
func DiffGate(results []*diff.Result, gates []diff.Gate) (line string, failed bool) {
	same := true
	for _, g := range gates {
		same = same && g.Same(gates[0])
	}
	if same {
		hits, words := gateWords(results, gates[0])
		switch {
		case len(hits) > 0:
			return "gate: FAILED — " + strings.Join(hits, ", "), true
		case len(words) == 0:
			return "gate: off (--fail-on none)", false
		}
		return "gate: passed — " + noneOf(words), false
	}
	var failing, passing []string
	for i, r := range results {
		hits, words := gateWords([]*diff.Result{r}, gates[i])
		if len(hits) > 0 {
			failing = append(failing, r.Head+": "+strings.Join(hits, ", "))
		}
		verdict := "off"
		if len(words) > 0 {
			verdict = noneOf(words)
		}
		passing = append(passing, r.Head+": "+verdict)
	}
	if len(failing) > 0 {
		return "gate: FAILED — " + strings.Join(failing, "; "), true
	}
	return "gate: passed — " + strings.Join(passing, "; "), false
}

// gateWords are the conditions of g that hold over results, with the number of items that
// make each hold ("new-escalation: 2"), and the words of every condition of g.
func gateWords(results []*diff.Result, g diff.Gate) (hits, words []string) {
	for _, c := range g.FailOn {
		n := 0
		for _, r := range results {
			n += r.Count(c, g.Threshold)
		}
		if n > 0 {
			hits = append(hits, fmt.Sprintf("%s: %d", c, n))
		}
		w := conditionWords[c]
		if c == diff.FailNewFinding {
			w = fmt.Sprintf(w, g.Threshold)
		}
		words = append(words, w)
	}
	return hits, words
}

// noneOf is "no a, b or c".
func noneOf(words []string) string {
	list := words[0]
	if n := len(words); n > 1 {
		list = strings.Join(words[:n-1], ", ") + " or " + words[n-1]
	}
	return "no " + list
}

// DiffTable writes the plan-style text of each result: one section per kind of change, a
// line per change marked +, - or ~ with its position, and the closing summary line; then
// the gate line, when not empty.
func DiffTable(w io.Writer, results []*diff.Result, gate string) error {
	var b strings.Builder
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "agentctl diff %s -> %s\n", r.Base, r.Head)
		sections := diffSections(r)
		for _, s := range sections {
			fmt.Fprintf(&b, "\n%s:\n", s.title)
			for _, l := range s.lines {
				fmt.Fprintf(&b, "  %s %s", l.sign, l.text)
				if l.where != "" {
					fmt.Fprintf(&b, "  (%s)", l.where)
				}
				b.WriteString("\n")
			}
		}
		if len(sections) == 0 {
			b.WriteString("\nNo changes.\n")
		}
		fmt.Fprintf(&b, "\n%s\n", DiffSummaryLine(r.Summary))
	}
	if gate != "" {
		fmt.Fprintf(&b, "\n%s\n", gate)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DiffMarkdown writes a pull-request comment: the gate line, then per result the summary
// line and one collapsible section per kind of change, each a table of at most maxLines
// rows (and a count of the rest). Colour-free on purpose: a "+" is an addition whatever
// its risk, and rows a reviewer must not miss carry "⚠ risk".
func DiffMarkdown(w io.Writer, results []*diff.Result, maxLines int, gate string) error {
	var b strings.Builder
	if gate != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdCell(gate))
	}
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### agentctl diff `%s` → `%s`\n\n%s\n", mdCode(r.Base), mdCode(r.Head), DiffSummaryLine(r.Summary))
		sections := diffSections(r)
		if len(sections) == 0 {
			b.WriteString("\nNo changes.\n")
		}
		for _, s := range sections {
			risks := 0
			for _, l := range s.lines {
				if l.risk {
					risks++
				}
			}
			title := fmt.Sprintf("%s (%d)", s.title, len(s.lines))
			if risks > 0 {
				title = fmt.Sprintf("%s (%d, ⚠ %d to review)", s.title, len(s.lines), risks)
			}
			fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n| | | change | where |\n|---|---|---|---|\n", title)
			for j, l := range s.lines {
				if j == maxLines {
					fmt.Fprintf(&b, "| | | … and %d more (see `agentctl diff -o json`) | |\n", len(s.lines)-maxLines)
					break
				}
				risk := ""
				if l.risk {
					risk = "⚠ risk"
				}
				at := ""
				if l.where != "" {
					at = "`" + mdCode(l.where) + "`"
				}
				fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", risk, l.sign, mdCell(l.text), at)
			}
			b.WriteString("\n</details>\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell makes text safe in a markdown table cell: the one escaping rule (MarkdownCell),
// and the markup characters that would format the text escaped too.
func mdCell(s string) string {
	return markdownEscaper.Replace(mdMarkup.Replace(policy.Escape(s)))
}

var mdMarkup = strings.NewReplacer("\\", "\\\\", "*", "\\*", "[", "\\[", "]", "\\]")

func mdCode(s string) string { return policy.Escape(strings.ReplaceAll(s, "`", "'")) }

// DiffJSON writes the JSON document of one result, or {"schema_version", "diffs": [...]} for
// several directories.
func DiffJSON(w io.Writer, results []*diff.Result) error {
	if len(results) == 1 {
		return JSON(w, results[0])
	}
	return JSON(w, struct {
		SchemaVersion int            `json:"schema_version"`
		Diffs         []*diff.Result `json:"diffs"`
	}{SchemaVersion, results})
}

// Rules of the diff's CI formats: one per kind of change a reviewer must see.
var diffRules = []Rule{
	{ID: "diff/" + diff.FailNewEscalation, Slug: diff.FailNewEscalation, Title: "A chain reaches a capability outside the start's authority that it did not reach before", Severity: "high",
		Rationale: "The change lets a chain of hand-offs exercise a capability its originator does not hold (privilege multiplication).", Remediation: "Attenuate the hand-off, narrow the receiver's grants, or add the capability to the originator deliberately."},
	{ID: "diff/" + diff.FailNewExfiltration, Slug: diff.FailNewExfiltration, Title: "An exfiltration path appears", Severity: "critical",
		Rationale: "After the change, an agent with untrusted context and a sensitive read holds an egress capability on an external tool.", Remediation: "Break the chain: attenuate the hand-off, drop the egress grant, or keep untrusted input away from sensitive reads."},
	{ID: "diff/" + diff.FailWeakerApproval, Slug: diff.FailWeakerApproval, Title: "An approval rule asks for less, or a high-risk capability loses its approval", Severity: "high",
		Rationale: "Human approval is the last control on payments, deploys and privilege changes.", Remediation: "Keep the approval rule's threshold and approver count, or justify the change in review."},
	{ID: "diff/" + diff.FailWeakerFlow, Slug: diff.FailWeakerFlow, Title: "A condition, list, flow class, flow_exempt or flow setting lets more through", Severity: "high",
		Rationale: "Conditions on arguments, the lists they read, the flow classes and the integrity rule are what stop an injected call at runtime; relaxing one reopens the path it closed.", Remediation: "Keep the condition or the rule, or justify the relaxation in review (a flow_exempt needs its reason)."},
	{ID: "diff/" + diff.FailNewFinding, Slug: diff.FailNewFinding, Title: "A lint finding is new", Severity: "medium",
		Rationale: "The change introduces a problem `agentctl lint` reports.", Remediation: "Fix the finding (see docs/checks.md), or suppress it with a reason."},
	{ID: "diff/" + diff.FailScenarioRegression, Slug: diff.FailScenarioRegression, Title: "A scenario or test now fails", Severity: "high",
		Rationale: "An expectation the policy's authors wrote no longer holds.", Remediation: "Fix the policy, or update the expectation if the change is intended."},
	{ID: "diff/" + diff.FailDecisionFlip, Slug: diff.FailDecisionFlip, Title: "A runtime decision flips", Severity: "medium",
		Rationale: "A tool call the runtime allowed is now denied or needs approval, or the reverse.", Remediation: "Check that the flip is intended."},
	{ID: "diff/change", Slug: "change", Title: "A policy element changed", Severity: "info",
		Rationale: "A structural change of the policy, for review.", Remediation: "None needed."},
}

// DiffFindings turns what a diff adds in HEAD into findings at HEAD's lines, for the GitHub
// and SARIF renderers: escalations, exfiltration paths, weaker approvals, new findings,
// regressions, decision flips and structural changes. What only BASE had has no line in
// HEAD and is left to the table, markdown and JSON. Findings whose condition is in their
// result's gate (gates[i] judges results[i]) are failing (GitHub errors).
func DiffFindings(results []*diff.Result, gates []diff.Gate) Findings {
	out := Findings{Rules: diffRules, FailOn: strings.Join(gates[0].FailOn, ",")}
	for i, r := range results {
		failOn, threshold := gates[i].FailOn, gates[i].Threshold
		add := func(cond, severity, msg, element, file string, line int) {
			id := "diff/" + cond
			out.Findings = append(out.Findings, Finding{
				Check: id, Slug: cond, Severity: severity, Message: msg, File: file, Line: line, Column: min(line, 1), Element: element,
				Fingerprint: lint.Fingerprint(id, element), Failing: slices.Contains(failOn, cond),
			})
		}
		gate := slices.Contains(failOn, diff.FailNewFinding)
		for _, c := range r.Changes {
			if c.Op != diff.Removed {
				add("change", "info", c.Op+" "+c.Kind+" "+c.Path, c.Path, c.File, c.Line)
			}
		}
		for _, x := range r.Reach {
			if x.Op == diff.Added && x.Escalation {
				msg := fmt.Sprintf("%s now reaches %s via %s", startsLabel(x.Start, x.Scenario, x.Scenarios), x.Capability, simulate.FormatChain(x.Chain, x.Modes))
				if len(x.Approvals) > 0 {
					msg += " (still gated by approval " + strings.Join(x.Approvals, ", ") + ")"
				}
				add(diff.FailNewEscalation, "high", msg,
					x.Start+"=>"+x.Capability, x.File, x.Line)
			}
		}
		for _, x := range r.Exfiltration {
			if x.Op == diff.Added {
				add(diff.FailNewExfiltration, "critical", fmt.Sprintf("%s: new exfiltration path to %s at %s via %s (sensitive read at %s; runtime: %s)", startsLabel(x.Start, x.Scenario, x.Scenarios), x.Capability, x.Egress, simulate.FormatChain(x.Chain, x.Modes), x.SensitiveRead, x.Runtime),
					x.Start+"=>"+x.Egress, x.File, x.Line)
			}
		}
		for _, x := range r.Approvals {
			if x.Op == diff.Weaker || x.Op == diff.Lost {
				add(diff.FailWeakerApproval, "high", approvalText(x), x.Rule+x.Agent+"."+x.Capability, x.File, x.Line)
			}
		}
		for _, x := range r.Flow {
			if x.Op == diff.Weaker {
				add(diff.FailWeakerFlow, "high", flowText(x), x.Path, x.File, x.Line)
			}
		}
		for _, f := range r.Findings {
			if f.Op == diff.New && !f.Suppressed {
				add(diff.FailNewFinding, f.Severity, f.Check+" "+f.Slug+": "+f.Message, f.Element, f.File, f.Line)
				out.Findings[len(out.Findings)-1].Failing = gate && f.Failing(threshold)
			}
		}
		for _, o := range r.Scenarios {
			if o.Regression() {
				add(diff.FailScenarioRegression, "high", fmt.Sprintf("%s %s: %s -> %s %s", o.Kind, o.Name, o.Before, o.After, strings.Join(o.Failures, "; ")), o.Kind+"s."+o.Name, o.File, o.Line)
			}
		}
		for _, d := range r.Decisions {
			add(diff.FailDecisionFlip, "medium", requestText(d.Request)+": "+verdictText(d.Before)+" -> "+verdictText(d.After), requestText(d.Request), d.File, d.Line)
		}
	}
	return out
}
