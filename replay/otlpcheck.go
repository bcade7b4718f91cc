package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/agentctl/agentctl/internal/jsonpos"
)

// splitter cuts a stream into top-level JSON objects, one per line (the Collector's file
// exporter) or spread over lines (a pretty-printed request), and knows where each starts.
type splitter struct {
	br   *bufio.Reader
	file string
	cur  []byte // the rest of the current line, in br's buffer
	line int    // the line cur is on
	col  int    // the column of cur[0]
	rec  []byte
}

// next returns the next object and the line:col it starts at; io.EOF when only blank
// space is left. Anything else where an object should start is an error.
func (s *splitter) next() (rec []byte, line, col int, err error) {
	s.rec = s.rec[:0]
	depth, inStr, esc := 0, false, false
	for {
		if len(s.cur) == 0 {
			chunk, rerr := s.br.ReadSlice('\n')
			if len(chunk) == 0 && rerr != nil {
				if rerr != io.EOF {
					return nil, 0, 0, fmt.Errorf("%s:%d: %w", s.file, s.line, rerr)
				}
				if depth > 0 {
					// A syntax error inside is what the user wants to hear about, else the end.
					var raw json.RawMessage
					if err := json.Unmarshal(s.rec, &raw); err != nil {
						if off, msg := jsonError(s.rec, err); !strings.Contains(msg, "end of JSON input") {
							l, c := lineCol(s.rec, off, line, col)
							return nil, 0, 0, posError(s.file, l, c, "%s", msg)
						}
					}
					return nil, 0, 0, posError(s.file, line, col, "invalid JSON: the request that starts here is not closed before the end of the input")
				}
				return nil, 0, 0, io.EOF
			}
			if rerr != nil && rerr != io.EOF && rerr != bufio.ErrBufferFull {
				return nil, 0, 0, fmt.Errorf("%s:%d: %w", s.file, s.line+1, rerr)
			}
			s.cur = chunk
		}
		i := 0
		if depth == 0 {
			for i < len(s.cur) && strings.IndexByte(" \t\r\n", s.cur[i]) >= 0 {
				s.advance(s.cur[i : i+1])
				i++
			}
			s.cur = s.cur[i:]
			if len(s.cur) == 0 {
				continue
			}
			if s.cur[0] != '{' {
				rest := s.cur
				if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
					rest = rest[:nl]
				}
				return nil, 0, 0, posError(s.file, s.line, s.col, "expected an %s, found %s", formatRecord[FormatOTLP], describe(rest))
			}
			line, col = s.line, s.col
			i = 0
		}
		for ; i < len(s.cur); i++ {
			b := s.cur[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case b == '\\':
					esc = true
				case b == '"':
					inStr = false
				}
				continue
			}
			switch b {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			if depth == 0 {
				s.rec = append(s.rec, s.cur[:i+1]...)
				s.advance(s.cur[:i+1])
				s.cur = s.cur[i+1:]
				return s.rec, line, col, nil
			}
		}
		s.rec = append(s.rec, s.cur...)
		s.advance(s.cur)
		s.cur = nil
	}
}

// advance moves the position past text.
func (s *splitter) advance(text []byte) {
	if nl := bytes.LastIndexByte(text, '\n'); nl >= 0 {
		s.line += bytes.Count(text, []byte{'\n'})
		s.col = column(text[nl+1:], len(text)-nl-1)
		return
	}
	s.col += column(text, len(text)) - 1
}

// otlpShape is the part of the OTLP/JSON schema (ExportTraceServiceRequest) a check walks:
// field names are matched without case and underscores, as the Collector's unmarshaler
// accepts both lowerCamelCase and snake_case.
type otlpShape struct {
	kind   string // "object", "array", "string", "bool", "number", "uint64", "int64", "enum", "hex", "any"
	fields map[string]*otlpShape
	elem   *otlpShape
	hexLen int // "hex": the bytes an id holds
}

var otlpRequest = func() *otlpShape {
	obj := func(f map[string]*otlpShape) *otlpShape { return &otlpShape{kind: "object", fields: f} }
	arr := func(e *otlpShape) *otlpShape { return &otlpShape{kind: "array", elem: e} }
	str, num, u64, i64, enum, bl := &otlpShape{kind: "string"}, &otlpShape{kind: "number"}, &otlpShape{kind: "uint64"},
		&otlpShape{kind: "int64"}, &otlpShape{kind: "enum"}, &otlpShape{kind: "bool"}
	traceID, spanID := &otlpShape{kind: "hex", hexLen: 16}, &otlpShape{kind: "hex", hexLen: 8}
	anyValue := obj(map[string]*otlpShape{"stringvalue": str, "boolvalue": bl, "intvalue": i64, "doublevalue": num,
		"bytesvalue": str})
	kv := obj(map[string]*otlpShape{"key": str, "value": anyValue})
	anyValue.fields["arrayvalue"] = obj(map[string]*otlpShape{"values": arr(anyValue)})
	anyValue.fields["kvlistvalue"] = obj(map[string]*otlpShape{"values": arr(kv)})
	attrs := arr(kv)
	span := obj(map[string]*otlpShape{
		"traceid": traceID, "spanid": spanID, "parentspanid": spanID, "tracestate": str, "name": str, "kind": enum,
		"starttimeunixnano": u64, "endtimeunixnano": u64, "attributes": attrs, "droppedattributescount": u64,
		"events":             arr(obj(map[string]*otlpShape{"timeunixnano": u64, "name": str, "attributes": attrs, "droppedattributescount": u64})),
		"droppedeventscount": u64,
		"links": arr(obj(map[string]*otlpShape{"traceid": traceID, "spanid": spanID, "tracestate": str, "attributes": attrs,
			"droppedattributescount": u64, "flags": u64})),
		"droppedlinkscount": u64, "status": obj(map[string]*otlpShape{"message": str, "code": enum}), "flags": u64,
	})
	scope := obj(map[string]*otlpShape{"name": str, "version": str, "attributes": attrs, "droppedattributescount": u64})
	return obj(map[string]*otlpShape{"resourcespans": arr(obj(map[string]*otlpShape{
		"resource":   obj(map[string]*otlpShape{"attributes": attrs, "droppedattributescount": u64}),
		"scopespans": arr(obj(map[string]*otlpShape{"scope": scope, "spans": arr(span), "schemaurl": str})),
		"schemaurl":  str,
	}))})
}()

// explainOTLP finds the first place where rec is not an OTLP trace export request the
// Collector reads, as a byte offset and a message naming the field; ok is false when it
// finds nothing wrong.
func explainOTLP(rec []byte) (off int, msg string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var walk func(sh *otlpShape, path string) (int, string, bool)
	valueStart := func() int {
		o := int(dec.InputOffset())
		for o < len(rec) && strings.IndexByte(" \t\r\n:,", rec[o]) >= 0 {
			o++
		}
		return o
	}
	walk = func(sh *otlpShape, path string) (int, string, bool) {
		at := valueStart()
		var v any
		t, err := dec.Token()
		if err != nil {
			o, m := jsonError(rec, err)
			return o, m, true
		}
		switch t {
		case json.Delim('{'):
			if sh.kind != "object" && sh.kind != "any" {
				skipRest(dec)
				return at, fmt.Sprintf("%s: expected %s, found an object", path, shapeText(sh)), true
			}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					o, m := jsonError(rec, err)
					return o, m, true
				}
				key, _ := kt.(string)
				f := sh.fields[strings.ToLower(strings.ReplaceAll(key, "_", ""))]
				if f == nil {
					f = &otlpShape{kind: "any"} // unknown fields are skipped by the Collector too
				}
				if o, m, bad := walk(f, joinPath(path, key)); bad {
					return o, m, true
				}
			}
			_, err := dec.Token()
			if err != nil {
				o, m := jsonError(rec, err)
				return o, m, true
			}
			return 0, "", false
		case json.Delim('['):
			if sh.kind != "array" && sh.kind != "any" {
				skipRest(dec)
				return at, fmt.Sprintf("%s: expected %s, found an array", path, shapeText(sh)), true
			}
			elem := sh.elem
			if elem == nil {
				elem = &otlpShape{kind: "any"}
			}
			for i := 0; dec.More(); i++ {
				if o, m, bad := walk(elem, fmt.Sprintf("%s[%d]", path, i)); bad {
					return o, m, true
				}
			}
			if _, err := dec.Token(); err != nil {
				o, m := jsonError(rec, err)
				return o, m, true
			}
			return 0, "", false
		}
		v = t
		if v == nil || sh.kind == "any" {
			return 0, "", false
		}
		if m := checkScalar(sh, v); m != "" {
			return at, path + ": " + m, true
		}
		return 0, "", false
	}
	if t := bytes.TrimSpace(rec); len(t) == 0 || t[0] != '{' {
		return 0, "expected an " + formatRecord[FormatOTLP] + ", found " + describe(rec), true
	}
	o, m, bad := walk(otlpRequest, "")
	return o, m, bad
}

func skipRest(dec *json.Decoder) {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkScalar checks a JSON scalar against sh; the message is empty when it fits.
func checkScalar(sh *otlpShape, v any) string {
	s, isStr := v.(string)
	n, isNum := v.(json.Number)
	switch sh.kind {
	case "string":
		if isStr {
			return ""
		}
	case "bool":
		if _, ok := v.(bool); ok {
			return ""
		}
	case "number", "enum":
		if isNum || isStr {
			return ""
		}
	case "uint64":
		if isStr {
			n, isNum = json.Number(s), true
		}
		if isNum {
			if _, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
				return ""
			}
		}
	case "int64":
		if isStr {
			n, isNum = json.Number(s), true
		}
		if isNum {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				return ""
			}
		}
	case "hex":
		if isStr && (s == "" || len(s) == 2*sh.hexLen && isHex(s)) {
			return ""
		}
	}
	return "expected " + shapeText(sh) + ", found " + jsonpos.Kind(v)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}

// shapeText is what a shape wants, in the user's terms.
func shapeText(sh *otlpShape) string {
	switch sh.kind {
	case "object":
		return "an object"
	case "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "number":
		return "a number"
	case "enum":
		return "an enum (a number or its name)"
	case "uint64":
		return "an unsigned 64-bit integer (a string of digits, as OTLP/JSON writes nanoseconds)"
	case "int64":
		return "a 64-bit integer"
	case "hex":
		return fmt.Sprintf("%d hex digits (a %s id, %d bytes)", 2*sh.hexLen, map[int]string{8: "span", 16: "trace"}[sh.hexLen], sh.hexLen)
	}
	return "a value"
}
