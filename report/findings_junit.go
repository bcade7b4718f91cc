package report

import (
	"fmt"
	"io"
	"sort"
)

// FindingsJUnit writes one test suite per policy file and one test case per finding, named
// by check and element path. Only active findings at or above --fail-on fail; the others
// pass, and suppressed ones are skipped, so a CI's test report agrees with the exit status.
// A directory that failed to load is a failed case of its own.
func FindingsJUnit(w io.Writer, r Findings) error {
	return WriteJUnit(w, JUnit{Name: "agentctl lint", Suites: findingsSuites(r)})
}

func findingsSuites(r Findings) []JUnitSuite {
	var suites []JUnitSuite
	index := map[string]int{}
	suite := func(name string) *JUnitSuite {
		i, ok := index[name]
		if !ok {
			i = len(suites)
			index[name] = i
			suites = append(suites, JUnitSuite{Name: name})
		}
		return &suites[i]
	}
	for _, e := range r.LoadErrors {
		s := suite("load " + e.Dir)
		s.Cases = append(s.Cases, JUnitCase{Name: "load " + e.Dir, Classname: "agentctl.load",
			Failure: &JUnitFailure{Message: e.Message, Type: "load-error", Text: e.Location() + ": " + e.Message + "\n"}})
	}
	fs := append([]Finding(nil), r.Findings...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].File < fs[j].File })
	for _, f := range fs {
		file := f.File
		if file == "" {
			file = noPosition
		}
		loc := file
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d:%d", file, f.Line, f.Column)
		}
		c := JUnitCase{Name: f.Check + " " + f.Element, Classname: file}
		failOn := f.FailOn
		if failOn == "" {
			failOn = r.FailOn
		}
		switch {
		case f.Suppressed:
			c.Skipped = &JUnitSkipped{Message: suppressedBy(f)}
		case f.Failing:
			c.Failure = &JUnitFailure{Message: f.Message, Type: f.Severity,
				Text: fmt.Sprintf("%s: %s: %s (%s, fails at %s and above)\n", loc, f.Severity, f.Message, f.Slug, failOn)}
		default:
			c.SystemOut = fmt.Sprintf("%s: %s: %s (%s, below --fail-on %s)\n", loc, f.Severity, f.Message, f.Slug, failOn)
		}
		s := suite(file)
		s.Cases = append(s.Cases, c)
	}
	return suites
}

func suppressedBy(f Finding) string {
	if f.Suppression == nil {
		return "suppressed"
	}
	if f.Suppression.Kind == "baseline" {
		return "accepted in the baseline"
	}
	return "suppressed inline: " + f.Suppression.Reason
}
