package lint_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/lint"
)

// TestDocExamples keeps docs/checks.md honest: each check's example is a complete policy on
// which the check fires, and its fix is one on which it does not.
func TestDocExamples(t *testing.T) {
	for _, c := range lint.Checks() {
		t.Run(c.ID, func(t *testing.T) {
			for _, tc := range []struct {
				name, src string
				fire      bool
			}{{"example", c.Example, true}, {"fix", c.Fix, false}} {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte("package policy\n\n"+tc.src+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				fs := lint.Run(testtool.Load(t, dir), lint.Options{Checks: []*lint.Check{c}})
				if fired := len(fs) > 0; fired != tc.fire {
					t.Errorf("%s: fired = %v, want %v:\n%s\nfindings:\n%s", tc.name, fired, tc.fire, tc.src, format(fs))
				}
			}
		})
	}
}
