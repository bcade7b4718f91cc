package mcp_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue/format"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/internal/testtool"
	"github.com/agentctl/agentctl/lint"
	"github.com/agentctl/agentctl/mcp"
	"github.com/agentctl/agentctl/policy"
	"github.com/agentctl/agentctl/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readCatalogue(t *testing.T, name string) *mcp.Catalogue {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := mcp.Read(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return cat
}

// TestGenerateGolden imports tools/list documents covering every hint combination and holds
// the output to golden files, to CUE's own formatting, and to the schema (it loads).
func TestGenerateGolden(t *testing.T) {
	for _, tc := range []struct {
		golden, input string
		opts          mcp.Options
	}{
		{"hints.cue", "tools.json", mcp.Options{Tool: "kitchen-sink", From: "tools.json"}},
		{"ignore_hints.cue", "tools.json", mcp.Options{Tool: "kitchen-sink", From: "tools.json", IgnoreHints: true, Source: "third_party"}},
		{"closed.cue", "closed.json", mcp.Options{Tool: "kv", From: "closed.json", Package: "policy", Data: "internal", Auth: "ephemeral_token", Source: "internal"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, err := mcp.Generate(readCatalogue(t, tc.input), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			testtool.Golden(t, filepath.Join("testdata", "golden", tc.golden), out, *update)
			formatted, err := format.Source(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(formatted, out) {
				t.Errorf("output is not as cue fmt writes it:\n%s", formatted)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "tools.cue"), out, 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := schema.Load(dir)
			if err != nil {
				t.Fatalf("the generated policy does not load: %v", err)
			}
			for _, f := range lint.Run(p, lint.Options{Checks: []*lint.Check{lint.MCPToolUnpinned}}) {
				t.Errorf("AC041 fires on an import: %s", f.Message)
			}
			// The pins recorded are the catalogue's, and nothing drifts against itself.
			if d := mcp.Compare(readCatalogue(t, tc.input), p, p.Tools[0]); len(d) != 0 {
				t.Errorf("an import drifts from its own catalogue: %+v", d)
			}
		})
	}
}

// TestEffectOf is the mapping table of docs/import.md.
func TestEffectOf(t *testing.T) {
	T, F := true, false
	for _, tc := range []struct {
		ann       *sdk.ToolAnnotations
		effect    string
		openWorld bool
		hintsWant policy.Hints
	}{
		{nil, "delete", true, policy.Hints{Destructive: true, OpenWorld: true}},
		{&sdk.ToolAnnotations{}, "delete", true, policy.Hints{Destructive: true, OpenWorld: true}},
		{&sdk.ToolAnnotations{ReadOnlyHint: true}, "read", true, policy.Hints{ReadOnly: true, Destructive: true, OpenWorld: true}},
		{&sdk.ToolAnnotations{ReadOnlyHint: true, DestructiveHint: &F, OpenWorldHint: &F}, "read", false, policy.Hints{ReadOnly: true}},
		{&sdk.ToolAnnotations{DestructiveHint: &F}, "write", true, policy.Hints{OpenWorld: true}},
		{&sdk.ToolAnnotations{DestructiveHint: &F, IdempotentHint: true, OpenWorldHint: &F}, "write", false, policy.Hints{Idempotent: true}},
		{&sdk.ToolAnnotations{DestructiveHint: &T, OpenWorldHint: &T}, "delete", true, policy.Hints{Destructive: true, OpenWorld: true}},
		{&sdk.ToolAnnotations{OpenWorldHint: &F}, "delete", false, policy.Hints{Destructive: true}},
	} {
		h := mcp.HintsOf(&sdk.Tool{Name: "x", Annotations: tc.ann})
		if h != tc.hintsWant || mcp.EffectOf(h) != tc.effect || h.OpenWorld != tc.openWorld {
			t.Errorf("%+v: hints %+v effect %s, want %+v %s", tc.ann, h, mcp.EffectOf(h), tc.hintsWant, tc.effect)
		}
	}
}

func TestActionName(t *testing.T) {
	for in, want := range map[string]string{
		"read_file":      "read_file",
		"listFiles":      "list_files",
		"getHTTPStatus":  "get_httpstatus",
		"fs.delete-Tree": "fs_delete-tree",
		"2fa_reset":      "t_2fa_reset",
		"_private":       "t__private",
		"Ünïcode":        "t__n_code",
	} {
		if got := mcp.ActionName(in); got != want {
			t.Errorf("ActionName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	for in, want := range map[string]string{
		`[]`: "not a tools/list result: want a JSON object",
		``:   "not a tools/list result: want a JSON object",
		`{}`: `not a tools/list result: no "tools" list (nor a JSON-RPC "result" holding one)`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}`: "the document is a JSON-RPC error response (-32601: no), not a tools/list result",
		`{"tools":[{"name":"a"},{"name":"a"}]}`:                           `tool "a" is listed twice`,
		`{"tools":[{"description":"x"}]}`:                                 `1:11: tools[0]: "name" is missing`,
		`{"result":{"nextCursor":"x"}}`:                                   `1:11: result: "tools" is missing`,
		// No Go type in any message (the outside campaign's import-gotype reproducers).
		`{"tools": [{"name": 5, "inputSchema": {}}, {"name": "x", "description": ["a"], "inputSchema": "s"}]}`:                                            `1:21: tools[0].name: expected a string, found the number 5`,
		`{"tools": [{"name": "x", "description": "d", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": "yes", "destructiveHint": 1}}]}`: `1:139: tools[0].annotations.destructiveHint: expected true or false, found the number 1`,
		"{\"tools\": [\n  {\"name\": \"x\", \"outputSchema\": true}]}":                                                                                    `2:33: tools[0].outputSchema: expected an object, found true`,
		`{"tools": [{"name": "x", "_meta": []}]}`:                                                                                                         `1:35: tools[0]._meta: expected an object, found an array`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b","title":7}]}}`:                                                               `1:77: result.tools[1].title: expected a string, found the number 7`,
		`{"tools": null}`:                        `1:11: tools: expected an array, found null`,
		`{"jsonrpc":"2.0","id":1,"result":null}`: `not a tools/list result: the JSON-RPC "result" is null, not an object with a "tools" list`,
		`{"tools": [`:                            `1:12: invalid JSON: the document ends before its value is complete`,
		`{"tools": [}`:                           `1:12: invalid JSON: invalid character '}' looking for beginning of value`,
	} {
		_, err := mcp.Read(bytes.NewReader([]byte(in)))
		if err == nil || err.Error() != want {
			t.Errorf("Read(%s) = %v, want %s", in, err, want)
		}
	}
}
