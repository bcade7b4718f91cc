// Package mcp reads tool catalogues from MCP servers (through the official Go SDK), maps them
// to agentctl tool blocks with one pinned action per MCP tool, and compares a fresh catalogue
// with the pins of a policy (drift: rug pulls and tool poisoning). It also reads A2A Agent
// Cards, the other description agents publish of themselves, into agents: skeletons.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/policy"
)

// Catalogue is the tools/list result of one MCP server.
type Catalogue struct {
	Server string      // "name version" from the server's initialize result; empty for files
	Tools  []*sdk.Tool // sorted by name, names unique
}

// Tool returns the named tool, or nil.
func (c *Catalogue) Tool(name string) *sdk.Tool {
	i, ok := slices.BinarySearchFunc(c.Tools, name, func(t *sdk.Tool, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return nil
	}
	return c.Tools[i]
}

// Read decodes a tools/list result: the result object ({"tools": [...]}) or a whole
// JSON-RPC response holding it ({"jsonrpc": "2.0", "id": 1, "result": {"tools": [...]}}).
func Read(r io.Reader) (*Catalogue, error) {
	data, err := readObject(r, "a tools/list result")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Tools  json.RawMessage `json:"tools"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a tools/list result: %w", err)
	}
	switch {
	case doc.Error != nil:
		return nil, fmt.Errorf("the document is a JSON-RPC error response (%d: %s), not a tools/list result", doc.Error.Code, policy.Escape(doc.Error.Message))
	case doc.Tools == nil && doc.Result != nil:
		data = doc.Result
	case doc.Tools == nil:
		return nil, errors.New(`not a tools/list result: no "tools" list (nor a JSON-RPC "result" holding one)`)
	}
	var res sdk.ListToolsResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("not a tools/list result: %w", err)
	}
	if res.Tools == nil {
		return nil, errors.New(`not a tools/list result: no "tools" list`)
	}
	return NewCatalogue("", res.Tools)
}

// Fetch connects to a server over the transport, lists every tool (following pagination)
// and closes the session.
func Fetch(ctx context.Context, t sdk.Transport) (*Catalogue, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "agentctl", Version: "import"}, nil)
	session, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer session.Close()
	var tools []*sdk.Tool
	for tool, err := range session.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("tools/list: %w", err)
		}
		tools = append(tools, tool)
	}
	server := ""
	if ir := session.InitializeResult(); ir != nil && ir.ServerInfo != nil {
		server = strings.TrimSpace(ir.ServerInfo.Name + " " + ir.ServerInfo.Version)
	}
	return NewCatalogue(server, tools)
}

// readObject reads a JSON document that must be an object, for a clear error on anything
// else (encoding/json's would name Go types).
func readObject(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("not %s: want a JSON object", what)
	}
	return data, nil
}

// NewCatalogue sorts tools by name and checks that names are present and unique.
func NewCatalogue(server string, tools []*sdk.Tool) (*Catalogue, error) {
	tools = slices.DeleteFunc(slices.Clone(tools), func(t *sdk.Tool) bool { return t == nil })
	slices.SortFunc(tools, func(a, b *sdk.Tool) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range tools {
		if t.Name == "" {
			return nil, errors.New("a tool has no name")
		}
		if i > 0 && tools[i-1].Name == t.Name {
			return nil, fmt.Errorf("tool %q is listed twice", t.Name)
		}
	}
	return &Catalogue{Server: server, Tools: tools}, nil
}

// Command returns a transport that starts the server as a subprocess and speaks MCP over its
// stdin and stdout. cmdline is split into words like a shell does for quotes and
// backslashes (no variables, globs or pipes); the server's stderr goes to stderr.
func Command(ctx context.Context, cmdline string, stderr io.Writer) (sdk.Transport, error) {
	words, err := SplitWords(cmdline)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, words[0], words[1:]...)
	cmd.Stderr = stderr
	return &sdk.CommandTransport{Command: cmd}, nil
}

// HTTP returns a Streamable HTTP transport to the server at url.
func HTTP(url string) sdk.Transport {
	return &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true}
}

// SplitWords splits a command line into words: blanks separate words, single quotes keep
// everything literally, double quotes and backslashes work as in a POSIX shell.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   bytes.Buffer
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' in command")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errors.New(`unterminated " in command`)
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New(`command ends with \`)
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(c)
		}
		in = true
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
