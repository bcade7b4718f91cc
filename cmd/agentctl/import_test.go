package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

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

// TestImportMCPURL imports over Streamable HTTP from a Go SDK server on 127.0.0.1 serving the
// tools of a file: the block is the file's, apart from the header naming the source and the
// server's name.
func TestImportMCPURL(t *testing.T) {
	const file = "../../mcp/testdata/closed.json"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Result struct {
			Tools []*sdk.Tool `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	server := sdk.NewServer(&sdk.Implementation{Name: "kv", Version: "0.1.0"}, nil)
	for _, tool := range doc.Result.Tools {
		server.AddTool(tool, func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return &sdk.CallToolResult{}, nil
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return server }, nil))
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	defer hs.Close()

	var fromURL, fromFile, stderr bytes.Buffer
	if code := run([]string{"import", "mcp", "--url", hs.URL, "--tool", "kv"}, &fromURL, &stderr); code != exitOK {
		t.Fatalf("import --url: exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"import", "mcp", file, "--tool", "kv"}, &fromFile, &stderr); code != exitOK {
		t.Fatalf("import FILE: exit %d: %s", code, stderr.String())
	}
	wantHeader := "// Imported by agentctl import mcp from " + hs.URL + ".\n// Server: kv 0.1.0.\n"
	if !strings.HasPrefix(fromURL.String(), wantHeader) {
		t.Errorf("header:\n%s\nwant prefix\n%s", fromURL.String(), wantHeader)
	}
	// From the comment above external on; the fields above it align differently when the
	// server's name adds a description.
	body := func(s string) string {
		_, after, _ := strings.Cut(s, "\n\t// 0 of 2 tools")
		return after
	}
	if got, want := body(fromURL.String()), body(fromFile.String()); got != want || got == "" {
		t.Errorf("--url block differs from the file's:\n%s\nwant\n%s", got, want)
	}
	stderr.Reset()
	if code := run([]string{"import", "mcp", "--check", "--url", hs.URL, "--tool", "kv", filepath.Dir(writeFile(t, "kv.cue", fromFile.Bytes()))}, io.Discard, &stderr); code != exitOK {
		t.Errorf("--check --url against its own import: exit %d: %s", code, stderr.String())
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
