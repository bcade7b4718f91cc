package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// FindingsJUnit writes one test suite per policy file and one test case per check in it; a
// case fails when the check has active findings in the file.
func FindingsJUnit(w io.Writer, r Findings) error {
	byFile := map[string]map[string][]Finding{}
	files := append([]string(nil), r.Files...)
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		if byFile[f.File] == nil {
			byFile[f.File] = map[string][]Finding{}
		}
		byFile[f.File][f.Check] = append(byFile[f.File][f.Check], f)
	}
	for file := range byFile {
		if !slices.Contains(files, file) {
			files = append(files, file)
		}
	}
	sort.Strings(files)
	report := JUnit{Name: "agentctl lint"}
	for _, file := range files {
		name := file
		if name == "" {
			name = noPosition
		}
		suite := JUnitSuite{Name: name}
		for _, rule := range r.Rules {
			c := JUnitCase{Name: rule.ID + " " + rule.Slug, Classname: name}
			if fs := byFile[file][rule.ID]; len(fs) > 0 {
				var text strings.Builder
				for _, f := range fs {
					loc := name
					if f.Line > 0 {
						loc = fmt.Sprintf("%s:%d:%d", name, f.Line, f.Column)
					}
					fmt.Fprintf(&text, "%s: %s: %s [%s]\n", loc, f.Severity, f.Message, f.Element)
				}
				msg := fs[0].Message
				if len(fs) > 1 {
					msg = fmt.Sprintf("%d findings; first: %s", len(fs), msg)
				}
				c.Failure = &JUnitFailure{Message: msg, Type: highest(fs), Text: text.String()}
			}
			suite.Cases = append(suite.Cases, c)
		}
		report.Suites = append(report.Suites, suite)
	}
	return WriteJUnit(w, report)
}

// highest returns the most severe severity among fs.
func highest(fs []Finding) string {
	order := []string{"info", "low", "medium", "high", "critical"}
	rank := func(s string) int { return slices.Index(order, s) }
	best := fs[0].Severity
	for _, f := range fs[1:] {
		if rank(f.Severity) > rank(best) {
			best = f.Severity
		}
	}
	return best
}
