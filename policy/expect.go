package policy

import (
	"slices"
	"time"
)

// TestClock is the clock of request-level tests whose input carries no "now" (`agentctl
// test`, `compile --verify`, `diff`): fixed, so results never depend on the day they run.
var TestClock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Met reports whether d meets the expectation: the outcome and, when a code is expected,
// some reason carrying it (a request may fail several checks; the test names the one it is
// about).
func (e TestExpect) Met(d Decision) bool {
	return d.Outcome == e.Outcome &&
		(e.Code == "" || slices.ContainsFunc(d.Reasons, func(r Reason) bool { return r.Code == e.Code }))
}

// String is the expectation as tests write it: "outcome" or "outcome CODE".
func (e TestExpect) String() string {
	if e.Code != "" {
		return e.Outcome + " " + e.Code
	}
	return e.Outcome
}
