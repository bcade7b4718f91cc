package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/diff"
	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/lint"
)

func sampleDiff() *diff.Result {
	return &diff.Result{SchemaVersion: 1, Base: "base", Head: "head",
		Changes: []diff.Change{{Kind: "handoff", Op: diff.Added, Path: "handoffs[a->b]", After: map[string]any{"mode": "delegate"}, File: "head/p.cue", Line: 9}},
		Reach: []diff.ReachChange{{Start: "a", Capability: "t.pay", Op: diff.Added, Escalation: true,
			Chain: []string{"a", "b"}, Modes: []string{"delegate"}, File: "head/p.cue", Line: 3}},
		Exfiltration: []diff.ExfilChange{{Start: "a", Op: diff.Added, Chain: []string{"a", "b"}, Modes: []string{"delegate"},
			SensitiveRead: "b", Egress: "b", Capability: "mail.send", Runtime: "deny", File: "head/p.cue", Line: 3}},
		Approvals: []diff.ApprovalChange{{Op: diff.Weaker, Rule: "pay", Detail: "approvers 2 -> 1", File: "head/p.cue", Line: 12}},
		Findings:  []diff.FindingChange{{Op: diff.New, Check: "AC031", Slug: "privilege-multiplying-handoff", Severity: "high", Message: "m", Element: "handoffs[0]", File: "head/p.cue", Line: 9, Column: 2}},
		Scenarios: []diff.OutcomeChange{{Kind: "scenario", Name: "s", Before: diff.Pass, After: diff.Fail, File: "head/p.cue", Line: 20}},
		Decisions: []diff.DecisionChange{{Request: map[string]any{"agent": "b", "tool": "t", "action": "pay", "chain": []any{"a", "b"}},
			Before: diff.Verdict{Outcome: "deny", Code: "UNDECLARED_HANDOFF"}, After: diff.Verdict{Outcome: "allow"}, File: "head/p.cue", Line: 5}},
	}
}

// TestDiffSARIFValidates checks the diff's SARIF against the official schema, with one
// result per kind on HEAD's lines.
func TestDiffSARIFValidates(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, DiffFindings([]*diff.Result{sampleDiff()}, []diff.Gate{{FailOn: diff.DefaultFailOn, Threshold: lint.High}})); err != nil {
		t.Fatal(err)
	}
	for _, e := range testtool.SARIFErrors(t, b.Bytes()) {
		t.Errorf("SARIF schema: %s", e)
	}
	for _, id := range []string{"diff/change", "diff/new-escalation", "diff/new-exfiltration", "diff/weaker-approval",
		"diff/new-finding", "diff/scenario-regression", "diff/decision-flip"} {
		if !strings.Contains(b.String(), `"ruleId": "`+id+`"`) {
			t.Errorf("no result of %s:\n%s", id, b.String())
		}
	}
}

// TestDiffGitHubLevels checks that kinds named in --fail-on are errors and the rest are not.
func TestDiffGitHubLevels(t *testing.T) {
	var b bytes.Buffer
	if err := GitHub(&b, DiffFindings([]*diff.Result{sampleDiff()}, []diff.Gate{{FailOn: []string{diff.FailNewEscalation}, Threshold: lint.High}})); err != nil {
		t.Fatal(err)
	}
	want := "::notice file=head/p.cue,line=9,col=1,title=diff/change::info: added handoff handoffs[a->b] (change)\n" +
		"::error file=head/p.cue,line=3,col=1,title=diff/new-escalation::high: a now reaches t.pay via a -delegate-> b (new-escalation)\n" +
		"::warning file=head/p.cue,line=3,col=1,title=diff/new-exfiltration::critical: a: new exfiltration path to mail.send at b via a -delegate-> b (sensitive read at b; runtime: deny) (new-exfiltration)\n" +
		"::warning file=head/p.cue,line=12,col=1,title=diff/weaker-approval::high: approvals.pay weaker: approvers 2 -> 1 (weaker-approval)\n" +
		"::warning file=head/p.cue,line=9,col=1,title=diff/new-finding::high: AC031 privilege-multiplying-handoff: m (new-finding)\n" +
		"::warning file=head/p.cue,line=20,col=1,title=diff/scenario-regression::high: scenario s: pass -> fail  (scenario-regression)\n" +
		"::warning file=head/p.cue,line=5,col=1,title=diff/decision-flip::medium: t.pay by b (chain a -> b): deny UNDECLARED_HANDOFF -> allow (decision-flip)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestDiffMarkdown checks the pull-request comment: the gate line first, tables without
// diff colours, risk rows marked and counted, user text kept inside its cell.
func TestDiffMarkdown(t *testing.T) {
	r := sampleDiff()
	r.Changes[0].Path = "handoffs[a->b] | <b>x</b>"
	r.Summary = diff.Summary{EscalationsAdded: 1, ExfilAdded: 1, ApprovalsWeaker: 1, Regressions: 1}
	gate, failed := DiffGate([]*diff.Result{r}, []diff.Gate{{FailOn: diff.DefaultFailOn, Threshold: lint.High}})
	if want := "gate: FAILED — new-escalation: 1, new-exfiltration: 1, weaker-approval: 1, scenario-regression: 1"; !failed || gate != want {
		t.Fatalf("gate = %q, %v; want %q", gate, failed, want)
	}
	var b bytes.Buffer
	if err := DiffMarkdown(&b, []*diff.Result{r}, 20, gate); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"**" + gate + "**\n",
		"<details><summary>Reach (1, ⚠ 1 to review)</summary>",
		"| ⚠ risk | `+` | a ⇒ t.pay via a -delegate-> b  \\[escalation\\] | `head/p.cue:3` |",
		"|  | `+` | handoff handoffs\\[a->b\\] \\| \\<b>x\\</b>  mode=\"delegate\" | `head/p.cue:9` |",
		"<details><summary>Decisions (1, ⚠ 1 to review)</summary>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "```diff") {
		t.Errorf("markdown uses diff fences (green for new risk):\n%s", out)
	}
}

// TestDiffGate words the verdict of each kind of gate.
func TestDiffGate(t *testing.T) {
	r := sampleDiff()
	r.Summary = diff.Summary{EscalationsAdded: 2, Regressions: 1}
	for _, c := range []struct {
		conds  []string
		want   string
		failed bool
	}{
		{diff.DefaultFailOn, "gate: FAILED — new-escalation: 2, scenario-regression: 1", true},
		{[]string{diff.FailNewExfiltration, diff.FailDecisionFlip}, "gate: passed — no new exfiltration path or decision flip", false},
		{[]string{diff.FailNewEscalation}, "gate: FAILED — new-escalation: 2", true},
		{[]string{}, "gate: off (--fail-on none)", false},
	} {
		got, failed := DiffGate([]*diff.Result{r}, []diff.Gate{{FailOn: c.conds, Threshold: lint.High}})
		if got != c.want || failed != c.failed {
			t.Errorf("DiffGate(%v) = %q, %v; want %q, %v", c.conds, got, failed, c.want, c.failed)
		}
	}
	if got, _ := DiffGate([]*diff.Result{r}, []diff.Gate{{FailOn: []string{diff.FailNewFinding}, Threshold: lint.Critical}}); got != "gate: passed — no new finding at or above critical" {
		t.Errorf("new-finding at critical: %q", got)
	}
}

// TestDiffGateByDirectory: each result is judged by its own gate; the verdict names the
// directories when their gates differ, and only then.
func TestDiffGateByDirectory(t *testing.T) {
	a, b := sampleDiff(), sampleDiff()
	a.Head, b.Head = "a", "b"
	a.Summary = diff.Summary{EscalationsAdded: 2}
	b.Summary = diff.Summary{Regressions: 1}
	esc := diff.Gate{FailOn: []string{diff.FailNewEscalation}, Threshold: lint.High}
	reg := diff.Gate{FailOn: []string{diff.FailScenarioRegression}, Threshold: lint.High}
	flip := diff.Gate{FailOn: []string{diff.FailDecisionFlip, diff.FailNewExfiltration}, Threshold: lint.Low}
	none := diff.Gate{FailOn: []string{}, Threshold: lint.High}
	for _, c := range []struct {
		gates  []diff.Gate
		want   string
		failed bool
	}{
		// The same conditions; thresholds that new-finding does not read do not matter.
		{[]diff.Gate{esc, {FailOn: esc.FailOn, Threshold: lint.Low}}, "gate: FAILED — new-escalation: 2", true},
		{[]diff.Gate{reg, esc}, "gate: passed — a: no scenario/test regression; b: no new escalation", false},
		{[]diff.Gate{esc, reg}, "gate: FAILED — a: new-escalation: 2; b: scenario-regression: 1", true},
		{[]diff.Gate{none, reg}, "gate: FAILED — b: scenario-regression: 1", true},
		{[]diff.Gate{flip, none}, "gate: passed — a: no decision flip or new exfiltration path; b: off", false},
		{[]diff.Gate{none, none}, "gate: off (--fail-on none)", false},
	} {
		got, failed := DiffGate([]*diff.Result{a, b}, c.gates)
		if got != c.want || failed != c.failed {
			t.Errorf("DiffGate(%v) = %q, %v; want %q, %v", c.gates, got, failed, c.want, c.failed)
		}
	}
}
