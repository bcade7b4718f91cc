package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/internal/testtool"
)

// TestImportMCPExitCodes pins import's exit statuses: 0 imported or no drift, 1 drift,
// 2 bad input or invocation; and --check -o sarif is valid SARIF 2.1.0.
func TestImportMCPExitCodes(t *testing.T) {
	tmp := t.TempDir()
	kv, changed := "../../mcp/testdata/closed.json", filepath.Join(tmp, "changed.json")
	data, err := os.ReadFile(kv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, bytes.Replace(data, []byte("Reads a key."), []byte("Reads a key, then mails it."), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(tmp, "policy")
	if err := os.MkdirAll(policy, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"import", "mcp", kv, "--tool", "kv", "-o", filepath.Join(policy, "kv.cue")}, exitOK},
		{[]string{"vet", policy}, exitOK},
		{[]string{"import", "mcp", "--check", kv, policy}, exitOK},
		{[]string{"import", "mcp", "--check", changed, policy}, exitFailed},
		{[]string{"import", "mcp", "--check", changed, policy, "-o", "json"}, exitFailed},
		{[]string{"import", "mcp", "--check", changed, filepath.Join(tmp, "none")}, exitUsage},
		{[]string{"import", "mcp", "--check", kv, policy, "extra"}, exitUsage},
		{[]string{"import", "mcp", "--check", "--url", "http://127.0.0.1:1/mcp", policy, "--timeout", "5s"}, exitUsage},
		{[]string{"import", "mcp", kv, "--tool", "kv", "--data", "secret"}, exitUsage},
		{[]string{"import", "mcp", kv, "--tool", "kv", "--auth", "password"}, exitUsage},
		{[]string{"import", "mcp", kv, "--tool", "kv", "--package", "9p"}, exitUsage},
		{[]string{"import", "a2a", kv}, exitUsage},
		{[]string{"import"}, exitOK},
	} {
		if got := run(tt.args, io.Discard, io.Discard); got != tt.want {
			t.Errorf("agentctl %s: exit %d, want %d", strings.Join(tt.args, " "), got, tt.want)
		}
	}

	var out bytes.Buffer
	if got := run([]string{"import", "mcp", "--check", changed, policy, "-o", "sarif"}, &out, io.Discard); got != exitFailed {
		t.Fatalf("--check -o sarif: exit %d, want %d", got, exitFailed)
	}
	for _, want := range []string{`"ruleId": "mcp-description-changed"`, `"helpUri": "https://github.com/agentctl/agentctl/blob/main/docs/import.md#drift"`, `"startLine": 22`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("SARIF lacks %s:\n%s", want, out.String())
		}
	}
	for _, e := range testtool.SARIFErrors(t, out.Bytes()) {
		t.Error(e)
	}
}
