package lint_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/lint"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestChecks runs each check alone on its cases under testdata/<ID>: every "positive*"
// directory must produce exactly the findings in its want file (position, severity,
// element and message); the "negative" directory must produce none.
func TestChecks(t *testing.T) {
	for _, c := range lint.Checks() {
		t.Run(c.ID, func(t *testing.T) {
			dirs, _ := filepath.Glob(filepath.Join("testdata", c.ID, "positive*"))
			if len(dirs) == 0 {
				t.Fatalf("no positive case under testdata/%s", c.ID)
			}
			for _, dir := range dirs {
				got := format(runCheck(t, dir, c))
				if got == "" {
					t.Errorf("%s: %s did not fire", dir, c.ID)
				}
				goldenFile(t, filepath.Join(dir, "want"), got)
			}
			neg := filepath.Join("testdata", c.ID, "negative")
			if got := format(runCheck(t, neg, c)); got != "" {
				t.Errorf("%s: unexpected findings:\n%s", neg, got)
			}
		})
	}
}

func runCheck(t *testing.T, dir string, c *lint.Check) []lint.Finding {
	return lint.Run(testtool.Load(t, dir), lint.Options{Checks: []*lint.Check{c}})
}

// format renders findings one per line: "policy.cue:3:2: AC001 high agents.a: message",
// with " (suppressed: kind reason)" for suppressed ones.
func format(fs []lint.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s:%d:%d: %s %s %s: %s", filepath.Base(f.Pos.File), f.Pos.Line, f.Pos.Col,
			f.Check.ID, f.Severity, f.Element, f.Message)
		if s := f.Suppression; s != nil {
			fmt.Fprintf(&b, " (suppressed: %s %s)", s.Kind, s.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestToolNamesSharingAPrefix: a tool whose name extends another's with "-" sorts its
// capabilities first; findings must still name the right tool and capabilities.
func TestToolNamesSharingAPrefix(t *testing.T) {
	p := testtool.Load(t, "testdata/prefix-tools")
	got := format(lint.Run(p, lint.Options{Checks: []*lint.Check{lint.SharedToolToken, lint.WriteWithoutJIT, lint.HighRiskWithoutApproval}}))
	want := "policy.cue:5:14: AC005 high tools.crm.auth: tool \"crm\" authenticates with a static_key used by 2 agents: \"a\", \"b\"\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func goldenFile(t *testing.T, path, got string) {
	t.Helper()
	testtool.Golden(t, path, []byte(got), *update)
}
