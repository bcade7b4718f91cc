package report

import (
	"fmt"
	"io"
	"strings"
)

// GitHub writes active findings as GitHub Actions workflow commands, which annotate the
// pull request: "::error file=policy.cue,line=3,col=5,title=AC010::message". Findings at or
// above the --fail-on threshold are errors, the others warnings (info: notices). Each load
// error of a directory that failed to load is an error titled "agentctl load error".
func GitHub(w io.Writer, r Findings) error {
	for _, e := range r.LoadErrors {
		var props []string
		if e.File != "" {
			props = append(props, "file="+escapeProperty(e.File))
			if e.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d,col=%d", e.Line, e.Column))
			}
		}
		props = append(props, "title="+escapeProperty("agentctl load error"))
		msg := fmt.Sprintf("%s: %s", e.Dir, e.Message)
		if _, err := fmt.Fprintf(w, "::error %s::%s\n", strings.Join(props, ","), escapeData(msg)); err != nil {
			return err
		}
	}
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		level := "warning"
		switch {
		case f.Failing:
			level = "error"
		case f.Severity == "info":
			level = "notice"
		}
		var props []string
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d,col=%d", f.Line, f.Column))
			}
		}
		props = append(props, "title="+escapeProperty(f.Check))
		msg := fmt.Sprintf("%s: %s (%s)", f.Severity, f.Message, f.Slug)
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(msg)); err != nil {
			return err
		}
	}
	return nil
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
