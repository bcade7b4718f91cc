package report

import (
	"testing"
	"time"

	"github.com/agentctl/agentctl/simulate"
)

func TestVerdict(t *testing.T) {
	high := Finding{Severity: "high", Failing: true}
	medium := Finding{Severity: "medium"}
	ok := []VetResult{{Dir: "a", OK: true}}
	scen := []*simulate.Result{{Passed: true}, {Passed: false}}
	for _, tc := range []struct {
		name    string
		c       Check
		elapsed time.Duration
		color   bool
		want    string
	}{
		{"clean", Check{Dirs: ok, Lint: Findings{FailOn: "high"}}, -1, false,
			"PASS  lint: no findings · scenarios 0/0 passed · tests 0/0 passed"},
		{"below", Check{Dirs: ok, Lint: Findings{FailOn: "high", Findings: []Finding{medium, {Severity: "low", Suppressed: true}}}}, 1234 * time.Millisecond, false,
			"PASS  lint: 1 finding, all below high (1 medium) · scenarios 0/0 passed · tests 0/0 passed · 1.23s"},
		{"lint fails", Check{Dirs: ok, Lint: Findings{FailOn: "high", Findings: []Finding{high, high, medium}}}, -1, true,
			"\x1b[1;31mFAIL\x1b[0m  lint: 2 findings at or above high (2 high) · scenarios 0/0 passed · tests 0/0 passed"},
		{"thresholds differ", Check{Dirs: ok, Lint: Findings{FailOn: "high", Findings: []Finding{high, {Severity: "high", FailOn: "critical"}}}}, -1, false,
			"FAIL  lint: 1 finding at or above their directory's fail_on (1 high) · scenarios 0/0 passed · tests 0/0 passed"},
		{"scenario fails", Check{Dirs: ok, Lint: Findings{FailOn: "high"}, Scenarios: scen}, -1, false,
			"FAIL  scenarios 1/2 passed · lint: no findings · tests 0/0 passed"},
		{"scenario and lint fail", Check{Dirs: ok, Lint: Findings{FailOn: "high", Findings: []Finding{high}}, Scenarios: scen}, -1, false,
			"FAIL  lint: 1 finding at or above high (1 high) · scenarios 1/2 passed · tests 0/0 passed"},
		{"one of two did not load", Check{Dirs: []VetResult{{Dir: "a", OK: true}, {Dir: "b"}}, Lint: Findings{FailOn: "high"}}, -1, false,
			"FAIL  load: b did not load · lint: no findings · scenarios 0/0 passed · tests 0/0 passed"},
		{"nothing loaded", Check{Dirs: []VetResult{{Dir: "a"}, {Dir: "b"}}, Lint: Findings{FailOn: "high"}}, -1, false,
			"FAIL  load: 2 of 2 directories did not load (a, b)"},
	} {
		if got := Verdict(tc.c, tc.elapsed, tc.color); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
