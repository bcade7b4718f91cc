package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
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
// the gates that failed first, e.g. "FAIL  scenarios 4/5 passed · lint: no findings · tests
// 16/16 passed · 0.31s".
// A negative elapsed time is left out. color wraps PASS/FAIL in ANSI colours.
func Verdict(c Check, elapsed time.Duration, color bool) string {
	t := c.tally()
	var failed, passed []string
	part := func(fail bool, s string) {
		if fail {
			failed = append(failed, s)
		} else {
			passed = append(passed, s)
		}
	}
	switch n := len(t.loadFailed); {
	case n == 1:
		part(true, fmt.Sprintf("load: %s did not load", t.loadFailed[0]))
	case n > 1:
		part(true, fmt.Sprintf("load: %d of %d directories did not load (%s)", n, len(c.Dirs), strings.Join(t.loadFailed, ", ")))
	}
	switch {
	case len(t.loadFailed) == len(c.Dirs):
		// Nothing loaded: no gate ran.
	case t.failing.Total > 0:
		part(true, fmt.Sprintf("lint: %s at or above %s (%s)", plural(t.failing.Total, "finding"), t.threshold, severityCounts(t.failing)))
	case t.below.Total > 0:
		part(false, fmt.Sprintf("lint: %s, all below %s (%s)", plural(t.below.Total, "finding"), t.threshold, severityCounts(t.below)))
	default:
		part(false, "lint: no findings")
	}
	if len(t.loadFailed) < len(c.Dirs) {
		part(t.scenariosFailed > 0, fmt.Sprintf("scenarios %d/%d passed", t.scenarios-t.scenariosFailed, t.scenarios))
		part(t.testsFailed > 0, fmt.Sprintf("tests %d/%d passed", t.tests-t.testsFailed, t.tests))
	}
	parts := append(failed, passed...)
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
	// Failures is every result that fails the gate, in the shape of a lint finding: active
	// findings at or above their threshold, failed scenarios and failed tests.
	Failures []Finding `json:"failures"`
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
		Failures:      []Finding{},
	}
	for _, f := range c.Results().Findings {
		if f.Failing && !f.Suppressed {
			doc.Failures = append(doc.Failures, f)
		}
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
		cp.Pos.File = rel(s.Pos.File)
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

// Rule IDs of the gate's failures that are not lint findings, in SARIF, GitHub annotations
// and the compact format.
const (
	ScenarioFailedRule = "scenario-failed"
	TestFailedRule     = "test-failed"
)

var gateRules = []Rule{
	{ID: ScenarioFailedRule, Slug: ScenarioFailedRule, Title: "A scenario's expectation does not hold", Severity: "high",
		Rationale:   "The scenario's expect block states what its authors accept a chain of hand-offs to reach; the policy now disagrees.",
		Remediation: "Fix the policy, or update the expectation if the change is intended (agentctl simulate DIR shows what the scenario reaches).",
		HelpURI:     "https://github.com/agentctl/agentctl/blob/main/docs/simulate.md"},
	{ID: TestFailedRule, Slug: TestFailedRule, Title: "A request-level test fails", Severity: "high",
		Rationale:   "The test states the runtime decision for a request; the Go reference or the compiled Rego decides otherwise, or the two disagree.",
		Remediation: "Fix the policy, or update the test if the change is intended (agentctl explain DIR shows why a request is decided as it is).",
		HelpURI:     "https://github.com/agentctl/agentctl/blob/main/docs/policy.md#tests"},
}

// Results is everything that fails the gate as findings, for the CI formats (SARIF, GitHub
// annotations, compact): the lint findings and load errors, then one failing finding per
// failed scenario (rule scenario-failed) and per failed test (test-failed), at the position
// where the scenario or test is written.
func (c Check) Results() Findings {
	out := c.Lint
	out.Findings = slices.Clone(c.Lint.Findings)
	used := map[string]bool{}
	for _, s := range c.Scenarios {
		if s.Passed {
			continue
		}
		used[ScenarioFailedRule] = true
		out.Findings = append(out.Findings, Finding{
			Check: ScenarioFailedRule, Slug: ScenarioFailedRule, Severity: "high", Failing: true,
			Message: fmt.Sprintf("scenario %s failed: %s", s.Name, policy.Escape(strings.Join(s.Failures, "; "))),
			File:    s.Pos.File, Line: s.Pos.Line, Column: s.Pos.Col,
			Element: "scenarios." + s.Name, Fingerprint: s.Policy + ":scenarios." + s.Name, Frameworks: noFrameworks(),
		})
	}
	for _, run := range c.Tests {
		for _, r := range run.Results {
			if r.Passed {
				continue
			}
			used[TestFailedRule] = true
			out.Findings = append(out.Findings, Finding{
				Check: TestFailedRule, Slug: TestFailedRule, Severity: "high", Failing: true,
				Message: fmt.Sprintf("test %s failed: %s", r.Test.Name, policy.Escape(r.Why)),
				File:    r.Test.Pos.File, Line: r.Test.Pos.Line, Column: r.Test.Pos.Col,
				Element: "tests." + r.Test.Name, Fingerprint: run.Policy + ":tests." + r.Test.Name, Frameworks: noFrameworks(),
			})
		}
	}
	out.Rules = slices.Clone(c.Lint.Rules)
	for _, r := range gateRules {
		if used[r.ID] {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// noFrameworks is the framework references of a gate failure: none, as empty lists.
func noFrameworks() Frameworks {
	return Frameworks{ASI: []string{}, NHI: []string{}, MAESTRO: []string{}, NIST: []string{}}
}
