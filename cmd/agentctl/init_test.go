package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestInitPassesCueVet: the starter policy passes check, and cue itself accepts it with the
// schema copy applied (testdata/script/init.txtar shows cue rejecting what vet rejects).
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
		{"eval", "-e", "agents.triage.credential.revoke_on_task_end", "."}, // a schema default
	} {
		cmd := exec.Command(cue, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cue %v: %v\n%s", args, err, out)
		}
	}
}
