package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/replay"
)

// ReplayRun is one replay: the calls to list (every call, or only the flips when comparing
// with Base) and the counts over every call.
type ReplayRun struct {
	Policy    string // the policy directory
	Base      string // the base policy: a directory or a git revision; empty without one
	Engine    string
	Head      *policy.Policy // for the hand-off modes shown in chains
	Results   []replay.Result
	Summary   replay.Summary
	OnlyFlips bool // Results holds only the flips against Base
	Logged    bool // some calls carry a logged decision (OPA decision logs)
}

// ReplaySummaryLine is "412 calls: 398 allow, 9 deny, 3 needs approval, 2 not replayable",
// with the flips when there is something to compare with.
func ReplaySummaryLine(run ReplayRun) string {
	s := run.Summary
	line := fmt.Sprintf("%s: %d allow, %d deny, %d needs approval, %d not replayable",
		plural(s.Calls, "call"), s.Allow, s.Deny, s.NeedsApproval, s.NotReplayable)
	switch {
	case run.Base != "":
		line += fmt.Sprintf("; %s against %s", plural(s.Flips, "flip"), run.Base)
	case run.Logged:
		line += fmt.Sprintf("; %d differ from the logged decision", s.Flips)
	}
	return line
}

// ReplaySummary writes the summary line and what was assumed.
func ReplaySummary(w io.Writer, run ReplayRun) error {
	if _, err := fmt.Fprintln(w, policy.Escape(ReplaySummaryLine(run))); err != nil {
		return err
	}
	return assumptions(w, run)
}

// ReplayTable writes a table per session (or the flips, one per line) and the summary.
func ReplayTable(w io.Writer, run ReplayRun, unicode bool) error {
	if run.OnlyFlips {
		for _, r := range run.Results {
			if _, err := fmt.Fprintln(w, policy.Escape(flipLine(run.Head, r))); err != nil {
				return err
			}
		}
	} else {
		logged := run.Logged
		header := []string{"#", "time", "agent", "chain", "capability", "flow", "decision", "reason"}
		if logged {
			header = append(header, "logged")
		}
		tables := NewTables(w, unicode)
		for _, s := range sessions(run.Results) {
			if _, err := fmt.Fprintf(w, "session %s (%s)\n", policy.Escape(s.name), plural(len(s.results), "call")); err != nil {
				return err
			}
			rows := make([][]string, 0, len(s.results))
			for _, r := range s.results {
				row := []string{fmt.Sprint(r.Seq), timeOf(r.Call.Time), r.Call.Agent, chainOf(run.Head, r),
					capabilityOf(r), flowOf(r.Verdict), outcomeText(r.Outcome()), reasonOf(r.Verdict)}
				if logged {
					row = append(row, loggedOf(r))
				}
				rows = append(rows, row)
			}
			if err := tables.Write(header, rows); err != nil {
				return err
			}
		}
	}
	return ReplaySummary(w, run)
}

// assumptions says which request fields replay filled in because the recording lacked them.
func assumptions(w io.Writer, run ReplayRun) error {
	n := run.Summary.Assumed
	var parts []string
	for _, a := range []struct{ key, text string }{
		{replay.AssumedIdentity, "the declared SPIFFE ID"},
		{replay.AssumedCredential, "an unexpired credential"},
		{replay.AssumedTime, "the time (the recording has none)"},
	} {
		if n[a.key] > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s)", a.text, plural(n[a.key], "call")))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "assumed: %s\n", strings.Join(parts, ", "))
	return err
}

type sessionResults struct {
	name    string
	results []replay.Result
}

// sessions groups results by session, sessions in the order they first appear.
func sessions(results []replay.Result) []sessionResults {
	var out []sessionResults
	idx := map[string]int{}
	for _, r := range results {
		i, ok := idx[r.Call.Session]
		if !ok {
			i = len(out)
			idx[r.Call.Session] = i
			out = append(out, sessionResults{name: r.Call.Session})
		}
		out[i].results = append(out[i].results, r)
	}
	return out
}

func timeOf(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func chainOf(p *policy.Policy, r replay.Result) string {
	if len(r.Call.Chain) == 0 {
		return r.Call.Agent
	}
	return replay.Via(p, r.Call.Chain)
}

func capabilityOf(r replay.Result) string {
	if r.Capability != "" {
		return r.Capability
	}
	return r.Call.Name
}

// flowOf is the flow labels the session held before the call: "untrusted", "sensitive",
// both joined by "+", or "-"; nothing for a call that was not replayed.
func flowOf(v replay.Verdict) string {
	if v.Request == nil {
		return ""
	}
	var labels []string
	for _, l := range []string{"untrusted", "sensitive"} {
		if f, _ := policy.Lookup(v.Request, "session", "flow", l); f == true {
			labels = append(labels, l)
		}
	}
	if len(labels) == 0 {
		return "-"
	}
	return strings.Join(labels, "+")
}

func outcomeText(o string) string { return strings.ReplaceAll(o, "_", " ") }

// reasonOf is the distinct reason codes, or why the call is not replayable.
func reasonOf(v replay.Verdict) string {
	if v.Decision == nil {
		return v.NotReplayable
	}
	var codes []string
	for _, r := range v.Decision.Reasons {
		if !slices.Contains(codes, r.Code) {
			codes = append(codes, r.Code)
		}
	}
	return strings.Join(codes, ", ")
}

func loggedOf(r replay.Result) string {
	if r.Call.Logged == nil {
		return "-"
	}
	return outcomeText(r.Call.Logged.Outcome)
}

// flipReason is the reasons of the side of a flip that did not allow.
func flipReason(r replay.Result) string {
	switch {
	case r.Outcome() != policy.OutcomeAllow:
		return reasonOf(r.Verdict)
	case r.Base != nil:
		return reasonOf(*r.Base)
	}
	return reasonOf(replay.Verdict{Decision: r.Call.Logged})
}

// flipLine is "allow → deny  billing payments.refund via triage -delegate-> billing  NOT_GRANTED  (SOURCE)".
func flipLine(p *policy.Policy, r replay.Result) string {
	reason := flipReason(r)
	line := fmt.Sprintf("%s → %s  %s %s", outcomeText(r.Was()), outcomeText(r.Outcome()), r.Call.Agent, capabilityOf(r))
	if len(r.Call.Chain) > 1 {
		line += " via " + chainOf(p, r)
	}
	if reason != "" {
		line += "  " + reason
	}
	return line + "  (" + r.Call.Source + ")"
}

// ReplayDocument is the JSON shape of `agentctl replay -o json`.
type ReplayDocument struct {
	SchemaVersion int            `json:"schema_version"`
	Policy        string         `json:"policy"`
	Base          string         `json:"base,omitempty"`
	Engine        string         `json:"engine"`
	OnlyFlips     bool           `json:"only_flips"`
	Calls         []ReplayCall   `json:"calls"`
	Summary       replay.Summary `json:"summary"`
}

// ReplayCall is one call in the JSON output.
type ReplayCall struct {
	Source  string   `json:"source"`
	Session string   `json:"session"`
	Seq     int      `json:"seq"`
	Time    string   `json:"time,omitempty"`
	Agent   string   `json:"agent,omitempty"`
	Chain   []string `json:"chain,omitempty"`
	Name    string   `json:"name,omitempty"`    // the recorded tool name
	CallID  string   `json:"call_id,omitempty"` // gen_ai.tool.call.id or the MCP JSON-RPC id
	Outcome string   `json:"outcome"`
	replay.Verdict
	Base    *ReplayVerdict   `json:"base,omitempty"`
	Logged  *policy.Decision `json:"logged,omitempty"`
	Flipped bool             `json:"flipped"`
}

// ReplayVerdict is the base policy's verdict with its outcome.
type ReplayVerdict struct {
	Outcome string `json:"outcome"`
	replay.Verdict
}

// ReplayJSON writes the run as a ReplayDocument.
func ReplayJSON(w io.Writer, run ReplayRun) error {
	doc := ReplayDocument{SchemaVersion: SchemaVersion, Policy: run.Policy, Base: run.Base, Engine: run.Engine,
		OnlyFlips: run.OnlyFlips, Calls: []ReplayCall{}, Summary: run.Summary}
	if doc.Summary.Assumed == nil {
		doc.Summary.Assumed = map[string]int{}
	}
	for _, r := range run.Results {
		c := ReplayCall{Source: r.Call.Source, Session: r.Call.Session, Seq: r.Seq, Agent: r.Call.Agent,
			Chain: r.Call.Chain, Name: r.Call.Name, CallID: r.Call.CallID, Outcome: r.Outcome(), Verdict: r.Verdict, Logged: r.Call.Logged, Flipped: r.Flipped()}
		if !r.Call.Time.IsZero() {
			c.Time = timeOf(r.Call.Time)
		}
		if r.Base != nil {
			c.Base = &ReplayVerdict{Outcome: r.Base.Outcome(), Verdict: *r.Base}
		}
		doc.Calls = append(doc.Calls, c)
	}
	return JSON(w, doc)
}

// ReplayJUnit writes a suite per session and a case per call listed: a deny (or, when
// comparing, a flip) fails, a call that is not replayable is skipped.
func ReplayJUnit(w io.Writer, run ReplayRun) error {
	doc := JUnit{Name: "agentctl replay " + run.Policy}
	for _, s := range sessions(run.Results) {
		suite := JUnitSuite{Name: s.name}
		for _, r := range s.results {
			c := JUnitCase{Name: fmt.Sprintf("%d %s %s", r.Seq, r.Call.Agent, capabilityOf(r)), Classname: s.name}
			switch {
			case run.OnlyFlips:
				c.Failure = &JUnitFailure{Message: flipLine(run.Head, r), Type: "flip", Text: r.Call.Source}
			case r.Decision == nil:
				c.Name += " (not replayable: " + r.NotReplayable + ")"
				c.Skipped = &JUnitSkipped{Message: "not replayable: " + r.NotReplayable}
			case r.Decision.Outcome == policy.OutcomeDeny:
				c.Failure = &JUnitFailure{Message: r.Decision.Reasons[0].Message, Type: r.Decision.Reasons[0].Code,
					Text: r.Call.Source + ": " + reasonOf(r.Verdict)}
			}
			suite.Cases = append(suite.Cases, c)
		}
		doc.Suites = append(doc.Suites, suite)
	}
	return WriteJUnit(w, doc)
}

// ReplayMarkdown writes the summary and a Markdown table per session (or of the flips),
// for pull-request comments.
func ReplayMarkdown(w io.Writer, run ReplayRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## agentctl replay: %s\n\n%s\n", MarkdownCell(run.Policy), MarkdownCell(ReplaySummaryLine(run)))
	if run.OnlyFlips {
		if len(run.Results) > 0 {
			b.WriteString("\n| was | now | agent | capability | chain | reason | source |\n|---|---|---|---|---|---|---|\n")
		}
		for _, r := range run.Results {
			mdRow(&b, outcomeText(r.Was()), outcomeText(r.Outcome()), r.Call.Agent, capabilityOf(r), chainOf(run.Head, r), flipReason(r), r.Call.Source)
		}
	} else {
		for _, s := range sessions(run.Results) {
			fmt.Fprintf(&b, "\n### Session %s\n\n| # | time | agent | chain | capability | flow | decision | reason |\n|---|---|---|---|---|---|---|---|\n", MarkdownCode(s.name))
			for _, r := range s.results {
				mdRow(&b, fmt.Sprint(r.Seq), timeOf(r.Call.Time), r.Call.Agent, chainOf(run.Head, r), capabilityOf(r),
					flowOf(r.Verdict), outcomeText(r.Outcome()), reasonOf(r.Verdict))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdRow(b *strings.Builder, cells ...string) {
	for i, c := range cells {
		cells[i] = MarkdownCell(c)
	}
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}
