package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestExplainHelpExamples runs each example of explain's help on the repository's scenarios
// and checks that it gives the decision its comment ("# allow: ...") claims.
func TestExplainHelpExamples(t *testing.T) {
	t.Chdir("../..")
	claim, ran := "", 0
	for _, line := range strings.Split(newExplainCmd().Example, "\n") {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "# "); ok {
			if outcome, _, ok := strings.Cut(c, ":"); ok && !strings.Contains(outcome, " ") {
				claim = outcome
			}
			continue
		}
		args := strings.Fields(line)
		if len(args) < 2 || args[0] != "agentctl" || strings.Contains(line, "--input") {
			continue
		}
		if claim == "" {
			t.Fatalf("example %q has no claimed decision", line)
		}
		var stdout, stderr bytes.Buffer
		if code := run(args[1:], &stdout, &stderr); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", line, code, stderr.String())
		}
		if first, _, _ := strings.Cut(stdout.String(), "\n"); first != "decision: "+claim {
			t.Errorf("%s: %q, its comment claims %s", line, first, claim)
		}
		claim = ""
		ran++
	}
	if ran < 4 {
		t.Errorf("ran %d examples, want at least 4", ran)
	}
}
