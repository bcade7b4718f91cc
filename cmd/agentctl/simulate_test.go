package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckScenarios: check prints the scenario table and fails exactly when an expectation
// fails, saying so in the verdict.
func TestCheckScenarios(t *testing.T) {
	for _, c := range []struct {
		expect string
		failed bool
		line   string
	}{
		{"escalations: 1", false, "1 scenario: 1 passed, 0 failed, 0 without expectations\n"},
		{"escalations: 0", true, "FAIL s: expected 0 escalations, got 1: + t.write via a -delegate-> b\n"},
	} {
		dir := t.TempDir()
		src := `agents: {
	a: grants: [{tool: "t", actions: ["read"]}]
	b: grants: [{tool: "t", actions: ["write"]}]
}
tools: t: {auth: kind: "workload_identity", actions: {read: effect: "read", write: effect: "write"}}
handoffs: [{from: "a", to: "b", mode: "delegate"}]
scenarios: s: {start: "a", expect: ` + c.expect + `}
`
		if err := os.WriteFile(filepath.Join(dir, "policy.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run([]string{"check", "--checks", "AC010", dir}, &out, &errb)
		verdict := "scenarios 1/1 passed · "
		if c.failed {
			verdict = "scenarios 0/1 passed · "
		}
		if (code == 1) != c.failed || !strings.Contains(out.String(), c.line) || !strings.Contains(out.String(), verdict) {
			t.Errorf("expect %s: exit %d, output:\n%s%s", c.expect, code, out.String(), errb.String())
		}
	}
}
