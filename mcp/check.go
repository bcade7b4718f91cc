package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/agentctl/agentctl/internal/jsonpos"
)

// PosError is an error at a line and column of the document read.
type PosError struct {
	Line, Col int
	Msg       string
}

func (e *PosError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

func posErr(data []byte, off int, format string, args ...any) error {
	line, col := jsonpos.LineCol(data, off)
	return &PosError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// checkTools checks a tools/list result against the MCP schema's types, so a malformed
// catalogue is named by the path of the bad value, its line and column, and what the
// schema expects (encoding/json would name Go types).
func checkTools(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var res any
	if err := dec.Decode(&res); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return posErr(data, int(syn.Offset)-1, "invalid JSON: %s", syn.Error())
		}
		return posErr(data, len(bytes.TrimRight(data, " \t\r\n")), "invalid JSON: the document ends before its value is complete")
	}
	return checkValue(data, res, nil, toolsShape)
}

// shape is the part of the MCP schema checkTools walks.
type shape struct {
	kind   string // "object", "array", "string", "bool", "any"
	fields map[string]*shape
	elem   *shape
	need   []string // required fields of an object
}

var toolsShape = func() *shape {
	str, bl, anyV := &shape{kind: "string"}, &shape{kind: "bool"}, &shape{kind: "any"}
	obj := &shape{kind: "object"}
	tool := &shape{kind: "object", need: []string{"name"}, fields: map[string]*shape{
		"name": str, "title": str, "description": str, "inputSchema": obj, "outputSchema": obj, "_meta": obj,
		"annotations": {kind: "object", fields: map[string]*shape{"title": str, "readOnlyHint": bl,
			"destructiveHint": bl, "idempotentHint": bl, "openWorldHint": bl}},
		"icons": {kind: "array", elem: anyV},
	}}
	return &shape{kind: "object", need: []string{"tools"}, fields: map[string]*shape{
		"tools": {kind: "array", elem: tool}, "nextCursor": str, "_meta": obj}}
}()

func checkValue(data []byte, v any, path []string, sh *shape) error {
	bad := func(format string, args ...any) error {
		return posErr(data, jsonpos.Locate(data, path), "%s: %s", pathText(path), fmt.Sprintf(format, args...))
	}
	switch sh.kind {
	case "any":
		return nil
	case "string":
		if _, ok := v.(string); !ok {
			return bad("expected a string, found %s", jsonpos.Kind(v))
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad("expected true or false, found %s", jsonpos.Kind(v))
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return bad("expected an array, found %s", jsonpos.Kind(v))
		}
		for i, e := range list {
			if err := checkValue(data, e, append(path[:len(path):len(path)], strconv.Itoa(i)), sh.elem); err != nil {
				return err
			}
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected an object, found %s", jsonpos.Kind(v))
		}
		for _, k := range sh.need {
			if _, ok := m[k]; !ok {
				return bad("%q is missing", k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(sh.fields)) { // deterministic: the first bad field by name
			if e, ok := m[k]; ok {
				if err := checkValue(data, e, append(path[:len(path):len(path)], k), sh.fields[k]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pathText writes a path as tools[0].annotations.readOnlyHint; the whole result is "result".
func pathText(path []string) string {
	if len(path) == 0 {
		return "the result"
	}
	var b bytes.Buffer
	for i, k := range path {
		if _, err := strconv.Atoi(k); err == nil {
			b.WriteString("[" + k + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}
