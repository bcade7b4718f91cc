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
	"reflect"
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
		if cerr := checkTools(data); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("not a tools/list result: %s", plainJSONError(err))
	}
	switch {
	case doc.Error != nil:
		return nil, fmt.Errorf("the document is a JSON-RPC error response (%d: %s), not a tools/list result", doc.Error.Code, policy.Escape(doc.Error.Message))
	case doc.Tools == nil && doc.Result != nil:
		if string(bytes.TrimSpace(doc.Result)) == "null" {
			return nil, errors.New(`not a tools/list result: the JSON-RPC "result" is null, not an object with a "tools" list`)
		}
		// Positions stay those of the file: check the whole response, the result inside it.
		var resp any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&resp); err == nil {
			if err := checkValue(data, resp.(map[string]any)["result"], []string{"result"}, toolsShape); err != nil {
				return nil, err
			}
		}
		data = doc.Result
	case doc.Tools == nil:
		return nil, errors.New(`not a tools/list result: no "tools" list (nor a JSON-RPC "result" holding one)`)
	default:
		if err := checkTools(data); err != nil {
			return nil, err
		}
	}
	var res sdk.ListToolsResult
	if err := json.Unmarshal(data, &res); err != nil {
		// checkTools passed: what is left is the SDK's own, stricter reading.
		return nil, fmt.Errorf("not a tools/list result the MCP SDK reads: %s", plainJSONError(err))
	}
	if res.Tools == nil {
		return nil, errors.New(`not a tools/list result: no "tools" list`)
	}
	return NewCatalogue("", res.Tools)
}

// TimeoutError says which step of talking to a server ran out of time (the context's
// deadline): "initialize" (starting the server and the MCP handshake) or "tools/list".
type TimeoutError struct {
	Step string
}

func (e *TimeoutError) Error() string { return "the server did not answer " + e.Step + " in time" }

// Fetch connects to a server over the transport, lists every tool (following pagination)
// and closes the session. When ctx's deadline passes, the error is a *TimeoutError.
func Fetch(ctx context.Context, t sdk.Transport) (*Catalogue, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "agentctl", Version: "import"}, nil)
	rec := &listRecorder{Transport: t}
	session, err := client.Connect(ctx, rec, nil)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &TimeoutError{Step: "initialize"}
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer session.Close()
	var tools []*sdk.Tool
	params := &sdk.ListToolsParams{}
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("tools/list: more than %d pages", maxPages)
		}
		res, err := session.ListTools(ctx, params)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &TimeoutError{Step: "tools/list"}
		}
		if raw := rec.lastResult(); raw != nil || err == nil {
			// The server's own words first: a null result, or a value of the wrong type.
			if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
				return nil, errors.New(`tools/list: the server's result is null, not an object with a "tools" list`)
			}
			if cerr := checkTools(raw); cerr != nil {
				var pe *PosError
				if errors.As(cerr, &pe) {
					cerr = errors.New(pe.Msg) // a position in the server's message means nothing to the user
				}
				return nil, fmt.Errorf("tools/list: %w", cerr)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tools/list: %s", plainJSONError(err))
		}
		if res == nil || res.Tools == nil {
			// A null result is not an empty catalogue: importing it would drop every tool.
			return nil, errors.New(`tools/list: the server's result is null or has no "tools" list`)
		}
		tools = append(tools, res.Tools...)
		if res.NextCursor == "" {
			break
		}
		params.Cursor = res.NextCursor
	}
	server := ""
	if ir := session.InitializeResult(); ir != nil && ir.ServerInfo != nil {
		server = strings.TrimSpace(ir.ServerInfo.Name + " " + ir.ServerInfo.Version)
	}
	return NewCatalogue(server, tools)
}

// maxPages bounds the pages of a tools/list a server may send (a hostile one could loop).
const maxPages = 1000

// plainJSONError rewrites encoding/json's type errors in the schema's terms: "tools[0].name:
// expected a string, found a number" instead of Go struct and type names.
func plainJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	want := "a value of another type"
	switch te.Type.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Struct, reflect.Map:
		want = "an object"
	case reflect.Slice, reflect.Array:
		want = "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		want = "a number"
	}
	field := "a value"
	if te.Field != "" {
		field = pathText(strings.Split(te.Field, "."))
	}
	// encoding/json says which JSON type it found; the SDK's parser quotes raw bytes instead.
	switch found, _, _ := strings.Cut(te.Value, " "); found {
	case "number", "string", "bool", "array", "object":
		return fmt.Sprintf("%s: expected %s, found %s", field, want, article(found))
	}
	return fmt.Sprintf("%s: expected %s", field, want)
}

func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "bool":
		return "true or false"
	}
	return "a " + kind
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
// backslashes (no variables, globs or pipes); the server's stderr goes to stderr, each line
// prefixed with "mcp server: " so that it is not taken for agentctl's own messages.
func Command(ctx context.Context, cmdline string, stderr io.Writer) (sdk.Transport, error) {
	words, err := SplitWords(cmdline)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, words[0], words[1:]...)
	cmd.Stderr = &prefixWriter{w: stderr, prefix: "mcp server: "}
	return &sdk.CommandTransport{Command: cmd}, nil
}

// prefixWriter writes each line with a prefix. os/exec copies a child's stderr from one
// goroutine, so it needs no lock.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line: the prefix is written
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
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
