package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/schema"
)

// TestSimulateForCheck checks the hook `agentctl check` calls: the default table on stdout
// and failed set exactly when an expectation fails.
func TestSimulateForCheck(t *testing.T) {
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
		p, err := schema.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&out)
		failed, err := simulateForCheck(cmd, p)
		if err != nil {
			t.Fatal(err)
		}
		if failed != c.failed || !strings.Contains(out.String(), c.line) || !strings.HasPrefix(out.String(), "+----") {
			t.Errorf("expect %s: failed=%v, output:\n%s", c.expect, failed, out.String())
		}
	}
}
