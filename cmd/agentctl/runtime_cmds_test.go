package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// TestCheckCountsTests: check's verdict counts the request-level tests and fails on one.
func TestCheckCountsTests(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "policy.cue"), []byte(failingPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir     string
		code    int
		verdict string
	}{
		{"../../scenarios/secure-baseline", 0, "PASS  lint: no findings · scenarios 5/5 passed · tests 26/26 passed · "},
		{bad, 1, "tests 0/1 passed · "},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"check", "--color", "never", tt.dir}, &out, &errb)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if code != tt.code || !strings.Contains(lines[len(lines)-1], tt.verdict) {
			t.Errorf("%s: exit %d, last line %q; stderr:\n%s", tt.dir, code, lines[len(lines)-1], errb.String())
		}
	}
}
