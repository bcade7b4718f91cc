package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/agentctl/agentctl/schema"
)

const failingPolicy = `package p

agents: a: grants: [{tool: "t", actions: ["read"]}]
tools: t: {auth: kind: "workload_identity", actions: read: effect: "read"}
tests: wrong: {
	input: {agent: "a", tool: "t", action: "read"}
	expect: outcome: "deny"
}
`

// TestRuntimeCommandsExitCodes pins the exit statuses of compile, test and explain:
// 0 pass, 1 the policy failed, 2 bad input or invocation.
func TestRuntimeCommandsExitCodes(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "policy.cue"), []byte(failingPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	good := "../../scenarios/support-refunds"
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"test", good}, exitOK},
		{[]string{"test", good, bad}, exitFailed},
		{[]string{"test", "-o", "sarif", good}, exitUsage},
		{[]string{"test", filepath.Join(tmp, "none")}, exitUsage},
		{[]string{"compile", good, "-o", filepath.Join(tmp, "b.tar.gz"), "--verify"}, exitOK},
		{[]string{"compile", bad, "-o", filepath.Join(tmp, "bad.tar.gz"), "--verify"}, exitFailed},
		{[]string{"compile", bad, "-o", filepath.Join(tmp, "bad.tar.gz")}, exitOK},
		{[]string{"compile", filepath.Join(tmp, "none")}, exitUsage},
		{[]string{"compile", bad, "-o", tmp}, exitUsage},
		{[]string{"compile", bad, "-o", filepath.Join(bad, "policy.cue")}, exitUsage},
		{[]string{"explain", good, "--agent", "billing", "--tool", "payments", "--action", "get_charge"}, exitOK},
		{[]string{"explain", good, "--agent", "billing"}, exitUsage},
	} {
		if got := run(tt.args, io.Discard, io.Discard); got != tt.want {
			t.Errorf("agentctl %s: exit %d, want %d", strings.Join(tt.args, " "), got, tt.want)
		}
	}
}

func TestTestForCheck(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "policy.cue"), []byte(failingPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir        string
		wantFailed bool
		summary    string
	}{
		{"../../scenarios/secure-baseline", false, "17 passed, 0 failed\n"},
		{bad, true, "0 passed, 1 failed\n"},
	} {
		p, err := schema.Load(tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&out)
		failed, err := testForCheck(cmd, p)
		if err != nil || failed != tt.wantFailed {
			t.Fatalf("%s: failed %v, err %v", tt.dir, failed, err)
		}
		if !strings.HasSuffix(out.String(), tt.summary) {
			t.Errorf("%s: table:\n%s", tt.dir, out.String())
		}
	}
}
