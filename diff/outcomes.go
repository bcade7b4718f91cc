package diff

import (
	"fmt"
	"maps"
	"slices"

	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/simulate"
)

// scenarioOutcome records a scenario whose expectations pass in one version and fail (or are
// absent) in the other. A scenario without an expect block passes.
func (r *Result) scenarioOutcome(b, h *policy.Scenario, br, hr *simulate.Result) {
	before, after := outcome(b != nil, br != nil && br.Passed), outcome(h != nil, hr != nil && hr.Passed)
	if before == after {
		return
	}
	o := OutcomeChange{Kind: "scenario", Before: before, After: after}
	if h != nil {
		o.Name, o.Failures = h.Name, hr.Failures
		o.File, o.Line = posOf(h.Pos)
	} else {
		o.Name = b.Name
		o.File, o.Line = posOf(b.Pos)
	}
	r.Scenarios = append(r.Scenarios, o)
}

func outcome(present, passed bool) string {
	switch {
	case !present:
		return Absent
	case passed:
		return Pass
	}
	return Fail
}

// tests fills the test changes: tests whose decision or pass/fail differs between the
// versions, decided by the Go reference.
func (r *Result) tests(base, head *policy.Policy) {
	tb, th := map[string]*policy.Test{}, map[string]*policy.Test{}
	for _, t := range base.Tests {
		tb[t.Name] = t
	}
	for _, t := range head.Tests {
		th[t.Name] = t
	}
	either := maps.Clone(tb)
	maps.Copy(either, th)
	for _, n := range slices.Sorted(maps.Keys(either)) {
		b, h := tb[n], th[n]
		var before, after, db, dh string
		if b != nil {
			d := base.Decide(b.Input, testEnv(b))
			before, db = outcome(true, b.Expect.Met(d)), verdictText(d)
		} else {
			before, db = Absent, "-"
		}
		if h != nil {
			d := head.Decide(h.Input, testEnv(h))
			after, dh = outcome(true, h.Expect.Met(d)), verdictText(d)
		} else {
			after, dh = Absent, "-"
		}
		if before == after && db == dh {
			continue
		}
		o := OutcomeChange{Kind: "test", Name: n, Before: before, After: after, Decision: []string{db, dh}}
		if h != nil {
			o.File, o.Line = posOf(h.Pos)
			if after == Fail {
				o.Failures = []string{fmt.Sprintf("expected %s, got %s", h.Expect, dh)}
			}
		} else {
			o.File, o.Line = posOf(b.Pos)
		}
		r.Scenarios = append(r.Scenarios, o)
	}
}

// verdict is a decision's outcome with its primary reason.
func verdict(d policy.Decision) Verdict {
	v := Verdict{Outcome: d.Outcome}
	if len(d.Reasons) > 0 {
		v.Code, v.Reason = d.Reasons[0].Code, d.Reasons[0].Message
	}
	return v
}

func verdictText(d policy.Decision) string {
	v := verdict(d)
	if v.Code != "" {
		return v.Outcome + " " + v.Code
	}
	return v.Outcome
}

// testEnv is what a test is decided with, as agentctl test decides it: the test clock and
// the runtime lists the test pushes.
func testEnv(t *policy.Test) policy.Env {
	env := policy.Env{Now: policy.TestClock}
	if t.Lists != nil {
		env.Lists = t.Lists
	}
	return env
}
