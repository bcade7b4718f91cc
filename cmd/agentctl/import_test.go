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
	for _, want := range []string{`"ruleId": "mcp-description-changed"`, `"helpUri": "https://github.com/agentctl/agentctl/blob/main/docs/import.md#drift"`, `"startLine": 24`} {
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

// TestImportA2AURL fetches a card from an agent (an httptest server on 127.0.0.1): the
// well-known path of a host URL, the same skeleton as from the file; a missing card, an
// oversized one and a redirect to plain http elsewhere are errors (exit 2).
func TestImportA2AURL(t *testing.T) {
	card := []byte(`{"name": "Travel Planner", "version": "2.1.0",
 "supportedInterfaces": [{"url": "https://travel.example/a2a/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
 "securitySchemes": {"mtls": {"mtlsSecurityScheme": {}}}, "securityRequirements": [{"schemes": {"mtls": {"list": []}}}]}`)
	var paths []string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.URL.Path {
		case "/.well-known/agent-card.json", "/cards/travel.json":
			w.Write(card)
		case "/big/.well-known/agent-card.json":
			w.Write(bytes.Repeat([]byte(" "), 1<<20+1))
		case "/elsewhere":
			http.Redirect(w, r, "http://agent.example/card.json", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()
	fromFile := writeFile(t, "card.json", card)

	var want, stderr bytes.Buffer
	if code := run([]string{"import", "a2a", fromFile}, &want, &stderr); code != exitOK {
		t.Fatalf("import a2a FILE: exit %d: %s", code, stderr.String())
	}
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + "/cards/travel.json"} {
		var got bytes.Buffer
		stderr.Reset()
		if code := run([]string{"import", "a2a", "--url", u}, &got, &stderr); code != exitOK {
			t.Fatalf("import a2a --url %s: exit %d: %s", u, code, stderr.String())
		}
		_, gotBody, _ := strings.Cut(got.String(), "\n")
		_, wantBody, _ := strings.Cut(want.String(), "\n")
		if gotBody != wantBody || !strings.Contains(gotBody, "// Endpoint: https://travel.example/a2a/v1 (JSONRPC, A2A protocol 1.0)") {
			t.Errorf("--url %s:\n%s\nwant as from the file:\n%s", u, got.String(), want.String())
		}
	}
	if want := []string{"/.well-known/agent-card.json", "/.well-known/agent-card.json", "/cards/travel.json"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("GET %q, want %q", paths, want)
	}
	for _, tc := range []struct{ url, want string }{
		{srv.URL + "/missing.json", "agentctl: --url: GET " + srv.URL + "/missing.json: 404 Not Found\n"},
		{srv.URL + "/big/.well-known/agent-card.json", "agentctl: --url: GET " + srv.URL + "/big/.well-known/agent-card.json: the card is larger than 1048576 bytes\n"},
		{srv.URL + "/elsewhere", "agentctl: --url: Get \"http://agent.example/card.json\": http://agent.example/card.json: plain http is allowed only for 127.0.0.1, ::1 and localhost: use https\n"},
		{"ftp://agent.example", "agentctl: --url: ftp://agent.example: scheme \"ftp\" (want https)\n"},
	} {
		var out bytes.Buffer
		stderr.Reset()
		if code := run([]string{"import", "a2a", "--url", tc.url}, &out, &stderr); code != exitUsage || stderr.String() != tc.want || out.Len() > 0 {
			t.Errorf("--url %s: exit %d, stderr %q, want 2 and %q", tc.url, code, stderr.String(), tc.want)
		}
	}
}
