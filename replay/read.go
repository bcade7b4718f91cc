package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentctl/agentctl/compile"
	"github.com/agentctl/agentctl/policy"
)

// ReadOptions are what a recording may lack.
type ReadOptions struct {
	Format string // FormatOTLP, FormatOPALog, FormatMCP, or "" to detect it from the content
	Agent  string // MCP: the calling agent when a message names none
}

// Read streams the tool calls recorded in r (named file in messages) to emit, in the order
// they were made within each session.
func Read(r io.Reader, file string, opts ReadOptions, emit func(Call) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	format := opts.Format
	if format == "" {
		var err error
		if format, err = detect(br); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	switch format {
	case FormatOTLP:
		return readOTLP(br, file, emit)
	case FormatOPALog:
		return readLines(br, file, func(line []byte, src string) error { return opaLogCall(line, src, file, emit) })
	case FormatMCP:
		return readLines(br, file, func(line []byte, src string) error { return mcpCall(line, src, file, opts.Agent, emit) })
	}
	return fmt.Errorf("unknown trace format %q (want otlp, opa or mcp)", format)
}

// detect tells the format by the first object's keys: OTLP requests hold resourceSpans,
// decision logs decision_id or result, MCP messages jsonrpc.
func detect(br *bufio.Reader) (string, error) {
	head, _ := br.Peek(1 << 16)
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fmt.Errorf("not a JSON object: cannot tell the trace format (use --format)")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		switch t {
		case "resourceSpans", "resource_spans":
			return FormatOTLP, nil
		case "decision_id", "result", "bundles":
			return FormatOPALog, nil
		case "jsonrpc":
			return FormatMCP, nil
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return "", fmt.Errorf("cannot tell the trace format from the first record (use --format)")
}

// readLines calls fn with each non-blank line and its "FILE:LINE".
func readLines(br *bufio.Reader, file string, fn func(line []byte, src string) error) error {
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line, fmt.Sprintf("%s:%d", file, n)); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
}

func decodeLine(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	return dec.Decode(v)
}

// opaLogCall reads one OPA decision log entry (as the console or a log service receives
// them). Other lines and entries of other queries than the agentctl decision are skipped;
// the logged result is kept to compare with.
func opaLogCall(line []byte, src, file string, emit func(Call) error) error {
	var e struct {
		DecisionID string         `json:"decision_id"`
		Path       string         `json:"path"`
		Input      map[string]any `json:"input"`
		Result     any            `json:"result"`
		Timestamp  string         `json:"timestamp"`
	}
	if err := decodeLine(line, &e); err != nil {
		return fmt.Errorf("%s: decision log entry: %w", src, err)
	}
	// OPA's console log interleaves its own messages; only decision entries count, and only
	// those of the agentctl decision.
	if e.DecisionID == "" || e.Path != "" && e.Path != compile.Entrypoint && e.Path != compile.Query {
		return nil
	}
	if e.Input == nil {
		return fmt.Errorf("%s: decision log entry has no input object", src)
	}
	c := Call{Source: src, Request: e.Input, Session: file}
	if task, ok := e.Input["task"].(string); ok {
		c.Session = task
	}
	c.Agent, _ = e.Input["agent"].(string)
	c.Chain = stringsOf(e.Input["chain"])
	if ts, ok := e.Input["now"].(string); ok {
		c.Time, _ = time.Parse(time.RFC3339, ts)
	}
	if c.Time.IsZero() && e.Timestamp != "" {
		// The engine decided at the log's time when the request had no "now".
		t, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil {
			return fmt.Errorf("%s: timestamp: %w", src, err)
		}
		c.Time = t
	}
	if e.Result != nil {
		if d, err := compile.DecodeDecision(e.Result); err == nil {
			c.Logged = &d
		}
	}
	return emit(c)
}

// mcpCall reads one MCP JSON-RPC message; only tools/call requests are calls. The agent,
// chain, session and time come from params._meta (agentctl/agent, agentctl/chain,
// agentctl/session, agentctl/time), the agent else from --agent.
func mcpCall(line []byte, src, file, agent string, emit func(Call) error) error {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
			Meta      map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if err := decodeLine(line, &m); err != nil {
		return fmt.Errorf("%s: MCP message: %w", src, err)
	}
	if m.Method != "tools/call" {
		return nil
	}
	meta := m.Params.Meta
	c := Call{Source: src, Name: m.Params.Name, Arguments: m.Params.Arguments, Agent: agent, Session: file, CallID: rpcID(m.ID)}
	if a, ok := meta["agentctl/agent"].(string); ok {
		c.Agent = a
	}
	c.Chain = stringsOf(meta["agentctl/chain"])
	if s, ok := meta["agentctl/session"].(string); ok {
		c.Session = s
	}
	if ts, ok := meta["agentctl/time"].(string); ok {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("%s: _meta agentctl/time: %w", src, err)
		}
		c.Time = t
	}
	return emit(c)
}

// rpcID is a JSON-RPC id as text: a string's value, a number's digits; empty when absent
// or null.
func rpcID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if t := strings.TrimSpace(string(raw)); t != "" && t != "null" && t[0] != '{' && t[0] != '[' {
		return t
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
