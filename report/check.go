package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/simulate"
)

// Check is the result of `agentctl check` over one or more policy directories.
type Check struct {
	Dirs      []VetResult        // every directory, in command-line order
	Lint      Findings           // findings of the directories that loaded, and the load errors
	Scenarios []*simulate.Result // scenario results of the directories that loaded
	Tests     []TestRun          // request-level test results of the directories that loaded
}

// VetResult is whether one directory loaded; Errors are its load errors.
type VetResult struct {
	Dir    string      `json:"dir"`
	OK     bool        `json:"ok"`
	Errors []LoadError `json:"errors"`
}

// Passed reports whether every gate passed: every directory loaded, no finding at or above
// its threshold, every scenario expectation and every test held.
func (c Check) Passed() bool {
	v := c.tally()
	return len(v.loadFailed) == 0 && v.failing.Total == 0 && v.scenariosFailed == 0 && v.testsFailed == 0
}

type tally struct {
	loadFailed                 []string // directories
	failing, below             Summary  // active findings at or above / below the threshold
	scenarios, scenariosFailed int
	tests, testsFailed         int
	threshold                  string // "high", or "their directory's fail_on" when they differ
}

func (c Check) tally() tally {
	t := tally{threshold: c.Lint.FailOn}
	for _, d := range c.Dirs {
		if !d.OK {
			t.loadFailed = append(t.loadFailed, d.Dir)
		}
	}
	for _, f := range c.Lint.Findings {
		if f.Suppressed {
			continue
		}
		if f.FailOn != "" && f.FailOn != c.Lint.FailOn {
			t.threshold = "their directory's fail_on"
		}
		if f.Failing {
			t.failing.count(f.Severity)
		} else {
			t.below.count(f.Severity)
		}
	}
	for _, s := range c.Scenarios {
		t.scenarios++
		if !s.Passed {
			t.scenariosFailed++
		}
	}
	for _, run := range c.Tests {
		for _, r := range run.Results {
			t.tests++
			if !r.Passed {
				t.testsFailed++
			}
		}
	}
	return t
}

// Verdict is the last line of `agentctl check`: PASS or FAIL, then what each gate found,
// e.g. "FAIL  lint: 14 findings at or above high (4 critical, 10 high) · scenarios 5/5 passed ·
// tests 16/16 passed · 0.31s".
// A negative elapsed time is left out. color wraps PASS/FAIL in ANSI colours.
func Verdict(c Check, elapsed time.Duration, color bool) string {
	t := c.tally()
	var parts []string
	switch n := len(t.loadFailed); {
	case n == 1:
		parts = append(parts, fmt.Sprintf("load: %s did not load", t.loadFailed[0]))
	case n > 1:
		parts = append(parts, fmt.Sprintf("load: %d of %d directories did not load (%s)", n, len(c.Dirs), strings.Join(t.loadFailed, ", ")))
	}
	switch {
	case len(t.loadFailed) == len(c.Dirs):
		// Nothing loaded: no gate ran.
	case t.failing.Total > 0:
		parts = append(parts, fmt.Sprintf("lint: %s at or above %s (%s)", plural(t.failing.Total, "finding"), t.threshold, severityCounts(t.failing)))
	case t.below.Total > 0:
		parts = append(parts, fmt.Sprintf("lint: %s, all below %s (%s)", plural(t.below.Total, "finding"), t.threshold, severityCounts(t.below)))
	default:
		parts = append(parts, "lint: no findings")
	}
	if len(t.loadFailed) < len(c.Dirs) {
		parts = append(parts,
			fmt.Sprintf("scenarios %d/%d passed", t.scenarios-t.scenariosFailed, t.scenarios),
			fmt.Sprintf("tests %d/%d passed", t.tests-t.testsFailed, t.tests))
	}
	if elapsed >= 0 {
		parts = append(parts, fmt.Sprintf("%.2fs", elapsed.Seconds()))
	}
	word, code := "PASS", "32"
	if !c.Passed() {
		word, code = "FAIL", "31"
	}
	if color {
		word = "\x1b[1;" + code + "m" + word + "\x1b[0m"
	}
	return word + "  " + strings.Join(parts, " · ")
}

// checkDoc is the document of `check -o json`.
type checkDoc struct {
	SchemaVersion int           `json:"schema_version"`
	Passed        bool          `json:"passed"`
	Verdict       string        `json:"verdict"`
	Vet           []VetResult   `json:"vet"`
	Lint          lintDoc       `json:"lint"`
	Simulate      simulateDoc   `json:"simulate"`
	Test          TestsDocument `json:"test"`
}

// CheckJSON writes one document with the vet, lint, simulate and test sections. The
// verdict carries no elapsed time, so the document is deterministic.
func CheckJSON(w io.Writer, c Check) error {
	doc := checkDoc{
		SchemaVersion: SchemaVersion,
		Passed:        c.Passed(),
		Verdict:       Verdict(c, -1, false),
		Vet:           c.Dirs,
		Lint:          findingsDoc(c.Lint, 0),
		Simulate:      simulateDoc{Scenarios: c.Scenarios},
		Test:          testsDocument(c.Tests),
	}
	for i, d := range doc.Vet {
		if d.Errors == nil {
			doc.Vet[i].Errors = []LoadError{}
		}
	}
	if doc.Simulate.Scenarios == nil {
		doc.Simulate.Scenarios = []*simulate.Result{}
	}
	return JSON(w, doc)
}

// RelativeTo returns c with the file and directory names of the lint findings, scenarios
// and tests relative to root (see Findings.RelativeTo); c itself is not changed.
func (c Check) RelativeTo(root string) Check {
	if root == "" {
		return c
	}
	rel := relativeTo(root)
	out := c
	out.Lint = c.Lint.RelativeTo(root)
	out.Scenarios = make([]*simulate.Result, len(c.Scenarios))
	for i, s := range c.Scenarios {
		cp := *s
		cp.Policy = rel(s.Policy)
		out.Scenarios[i] = &cp
	}
	out.Tests = make([]TestRun, len(c.Tests))
	for i, run := range c.Tests {
		cp := TestRun{Policy: rel(run.Policy), Results: make([]compile.CaseResult, len(run.Results))}
		for j, r := range run.Results {
			t := *r.Test
			t.Pos.File = rel(t.Pos.File)
			r.Test = &t
			cp.Results[j] = r
		}
		out.Tests[i] = cp
	}
	return out
}

// CheckJUnit writes the lint suites (one case per finding, see FindingsJUnit), then one
// suite of scenarios and one of tests per directory.
func CheckJUnit(w io.Writer, c Check) error {
	var suites []JUnitSuite
	for _, s := range slices.Concat(findingsSuites(c.Lint), simulateSuites(c.Scenarios), testsSuites(c.Tests)) {
		if len(s.Cases) > 0 {
			suites = append(suites, s)
		}
	}
	return WriteJUnit(w, JUnit{Name: "agentctl check", Suites: suites})
}
