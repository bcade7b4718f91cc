package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestExamplesFormatted: `agentctl fmt --check scenarios/*` passes, whatever examples exist.
func TestExamplesFormatted(t *testing.T) {
	dirs, err := filepath.Glob("../../scenarios/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"fmt", "--check"}, dirs...), &stdout, &stderr); code != exitOK {
		t.Errorf("fmt --check scenarios/*: exit %d; run agentctl fmt on:\n%s%s", code, stdout.String(), stderr.String())
	}
}
