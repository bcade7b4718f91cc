// Package jsonpos finds where a value lies in JSON text, for errors that name a line and a
// column instead of a Go type.
package jsonpos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Locate returns the byte offset of the value at path (object keys, or array indices in
// decimal) in the JSON text data, or of the first character when it is absent.
func Locate(data []byte, path []string) int {
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	dec := json.NewDecoder(bytes.NewReader(data))
	for _, k := range path {
		t, err := dec.Token()
		if err != nil {
			return start
		}
		switch t {
		case json.Delim('{'):
			found := false
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return start
				}
				if key == k {
					found = true
					break
				}
				var skip json.RawMessage
				if dec.Decode(&skip) != nil {
					return start
				}
			}
			if !found {
				return start
			}
		case json.Delim('['):
			idx, err := strconv.Atoi(k)
			if err != nil {
				return start
			}
			for i := 0; i < idx; i++ {
				var skip json.RawMessage
				if !dec.More() || dec.Decode(&skip) != nil {
					return start
				}
			}
			if !dec.More() {
				return start
			}
		default:
			return start
		}
		// The value starts after the separator that follows the last token read.
		off := int(dec.InputOffset())
		for off < len(data) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
			off++
		}
		start = off
	}
	return start
}

// LineCol is the 1-based line and column (in characters) of byte offset off in data.
func LineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	if nl := bytes.LastIndexByte(before, '\n'); nl >= 0 {
		before = before[nl+1:]
	}
	return line, utf8.RuneCount(before) + 1
}

// Kind names the JSON type of a decoded value (encoding/json's types, numbers as
// json.Number or float64), with the value when it is short: what an error says it found.
func Kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return "the number " + x.String()
	case float64:
		return "the number " + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "the string " + strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
