package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

// TestRun is the request-level test results of one policy directory.
type TestRun struct {
	Policy  string
	Results []compile.CaseResult
}

// TestsTable writes one row per test and a summary line; failures are explained below
// the table.
func TestsTable(w io.Writer, runs []TestRun, unicode bool) error {
	var rows [][]string
	passed, failed := 0, 0
	for _, run := range runs {
		for _, r := range run.Results {
			status := "pass"
			if !r.Passed {
				status = "FAIL"
				failed++
			} else {
				passed++
			}
			rows = append(rows, []string{run.Policy, r.Test.Name, status, expected(r.Test.Expect), got(r.Go), r.Test.Pos.String()})
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no tests")
		return err
	}
	if err := Table(w, []string{"policy", "test", "result", "expected", "got", "at"}, rows, unicode); err != nil {
		return err
	}
	for _, run := range runs {
		for _, r := range run.Results {
			if !r.Passed {
				// Why echoes the test's expected code and the request's values: user text.
				if _, err := fmt.Fprintf(w, "FAIL %s %s: %s\n", run.Policy, r.Test.Name, policy.Escape(r.Why)); err != nil {
					return err
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return err
}

func expected(e policy.TestExpect) string {
	if e.Code == "" {
		return e.Outcome
	}
	return e.Outcome + " " + policy.Escape(e.Code)
}

// got is the outcome and the distinct reason codes, in evaluation order.
func got(d policy.Decision) string {
	var codes []string
	for _, r := range d.Reasons {
		if !slices.Contains(codes, r.Code) {
			codes = append(codes, r.Code)
		}
	}
	if len(codes) == 0 {
		return d.Outcome
	}
	return d.Outcome + " " + strings.Join(codes, ", ")
}

// TestsDocument is the JSON shape of `agentctl test -o json`.
type TestsDocument struct {
	SchemaVersion int          `json:"schema_version,omitempty"`
	Tests         []TestJSON   `json:"tests"`
	Summary       TestsSummary `json:"summary"`
}

// TestJSON is one test result.
type TestJSON struct {
	Policy   string          `json:"policy"`
	Name     string          `json:"name"`
	File     string          `json:"file"`
	Line     int             `json:"line"`
	Column   int             `json:"column"`
	Passed   bool            `json:"passed"`
	Agree    bool            `json:"engines_agree"`
	Expected TestExpected    `json:"expected"`
	Go       policy.Decision `json:"go"`
	Rego     policy.Decision `json:"rego"`
	Failure  string          `json:"failure,omitempty"`
}

// TestExpected is a test's expectation.
type TestExpected struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
}

// TestsSummary counts results.
type TestsSummary struct {
	Total  int `json:"total"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
}

// TestsJSON writes the results as a TestsDocument.
func TestsJSON(w io.Writer, runs []TestRun) error {
	doc := testsDocument(runs)
	doc.SchemaVersion = SchemaVersion
	return JSON(w, doc)
}

func testsDocument(runs []TestRun) TestsDocument {
	doc := TestsDocument{Tests: []TestJSON{}}
	for _, run := range runs {
		for _, r := range run.Results {
			doc.Tests = append(doc.Tests, TestJSON{Policy: run.Policy, Name: r.Test.Name, File: r.Test.Pos.File,
				Line: r.Test.Pos.Line, Column: r.Test.Pos.Col, Passed: r.Passed, Agree: r.Agree,
				Expected: TestExpected{r.Test.Expect.Outcome, r.Test.Expect.Code}, Go: r.Go, Rego: r.Rego, Failure: r.Why})
			doc.Summary.Total++
			if r.Passed {
				doc.Summary.Passed++
			} else {
				doc.Summary.Failed++
			}
		}
	}
	return doc
}

// TestsJUnit writes one suite per policy directory and one case per test.
func TestsJUnit(w io.Writer, runs []TestRun) error {
	return WriteJUnit(w, JUnit{Name: "agentctl test", Suites: testsSuites(runs)})
}

func testsSuites(runs []TestRun) []JUnitSuite {
	doc := JUnit{}
	for _, run := range runs {
		s := JUnitSuite{Name: run.Policy}
		for _, r := range run.Results {
			c := JUnitCase{Name: r.Test.Name, Classname: run.Policy, File: r.Test.Pos.File, Line: r.Test.Pos.Line}
			if !r.Passed {
				typ := "expectation"
				if !r.Agree {
					typ = "engines-disagree"
				}
				c.Failure = &JUnitFailure{Message: policy.Escape(r.Why), Type: typ,
					Text: r.Test.Pos.String() + ": expected " + expected(r.Test.Expect) + ", got " + got(r.Go) +
						" (rego: " + got(r.Rego) + ")"}
			}
			s.Cases = append(s.Cases, c)
		}
		doc.Suites = append(doc.Suites, s)
	}
	return doc.Suites
}
