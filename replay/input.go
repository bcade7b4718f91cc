package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agentctl/agentctl/internal/jsonpos"
)

// What each format's records are, in the words of the errors (each takes "an").
var formatRecord = map[string]string{
	FormatOTLP:   "OTLP trace export request (resourceSpans)",
	FormatOPALog: "OPA decision log entry (decision_id)",
	FormatMCP:    "MCP JSON-RPC message (jsonrpc)",
}

var utf8BOM = []byte("\xef\xbb\xbf")

// skipBOM drops a UTF-8 byte order mark at the start of the input (editors on Windows
// write one).
func skipBOM(br *bufio.Reader) {
	if head, _ := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
}

// posError is an input error at FILE:LINE:COL.
func posError(file string, line, col int, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", file, line, col, fmt.Sprintf(format, args...))
}

// column is the 1-based column (in characters) of byte offset off in line.
func column(line []byte, off int) int {
	off = min(max(off, 0), len(line))
	return utf8.RuneCount(line[:off]) + 1
}

// lineCol is the line and column of byte offset off in a record that starts at line:col.
func lineCol(rec []byte, off, line, col int) (int, int) {
	off = min(max(off, 0), len(rec))
	before := rec[:off]
	if nl := bytes.LastIndexByte(before, '\n'); nl >= 0 {
		return line + bytes.Count(before, []byte{'\n'}), utf8.RuneCount(before[nl+1:]) + 1
	}
	return line, col + utf8.RuneCount(before)
}

// describe says what a line (or the rest of one) holds, for "expected X, found Y".
func describe(text []byte) string {
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0:
		return "nothing"
	case bytes.IndexByte(text, 0) >= 0 || !utf8.Valid(text):
		return "binary data"
	case text[0] == '[':
		return "a JSON array (records are JSON objects)"
	case text[0] != '{':
		return "plain text"
	}
	keys, err := topKeys(text)
	if err != nil {
		return "invalid JSON"
	}
	for _, k := range keys {
		switch k {
		case "resourceSpans", "resource_spans":
			return "an " + formatRecord[FormatOTLP]
		case "decision_id":
			return "an " + formatRecord[FormatOPALog]
		case "jsonrpc":
			return "an " + formatRecord[FormatMCP]
		}
	}
	if len(keys) == 0 {
		return "an empty JSON object"
	}
	const most = 4
	quoted := make([]string, 0, most)
	for i, k := range keys {
		if i == most {
			quoted = append(quoted, "…")
			break
		}
		quoted = append(quoted, strconv.Quote(k))
	}
	return "a JSON object with keys " + strings.Join(quoted, ", ")
}

// topKeys lists the keys of the JSON object in text, in order, as far as it reads.
func topKeys(text []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys, err
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys, err
		}
	}
	return keys, nil
}

// hasKey reports whether the JSON object rec has one of keys at its top level.
func hasKey(rec []byte, keys ...string) bool {
	got, _ := topKeys(rec)
	for _, k := range got {
		for _, want := range keys {
			if k == want {
				return true
			}
		}
	}
	return false
}

// jsonError turns an encoding/json error on rec into a message in the user's terms and the
// byte offset it points at.
func jsonError(rec []byte, err error) (int, string) {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return int(syn.Offset) - 1, "invalid JSON: " + syn.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return len(bytes.TrimRight(rec, " \t\r\n")), "invalid JSON: the record ends before its value is complete"
	}
	return 0, "invalid JSON: " + err.Error()
}

// lineRecord is one line of a line-oriented recording (an OPA decision log or an MCP log),
// decoded: its fields are read through get, whose errors name the field and its column.
type lineRecord struct {
	file string
	n    int
	line []byte
	obj  map[string]any
}

func (r *lineRecord) src() string { return fmt.Sprintf("%s:%d", r.file, r.n) }

// errorAt is an error at the value of the field at path (its column), or at the line's
// start when it is absent.
func (r *lineRecord) errorAt(path []string, format string, args ...any) error {
	return posError(r.file, r.n, column(r.line, jsonpos.Locate(r.line, path)), format, args...)
}

// decodeRecord decodes a line holding one JSON object, numbers kept as json.Number.
func decodeRecord(file string, n int, line []byte) (*lineRecord, error) {
	r := &lineRecord{file: file, n: n, line: line}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		off, msg := jsonError(line, err)
		return nil, posError(file, n, column(line, off), "%s", msg)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		lead := len(line) - len(bytes.TrimLeft(line, " \t"))
		return nil, posError(file, n, column(line, lead), "expected a JSON object, found %s", jsonpos.Kind(v))
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(line[off:])) > 0 {
		return nil, posError(file, n, column(line, int(off)+len(line[off:])-len(bytes.TrimLeft(line[off:], " \t"))),
			"more than one JSON value on the line (one record per line)")
	}
	r.obj = obj
	return r, nil
}

// get returns the value at path and whether it is present (null counts as absent).
func (r *lineRecord) get(path ...string) (any, bool) {
	var cur any = r.obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// str returns the string at path, "" when absent; anything else is an error.
func (r *lineRecord) str(path ...string) (string, error) {
	v, ok := r.get(path...)
	if !ok {
		return "", nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", r.errorAt(path, "%s: expected a string, found %s", fieldName(path), jsonpos.Kind(v))
	}
	return s, nil
}

// object returns the object at path, nil when absent; anything else is an error.
func (r *lineRecord) object(path ...string) (map[string]any, error) {
	v, ok := r.get(path...)
	if !ok {
		return nil, nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return nil, r.errorAt(path, "%s: expected an object, found %s", fieldName(path), jsonpos.Kind(v))
	}
	return m, nil
}

// strings returns the array of strings at path, nil when absent.
func (r *lineRecord) strings(path ...string) ([]string, error) {
	v, ok := r.get(path...)
	if !ok {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		return nil, r.errorAt(path, "%s: expected an array of strings, found %s", fieldName(path), jsonpos.Kind(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, isStr := e.(string)
		if !isStr {
			p := append(path[:len(path):len(path)], strconv.Itoa(i))
			return nil, r.errorAt(p, "%s[%d]: expected a string, found %s", fieldName(path), i, jsonpos.Kind(e))
		}
		out[i] = s
	}
	return out, nil
}

// fieldName is a path as the user writes it: params._meta["agentctl/time"].
func fieldName(path []string) string {
	var b strings.Builder
	for i, k := range path {
		switch {
		case isIdent(k):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		default:
			b.WriteString("[" + strconv.Quote(k) + "]")
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
