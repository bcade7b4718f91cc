package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// FindingsTable writes active findings as one table per file (severity, ID, location,
// message, plus a column per framework asked for) and a summary line. Suppressed findings
// are only counted.
func FindingsTable(w io.Writer, r Findings, frameworks []string, unicode bool) error {
	header := []string{"severity", "ID", "location", "message"}
	for _, fw := range frameworks {
		header = append(header, FrameworkTitle(fw))
	}
	var rows [][]string
	file := ""
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		name := policy.Escape(file) // a file name is user text
		if name == "" {
			name = noPosition
		}
		if _, err := fmt.Fprintln(w, name); err != nil {
			return err
		}
		if err := Table(w, header, rows, unicode); err != nil {
			return err
		}
		rows = nil
		_, err := fmt.Fprintln(w)
		return err
	}
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		if f.File != file {
			if err := flush(); err != nil {
				return err
			}
			file = f.File
		}
		loc := "-"
		if f.Line > 0 {
			loc = fmt.Sprintf("%d:%d", f.Line, f.Column)
		}
		row := []string{f.Severity, f.Check, loc, f.Message}
		for _, fw := range frameworks {
			row = append(row, refs(f.Frameworks.Get(fw)))
		}
		rows = append(rows, row)
	}
	if err := flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, SummaryLine(r.Summary()))
	return err
}

// SummaryLine is the one-line summary under a findings table:
// "3 findings: 1 critical, 2 high; 1 suppressed" or "no findings".
func SummaryLine(s Summary) string {
	var b strings.Builder
	if s.Total == 0 {
		b.WriteString("no findings")
	} else {
		b.WriteString(plural(s.Total, "finding"))
	}
	if c := severityCounts(s); c != "" {
		b.WriteString(": " + c)
	}
	if s.Suppressed > 0 {
		fmt.Fprintf(&b, "; %d suppressed", s.Suppressed)
	}
	return b.String()
}
