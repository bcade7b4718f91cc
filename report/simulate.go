package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/simulate"
)

// SimulateTable writes scenario results for people: a summary row per scenario, a row per
// escalation, exfiltration path and approval needed, then each failed expectation.
func SimulateTable(w io.Writer, results []*simulate.Result, unicode bool) error {
	if len(results) == 0 {
		_, err := fmt.Fprintln(w, "no scenarios to simulate")
		return err
	}
	var sum, detail [][]string
	passed, failed, unchecked := 0, 0, 0
	for _, r := range results {
		status := "pass"
		switch {
		case !r.Passed:
			status = "FAIL"
			failed++
		case !r.Checked:
			status = "no expect"
			unchecked++
		default:
			passed++
		}
		sum = append(sum, []string{r.Name, status, r.Start, strconv.Itoa(len(r.Reachable)),
			strconv.Itoa(len(r.Escalations)), strconv.Itoa(len(r.Exfiltration)), strconv.Itoa(len(r.NeedsApproval))})
		for _, e := range r.Escalations {
			detail = append(detail, []string{r.Name, "escalation", e.Capability, e.Via()})
		}
		for _, x := range r.Exfiltration {
			detail = append(detail, []string{r.Name, "exfiltration", x.Capability,
				simulate.FormatChain(x.Chain, x.Modes) + " (sensitive read at " + x.SensitiveRead + "; runtime: " + x.Runtime + ")" + simulate.WhenText(x.Conditions)})
		}
		for _, a := range r.Approvals {
			detail = append(detail, []string{r.Name, "approval", a.Capability,
				strings.Join(a.Rules, ", ") + " (executed by " + strings.Join(a.Agents, ", ") + ")"})
		}
	}
	if err := Table(w, []string{"scenario", "result", "start", "reach", "escalations", "exfiltration", "needs approval"}, sum, unicode); err != nil {
		return err
	}
	if len(detail) > 0 {
		if err := Table(w, []string{"scenario", "finding", "capability", "chain or rule"}, detail, unicode); err != nil {
			return err
		}
	}
	for _, r := range results {
		for _, f := range r.Failures {
			if _, err := fmt.Fprintf(w, "FAIL %s: %s\n", r.Name, f); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%s: %d passed, %d failed, %d without expectations\n",
		plural(len(results), "scenario"), passed, failed, unchecked)
	return err
}

// simulateDoc is the contract's `simulate -o json` document.
type simulateDoc struct {
	SchemaVersion int                `json:"schema_version,omitempty"`
	Scenarios     []*simulate.Result `json:"scenarios"`
}

// SimulateJSON writes the contract's JSON document; results must already be sorted.
func SimulateJSON(w io.Writer, results []*simulate.Result) error {
	if results == nil {
		results = []*simulate.Result{}
	}
	return JSON(w, simulateDoc{SchemaVersion: SchemaVersion, Scenarios: results})
}

// SimulateJUnit writes one test suite per policy directory and one case per scenario.
func SimulateJUnit(w io.Writer, results []*simulate.Result) error {
	return WriteJUnit(w, JUnit{Name: "agentctl simulate", Suites: simulateSuites(results)})
}

func simulateSuites(results []*simulate.Result) []JUnitSuite {
	r := JUnit{}
	idx := map[string]int{}
	for _, res := range results {
		i, ok := idx[res.Policy]
		if !ok {
			i = len(r.Suites)
			idx[res.Policy] = i
			r.Suites = append(r.Suites, JUnitSuite{Name: "simulate " + res.Policy})
		}
		c := JUnitCase{Name: res.Name, Classname: "simulate." + res.Policy, File: res.Pos.File, Line: res.Pos.Line}
		if !res.Passed {
			c.Failure = &JUnitFailure{
				Message: strings.Join(res.Failures, "; "),
				Type:    "expectation",
				Text:    strings.Join(res.Failures, "\n"),
			}
		}
		r.Suites[i].Cases = append(r.Suites[i].Cases, c)
	}
	return r.Suites
}

// CompareTable writes a baseline and a what-if side by side, then the capabilities that
// appear or vanish under the what-if.
func CompareTable(w io.Writer, comps []*simulate.Comparison, unicode bool) error {
	for _, c := range comps {
		b, x := c.Baseline, c.WhatIf
		where := ""
		if c.Policy != "" {
			where = c.Policy + ": "
		}
		if _, err := fmt.Fprintf(w, "%sscenario %s (start %s): baseline vs what-if\n", where, c.Name, x.Start); err != nil {
			return err
		}
		rows := [][]string{
			{"reach", strconv.Itoa(len(b.Reachable)), strconv.Itoa(len(x.Reachable))},
			{"escalations", strconv.Itoa(len(b.Escalations)), strconv.Itoa(len(x.Escalations))},
			{"exfiltration paths", strconv.Itoa(len(b.Exfiltration)), strconv.Itoa(len(x.Exfiltration))},
			{"needs approval", strconv.Itoa(len(b.NeedsApproval)), strconv.Itoa(len(x.NeedsApproval))},
		}
		if err := Table(w, []string{"", "baseline", "what-if"}, rows, unicode); err != nil {
			return err
		}
		var changes [][]string
		for _, e := range c.Appeared {
			changes = append(changes, []string{"+", e.Capability, e.Via()})
		}
		for _, e := range c.Vanished {
			changes = append(changes, []string{"-", e.Capability, e.Via()})
		}
		if len(changes) == 0 {
			if _, err := fmt.Fprintln(w, "no capability appears or vanishes"); err != nil {
				return err
			}
			continue
		}
		if err := Table(w, []string{"change", "capability", "chain"}, changes, unicode); err != nil {
			return err
		}
	}
	return nil
}

// compareDoc is the `simulate --compare -o json` document.
type compareDoc struct {
	SchemaVersion int                    `json:"schema_version"`
	Comparisons   []*simulate.Comparison `json:"comparisons"`
}

// CompareJSON writes comparisons as JSON.
func CompareJSON(w io.Writer, comps []*simulate.Comparison) error {
	if comps == nil {
		comps = []*simulate.Comparison{}
	}
	return JSON(w, compareDoc{SchemaVersion: SchemaVersion, Comparisons: comps})
}
