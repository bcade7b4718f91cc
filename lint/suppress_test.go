package lint_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/lint"
)

func TestSuppressions(t *testing.T) {
	dir := filepath.Join("testdata", "suppress")
	p := load(t, dir)
	golden(t, filepath.Join(dir, "want"), format(lint.Run(p, lint.Options{})))

	// --no-inline-suppressions: the same findings, none suppressed.
	fs := lint.Run(p, lint.Options{NoInlineSuppressions: true})
	golden(t, filepath.Join(dir, "want-no-inline"), format(fs))
	if strings.Contains(format(fs), "suppressed") {
		t.Errorf("suppressed findings despite NoInlineSuppressions:\n%s", format(fs))
	}
}
