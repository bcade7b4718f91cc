package report

import (
	"fmt"
	"io"

	"github.com/agentctl/agentctl/policy"
)

// Compact writes one line per load error and active finding, "file:line:col: severity ID
// message", as go vet and Regal print theirs: for editors' problem matchers and narrow
// terminals. Suppressed findings are left out. File names are as given on the command line.
func Compact(w io.Writer, r Findings) error {
	for _, e := range r.LoadErrors {
		if _, err := fmt.Fprintf(w, "%s: error %s %s\n", policy.Escape(e.Location()), LoadErrorRule, policy.Escape(e.Message)); err != nil {
			return err
		}
	}
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		at := policy.Escape(f.File) // a file name is user text
		switch {
		case at == "":
			at = noPosition
		case f.Line > 0:
			at = fmt.Sprintf("%s:%d:%d", at, f.Line, f.Column)
		}
		if _, err := fmt.Fprintf(w, "%s: %s %s %s\n", at, f.Severity, f.Check, policy.Escape(f.Message)); err != nil {
			return err
		}
	}
	return nil
}
