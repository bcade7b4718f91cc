package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestInitPassesCueVet: the starter policy is plain CUE that cue itself accepts, and the
// schema copied under cue.mod resolves as an import for editors and cue tooling.
func TestInitPassesCueVet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pol")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"init", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, stderr.String())
	}
	if code := run([]string{"check", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("check of the starter policy: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	cue := testtool.Go(t, "cuelang.org/go/cmd/cue")
	for _, args := range [][]string{
		{"vet", "-c", "."},
		{"eval", "-e", "#Settings.risk_tier", "agentctl.dev/schema"},
	} {
		cmd := exec.Command(cue, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cue %v: %v\n%s", args, err, out)
		}
	}
}
