package replay_test

import (
	"os"
	"strings"
	"testing"

	"github.com/agentctl/agentctl/replay"
)

// TestReadErrors: every input that is not a recording of its format (given or detected)
// is an error at FILE:LINE:COL saying what was expected and what was found; a UTF-8 BOM is
// accepted.
func TestReadErrors(t *testing.T) {
	otlp, err := os.ReadFile("testdata/support-refunds.otlp.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	const mcp = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kb.search","_meta":{"agentctl/agent":"a"}}}` + "\n"
	const opa = `{"decision_id":"d1","path":"agentctl/decision","input":{"agent":"a","tool":"kb","action":"search"}}` + "\n"
	for _, tc := range []struct {
		name, format, in, want string
	}{
		{"empty", "", "", "t:1:1: empty: holds no trace record"},
		{"blank", "", "\n \n", "t:1:1: empty: holds no trace record"},
		{"empty-otlp", "otlp", "", "t:1:1: empty: expected an OTLP trace export request (resourceSpans)"},
		{"empty-opa", "opa", "\n", "t:1:1: empty: expected an OPA decision log entry (decision_id)"},
		{"empty-mcp", "mcp", "", "t:1:1: empty: expected an MCP JSON-RPC message (jsonrpc)"},
		{"bom-only", "", "\xef\xbb\xbf", "t:1:1: empty: holds no trace record"},
		{"binary", "", "\x00\x01\x02\xff", "t:1:1: cannot tell the trace format: found binary data, not a JSON record"},
		{"binary-otlp", "otlp", "\x00\x01", "t:1:1: expected an OTLP trace export request (resourceSpans), found binary data"},
		{"binary-opa", "opa", opa + "\xff\xfe\n", "t:2:1: expected an OPA decision log entry (decision_id), found binary data"},
		{"array", "", "[1, 2]\n", "t:1:1: cannot tell the trace format: found a JSON array (records are JSON objects), not a JSON record"},
		{"array-mcp", "mcp", "  [" + mcp, "t:1:3: expected an MCP JSON-RPC message (jsonrpc), found a JSON array (records are JSON objects)"},
		{"text", "", "hello\n", "t:1:1: cannot tell the trace format: found plain text, not a JSON record"},
		{"text-mcp", "", mcp + "hello\n", "t:2:1: expected an MCP JSON-RPC message (jsonrpc), found plain text"},
		{"text-otlp", "", string(otlp) + "\nhello\n", "t:20:1: expected an OTLP trace export request (resourceSpans), found plain text"},
		{"mcp-after-otlp", "", string(otlp) + mcp, "t:19:1: expected an OTLP trace export request (resourceSpans), found an MCP JSON-RPC message (jsonrpc)"},
		{"otlp-as-mcp", "mcp", string(otlp), "t:1:1: expected an MCP JSON-RPC message (jsonrpc), found an OTLP trace export request (resourceSpans)"},
		{"otlp-as-opa", "opa", string(otlp), "t:1:1: expected an OPA decision log entry (decision_id), found an OTLP trace export request (resourceSpans)"},
		{"mcp-as-otlp", "otlp", mcp, "t:1:1: expected an OTLP trace export request (resourceSpans), found an MCP JSON-RPC message (jsonrpc)"},
		{"opa-text-only", "opa", "OPA server started\n", "t:1:1: no OPA decision log entry (decision_id) in the input: found plain text"},
		{"unknown-object", "", `{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}`, `t:1:1: cannot tell the trace format: found a JSON object with keys "a", "b", "c", "d", … (want an OTLP trace export request (resourceSpans), an OPA decision log entry (decision_id) or an MCP JSON-RPC message (jsonrpc); or give --format)`},
		{"mcp-syntax", "", mcp + `{"jsonrpc": "2.0", "id": 2,, }` + "\n", "t:2:28: invalid JSON: invalid character ',' looking for beginning of object key string"},
		{"mcp-two-values", "", `{"jsonrpc":"2.0"} {"jsonrpc":"2.0"}`, "t:1:19: more than one JSON value on the line (one record per line)"},
		{"mcp-time", "", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x","_meta":{"agentctl/time":"noon"}}}`, `t:1:86: params._meta["agentctl/time"]: expected an RFC 3339 time (2026-11-27T09:00:07Z), found the string "noon"`},
		{"mcp-args", "", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x","arguments":[1]}}`, `t:1:73: params.arguments: expected an object, found an array`},
		{"mcp-no-name", "", `{"jsonrpc":"2.0","method":"tools/call","params":{}}`, `t:1:49: params.name: missing: a tools/call request names its tool`},
		{"opa-input", "", `{"decision_id":"d","input":"x"}`, `t:1:28: input: expected an object, found the string "x"`},
		{"opa-timestamp", "", `{"decision_id":"d","input":{},"timestamp":"today"}`, `t:1:43: timestamp: expected an RFC 3339 time (2026-11-27T09:00:07Z), found the string "today"`},
		{"otlp-unclosed", "", "{\"resourceSpans\": [\n", "t:1:1: invalid JSON: the request that starts here is not closed before the end of the input"},
		{"otlp-syntax", "", "{\"resourceSpans\": [\n  }\n", "t:2:3: invalid JSON: invalid character '}' looking for beginning of value"},
		{"otlp-trace-id", "", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0000000000000001"}]}]}]}`, `t:1:55: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits (a trace id, 16 bytes), found the string "zz"`},
		{"otlp-snake", "", `{"resource_spans":[{"scope_spans":[{"spans":[{"name":["x"]}]}]}]}`, `t:1:54: resource_spans[0].scope_spans[0].spans[0].name: expected a string, found an array`},
		{"otlp-attr", "", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\n\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"x\"}}]}]}]}]}",
			`t:2:46: resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: expected a 64-bit integer, found the string "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := replay.Read(strings.NewReader(tc.in), "t", replay.ReadOptions{Format: tc.format}, func(replay.Call) error { return nil })
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestReadAccepts: a UTF-8 BOM, an OPA console's own messages before and between entries,
// and a pretty-printed OTLP request are read.
func TestReadAccepts(t *testing.T) {
	const mcp = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kb.search","_meta":{"agentctl/agent":"a"}}}` + "\n"
	const opa = `{"decision_id":"d1","path":"agentctl/decision","input":{"agent":"a","tool":"kb","action":"search"}}` + "\n"
	const pretty = "{\n  \"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [{\"traceId\": \"00000000000000000000000000000001\",\n" +
		"    \"spanId\": \"0000000000000001\", \"attributes\": [{\"key\": \"gen_ai.operation.name\", \"value\": {\"stringValue\": \"execute_tool\"}}]}]}]}]\n}\n"
	for _, tc := range []struct {
		name, format, in string
		calls            int
	}{
		{"bom-mcp", "", "\xef\xbb\xbf" + mcp + mcp, 2},
		{"bom-mcp-given", "mcp", "\xef\xbb\xbf" + mcp, 1},
		{"bom-otlp", "", "\xef\xbb\xbf" + pretty, 1},
		{"opa-console", "", "OPA server started\n" + opa + `{"level":"info","msg":"Server initialized."}` + "\n[INFO] text\n" + opa, 2},
		{"opa-other-query", "opa", opa + `{"decision_id":"d2","path":"other/rule","input":{}}` + "\n", 1},
		{"mcp-responses", "", `{"jsonrpc":"2.0","id":1,"result":{}}` + "\n", 0},
		{"pretty-otlp", "", pretty + pretty, 2},
		{"otlp-two-per-line", "otlp", strings.ReplaceAll(pretty, "\n", "") + strings.ReplaceAll(pretty, "\n", ""), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := replay.Read(strings.NewReader(tc.in), "t", replay.ReadOptions{Format: tc.format}, func(replay.Call) error { n++; return nil })
			if err != nil || n != tc.calls {
				t.Errorf("read %d calls, want %d: %v", n, tc.calls, err)
			}
		})
	}
}
