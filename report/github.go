package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// GitHub writes active findings as GitHub Actions workflow commands, which annotate the
// pull request: "::error file=policy.cue,line=3,col=5,title=AC010::message". Findings at or
// above the --fail-on threshold are errors, the others warnings (info: notices). Each load
// error of a directory that failed to load is an error titled "agentctl load error".
func GitHub(w io.Writer, r Findings) error {
	for _, e := range r.LoadErrors {
		if err := annotation(w, "error", e.File, e.Line, e.Column, "agentctl load error", e.Dir+": "+e.Message); err != nil {
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
		msg := fmt.Sprintf("%s: %s (%s)", f.Severity, f.Message, f.Slug)
		if err := annotation(w, level, f.File, f.Line, f.Column, f.Check, msg); err != nil {
			return err
		}
	}
	return nil
}

// annotation writes one workflow command: "::level file=F,line=L,col=C,title=T::msg", the
// position left out as far as it is unknown.
func annotation(w io.Writer, level, file string, line, col int, title, msg string) error {
	var props []string
	if file != "" {
		props = append(props, "file="+escapeProperty(policy.Escape(file)))
		if line > 0 {
			props = append(props, fmt.Sprintf("line=%d,col=%d", line, col))
		}
	}
	props = append(props, "title="+escapeProperty(policy.Escape(title)))
	_, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(policy.EscapeLines(msg)))
	return err
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
