package lint_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/lint"
)

func TestSuppressions(t *testing.T) {
	dir := filepath.Join("testdata", "suppress")
	p := testtool.Load(t, dir)
	goldenFile(t, filepath.Join(dir, "want"), format(lint.Run(p, lint.Options{})))

	// --no-inline-suppressions: the same findings, none suppressed.
	fs := lint.Run(p, lint.Options{NoInlineSuppressions: true})
	goldenFile(t, filepath.Join(dir, "want-no-inline"), format(fs))
	if strings.Contains(format(fs), "suppressed") {
		t.Errorf("suppressed findings despite NoInlineSuppressions:\n%s", format(fs))
	}
}

func TestRoot(t *testing.T) {
	for path, want := range map[string]string{
		"agents.a.grants[2]":    "agents.a",
		"agents.a":              "agents.a",
		"handoffs[3]":           "handoffs[3]",
		"settings.audit.chains": "settings.audit",
		"agents":                "agents",
		"":                      "",
	} {
		if got := lint.Root(path); got != want {
			t.Errorf("root(%q) = %q, want %q", path, got, want)
		}
	}
}

// An @ignore on a whole section covers every element in it.
func TestSuppressSection(t *testing.T) {
	fs := lintSource(t, `package policy

agents: {
	@ignore("missing-owner", "owners are tracked in the CMDB")
	a: {}
	b: {}
}
`)
	var got []string
	for _, f := range fs {
		if f.Check.ID == "AC051" {
			got = append(got, f.Element+" "+fmt.Sprint(f.Suppressed()))
		}
	}
	if strings.Join(got, "; ") != "agents.a true; agents.b true" {
		t.Errorf("AC051 findings: %v", got)
	}
}
