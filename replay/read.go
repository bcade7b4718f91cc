package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/internal/jsonpos"
	"github.com/agentctl/agentctl/policy"
)

// ReadOptions are what a recording may lack.
type ReadOptions struct {
	Format string // FormatOTLP, FormatOPALog, FormatMCP, or "" to detect it from the content
	Agent  string // MCP: the calling agent when a message names none
}

// Read streams the tool calls recorded in r (named file in messages) to emit, in the order
// they were made within each session. Every input error names FILE:LINE:COL; an input that
// holds no record of its format (given or detected) is an error, so a gate never passes on
// the wrong file.
func Read(r io.Reader, file string, opts ReadOptions, emit func(Call) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	skipBOM(br)
	format := opts.Format
	if format == "" {
		var err error
		if format, err = detect(br, file); err != nil {
			return err
		}
	}
	switch format {
	case FormatOTLP:
		return readOTLP(br, file, emit)
	case FormatOPALog:
		return readOPALog(br, file, emit)
	case FormatMCP:
		return readMCP(br, file, opts.Agent, emit)
	}
	return fmt.Errorf("unknown trace format %q (want otlp, opa or mcp)", format)
}

// detect tells the format by the keys of the first JSON object: OTLP requests hold
// resourceSpans, decision logs decision_id or result, MCP messages jsonrpc. Lines before it
// that are not JSON (an OPA console's own messages) are passed over here; the format's
// reader decides whether they are allowed.
func detect(br *bufio.Reader, file string) (string, error) {
	head, _ := br.Peek(1 << 16)
	firstLine, firstText := 0, []byte(nil)
	for n, off := 1, 0; off < len(head); n++ {
		end := len(head)
		if i := bytes.IndexByte(head[off:], '\n'); i >= 0 {
			end = off + i
		}
		line := head[off:end]
		lineStart := off
		off = end + 1
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 {
			continue
		}
		if trimmed[0] != '{' {
			if firstLine == 0 {
				firstLine, firstText = n, line
			}
			continue
		}
		// The object may run past this line (pretty-printed OTLP): read its keys from here on.
		keys, _ := topKeys(head[lineStart:])
		for _, k := range keys {
			switch k {
			case "resourceSpans", "resource_spans":
				return FormatOTLP, nil
			case "decision_id", "result", "bundles":
				return FormatOPALog, nil
			case "jsonrpc":
				return FormatMCP, nil
			}
		}
		return "", posError(file, n, column(line, bytes.IndexByte(line, '{')), "cannot tell the trace format: found %s (want an %s, an %s or an %s; or give --format)",
			describe(line), formatRecord[FormatOTLP], formatRecord[FormatOPALog], formatRecord[FormatMCP])
	}
	if firstLine == 0 {
		return "", posError(file, 1, 1, "empty: holds no trace record")
	}
	return "", posError(file, firstLine, 1, "cannot tell the trace format: found %s, not a JSON record", describe(firstText))
}

// readLines calls fn with each non-blank line and its number.
func readLines(br *bufio.Reader, fn func(line []byte, n int) error) error {
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(bytes.TrimRight(line, "\r\n"), n); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
}

// noRecord is the error for an input without a record of its format: what it held instead.
func noRecord(file, format string, firstLine int, first []byte) error {
	if firstLine == 0 {
		return posError(file, 1, 1, "empty: expected an %s", formatRecord[format])
	}
	return posError(file, firstLine, 1, "no %s in the input: found %s", formatRecord[format], describe(first))
}

// readOPALog reads OPA decision log entries, one JSON object per line (as the console or a
// log service writes them). OPA's console mixes in its own messages: lines that are not
// JSON objects (plain text) and objects without decision_id are skipped, and so are entries
// of other queries than the agentctl decision. A line holding another recording's record,
// or a log without any decision entry, is an error.
func readOPALog(br *bufio.Reader, file string, emit func(Call) error) error {
	entries, firstLine := 0, 0
	var first []byte
	err := readLines(br, func(line []byte, n int) error {
		if firstLine == 0 {
			firstLine, first = n, bytes.Clone(line)
		}
		if trimmed := bytes.TrimSpace(line); trimmed[0] != '{' {
			if describe(trimmed) == "binary data" {
				return posError(file, n, 1, "expected an %s, found binary data", formatRecord[FormatOPALog])
			}
			return nil
		}
		r, err := decodeRecord(file, n, line)
		if err != nil {
			return err
		}
		if _, ok := r.get("decision_id"); !ok {
			if hasKey(line, "resourceSpans", "resource_spans", "jsonrpc") {
				return posError(file, n, column(line, jsonpos.Locate(line, nil)), "expected an %s, found %s", formatRecord[FormatOPALog], describe(line))
			}
			return nil
		}
		entries++
		return opaLogCall(r, emit)
	})
	if err != nil {
		return err
	}
	if entries == 0 {
		return noRecord(file, FormatOPALog, firstLine, first)
	}
	return nil
}

// opaLogCall reads one OPA decision log entry; the logged result is kept to compare with.
func opaLogCall(r *lineRecord, emit func(Call) error) error {
	if _, err := r.str("decision_id"); err != nil {
		return err
	}
	path, err := r.str("path")
	if err != nil {
		return err
	}
	// Only entries of the agentctl decision count.
	if path != "" && path != compile.Entrypoint && path != compile.Query {
		return nil
	}
	in, err := r.object("input")
	if err != nil {
		return err
	}
	if in == nil {
		return r.errorAt(nil, "decision log entry has no input object")
	}
	c := Call{Source: r.src(), Request: in, Session: r.file}
	if task, ok := in["task"].(string); ok {
		c.Session = task
	}
	c.Agent, _ = in["agent"].(string)
	c.Chain = stringsOf(in["chain"])
	if ts, ok := in["now"].(string); ok {
		c.Time, _ = time.Parse(time.RFC3339, ts)
	}
	ts, err := r.str("timestamp")
	if err != nil {
		return err
	}
	if c.Time.IsZero() && ts != "" {
		// The engine decided at the log's time when the request had no "now".
		if c.Time, err = parseTime(r, ts, "timestamp"); err != nil {
			return err
		}
	}
	if res, ok := r.get("result"); ok {
		if d, err := compile.DecodeDecision(res); err == nil {
			c.Logged = &d
		}
	}
	return emit(c)
}

// parseTime reads an RFC 3339 time at field path.
func parseTime(r *lineRecord, s string, path ...string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, r.errorAt(path, "%s: expected an RFC 3339 time (2026-11-27T09:00:07Z), found %s", fieldName(path), jsonpos.Kind(s))
	}
	return t, nil
}

// readMCP reads MCP JSON-RPC messages, one per line; only tools/call requests are calls.
// A line that is not a JSON-RPC message is an error.
func readMCP(br *bufio.Reader, file, agent string, emit func(Call) error) error {
	messages := 0
	err := readLines(br, func(line []byte, n int) error {
		if trimmed := bytes.TrimSpace(line); trimmed[0] != '{' {
			return posError(file, n, column(line, len(line)-len(bytes.TrimLeft(line, " \t"))), "expected an %s, found %s", formatRecord[FormatMCP], describe(trimmed))
		}
		r, err := decodeRecord(file, n, line)
		if err != nil {
			return err
		}
		if _, ok := r.get("jsonrpc"); !ok {
			return posError(file, n, column(line, jsonpos.Locate(line, nil)), "expected an %s, found %s", formatRecord[FormatMCP], describe(line))
		}
		messages++
		return mcpCall(r, agent, emit)
	})
	if err != nil {
		return err
	}
	if messages == 0 {
		return noRecord(file, FormatMCP, 0, nil)
	}
	return nil
}

// mcpCall reads one MCP JSON-RPC message; only tools/call requests are calls. The agent,
// chain, session and time come from params._meta (agentctl/agent, agentctl/chain,
// agentctl/session, agentctl/time), the agent else from --agent.
func mcpCall(r *lineRecord, agent string, emit func(Call) error) error {
	method, err := r.str("method")
	if err != nil || method != "tools/call" {
		return err
	}
	if _, err := r.object("params"); err != nil {
		return err
	}
	name, err := r.str("params", "name")
	if err != nil {
		return err
	}
	if _, ok := r.get("params", "name"); !ok {
		return r.errorAt([]string{"params"}, "params.name: missing: a tools/call request names its tool")
	}
	args, err := r.object("params", "arguments")
	if err != nil {
		return err
	}
	if _, err := r.object("params", "_meta"); err != nil {
		return err
	}
	id, _ := r.get("id")
	c := Call{Source: r.src(), Name: name, Arguments: args, Agent: agent, Session: r.file, CallID: rpcID(id)}
	meta := func(key string) []string { return []string{"params", "_meta", key} }
	if a, err := r.str(meta("agentctl/agent")...); err != nil {
		return err
	} else if a != "" {
		c.Agent = a
	}
	if c.Chain, err = r.strings(meta("agentctl/chain")...); err != nil {
		return err
	}
	if n := len(c.Chain); n > MaxChain {
		c.Chain, c.LongChain = c.Chain[n-MaxChain:], n
	}
	if s, err := r.str(meta("agentctl/session")...); err != nil {
		return err
	} else if s != "" {
		c.Session = s
	}
	ts, err := r.str(meta("agentctl/time")...)
	if err != nil {
		return err
	}
	if ts != "" {
		if c.Time, err = parseTime(r, ts, meta("agentctl/time")...); err != nil {
			return err
		}
	}
	return emit(c)
}

// rpcID is a JSON-RPC id as text: a string's value, a number's digits; empty when absent
// or of another type.
func rpcID(v any) string {
	switch id := v.(type) {
	case string:
		return id
	case json.Number:
		return id.String()
	}
	return ""
}

// stringsOf returns a JSON array of strings, or nil.
func stringsOf(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// Summary counts the outcomes of a replay.
type Summary struct {
	Calls         int `json:"calls"`
	Allow         int `json:"allow"`
	Deny          int `json:"deny"`
	NeedsApproval int `json:"needs_approval"`
	NotReplayable int `json:"not_replayable"`
	Flips         int `json:"flips"`
	// Assumed counts the calls whose request had a field filled by assumption, by field.
	Assumed map[string]int `json:"assumed"`
}

// Add counts r.
func (s *Summary) Add(r *Result) {
	s.Calls++
	switch r.Outcome() {
	case policy.OutcomeAllow:
		s.Allow++
	case policy.OutcomeDeny:
		s.Deny++
	case policy.OutcomeNeedsApproval:
		s.NeedsApproval++
	default:
		s.NotReplayable++
	}
	if r.Flipped() {
		s.Flips++
	}
	if s.Assumed == nil {
		s.Assumed = map[string]int{}
	}
	for _, a := range r.Assumed {
		s.Assumed[a]++
	}
}
