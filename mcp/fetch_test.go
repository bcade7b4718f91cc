package mcp_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/mcp"
)

// server serves the tools of closed.json plus one without annotations, two per page so
// that Fetch must follow the cursor.
func server(t *testing.T) *sdk.Server {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "kv-server", Version: "1.2.3"}, &sdk.ServerOptions{PageSize: 2})
	tools := append(readCatalogue(t, "closed.json").Tools, &sdk.Tool{Name: "flush", Description: "Drops every key.",
		InputSchema: map[string]any{"type": "object"}})
	for _, tool := range tools {
		s.AddTool(tool, func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return &sdk.CallToolResult{}, nil
		})
	}
	return s
}

func checkFetched(t *testing.T, cat *mcp.Catalogue) {
	t.Helper()
	if cat.Server != "kv-server 1.2.3" {
		t.Errorf("server = %q", cat.Server)
	}
	var names []string
	for _, tool := range cat.Tools {
		names = append(names, tool.Name)
	}
	if got, want := len(names), 3; got != want || names[0] != "flush" || names[1] != "get" || names[2] != "put" {
		t.Fatalf("tools = %v", names)
	}
	// What arrives over the wire pins exactly like the file the tools came from.
	file := readCatalogue(t, "closed.json")
	for i, name := range []string{"get", "put"} {
		if got, want := mcp.PinOf(cat.Tool(name)), mcp.PinOf(file.Tools[i]); got != want {
			t.Errorf("%s: pin over the wire %+v, from the file %+v", name, got, want)
		}
	}
	if h := mcp.HintsOf(cat.Tool("flush")); !h.Destructive || !h.OpenWorld || h.ReadOnly {
		t.Errorf("flush hints = %+v, want the MCP defaults", h)
	}
}

func TestFetchInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, ct := sdk.NewInMemoryTransports()
	ss, err := server(t).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cat, err := mcp.Fetch(ctx, ct)
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, cat)
}

// TestFetchStreamableHTTP speaks Streamable HTTP to a Go SDK server on 127.0.0.1.
func TestFetchStreamableHTTP(t *testing.T) {
	s := server(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cat, err := mcp.Fetch(ctx, mcp.HTTP(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, cat)

	// A server that is not there fails with the address, promptly.
	hs.Close()
	if _, err := mcp.Fetch(ctx, mcp.HTTP(hs.URL)); err == nil {
		t.Fatal("Fetch from a closed server succeeded")
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`npx -y @scope/server /srv`:    {"npx", "-y", "@scope/server", "/srv"},
		`node 'a b.js' "c \"d\"" e\ f`: {"node", "a b.js", `c "d"`, "e f"},
		`  x  `:                        {"x"},
		`a''b ""`:                      {"ab", ""},
		`sh -c 'echo $HOME' "\$x \n"`:  {"sh", "-c", "echo $HOME", `$x \n`},
	} {
		got, err := mcp.SplitWords(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("SplitWords(%q) = %q, want %q", in, got, want)
				break
			}
		}
	}
	for _, in := range []string{`a 'b`, `a "b`, `a\`} {
		if _, err := mcp.SplitWords(in); err == nil {
			t.Errorf("SplitWords(%q) succeeded", in)
		}
	}
}
