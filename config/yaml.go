package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/encoding/yaml"
)

// badText finds what the YAML decoder refuses in the text itself, before any syntax: an
// invalid UTF-8 sequence or a character YAML does not allow. The decoder says neither where.
func badText(path string, src []byte) (Error, bool) {
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		switch {
		case r == utf8.RuneError && size == 1:
			return errorAt(path, src, off, fmt.Sprintf("invalid UTF-8 byte 0x%02x (the file must be UTF-8)", src[off])), true
		case !yamlPrintable(r):
			return errorAt(path, src, off, fmt.Sprintf("control character U+%04X is not allowed (YAML allows tab, line feed and carriage return)", r)), true
		}
		off += size
	}
	return Error{}, false
}

// yamlPrintable reports whether YAML 1.2 allows r in a file (its c-printable set, which the
// decoder enforces).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || 0x20 <= r && r <= 0x7e || r == 0x85 ||
		0xa0 <= r && r <= 0xd7ff || 0xe000 <= r && r <= 0xfffd || 0x10000 <= r && r <= 0x10ffff
}

// yamlLine is how the decoder starts a message that has a line: "3: ...".
var yamlLine = regexp.MustCompile(`^\d+: `)

// yamlMessage is the decoder's message without the file name and line it may start with.
func yamlMessage(path string, err error) string {
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), path+":"))
	return yamlLine.ReplaceAllString(msg, "")
}

// unknownAnchor is the decoder's message for an alias without its anchor.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// yamlError places a YAML decoding error, which the decoder words without a column and
// often without a line, at the end of the shortest prefix of the file that fails with the
// same message: where reading the file first goes wrong.
func yamlError(path string, src []byte, err error) Error {
	msg := yamlMessage(path, err)
	fails := func(n int) bool {
		_, err := yaml.Extract(path, src[:n])
		return err != nil && yamlMessage(path, err) == msg
	}
	// fails(len(src)) holds; find the boundary by bisection (badText made src valid UTF-8,
	// so a prefix is cut at the start of a character).
	lo, hi := 0, len(src)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		for mid > lo+1 && !utf8.RuneStart(src[mid]) {
			mid--
		}
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	off := max(hi-1, 0)
	for off > 0 && !utf8.RuneStart(src[off]) {
		off--
	}
	switch m := unknownAnchor.FindStringSubmatch(msg); {
	case m != nil:
		// The prefix ends with the alias's name: point at its '*'.
		if start := hi - len(m[1]) - 1; start >= 0 && src[start] == '*' {
			off = start
		}
		msg = fmt.Sprintf("alias *%s refers to no anchor (define &%s before using it)", m[1], m[1])
	case strings.HasPrefix(msg, "exceeded max depth of "):
		msg = "nested deeper than " + strings.TrimPrefix(msg, "exceeded max depth of ") + " levels"
	}
	return errorAt(path, src, off, msg)
}

// secondDocument reports a second YAML document in the file: the decoder reads a stream of
// documents as a list of them.
func secondDocument(path string, src []byte, f *ast.File) (Error, bool) {
	if len(f.Decls) != 1 {
		return Error{}, false
	}
	embed, ok := f.Decls[0].(*ast.EmbedDecl)
	if !ok {
		return Error{}, false
	}
	list, ok := embed.Expr.(*ast.ListLit)
	if !ok || list.Lbrack.IsValid() || len(list.Elts) < 2 {
		return Error{}, false // a list written in the file has its bracket or dash
	}
	// The "---" that starts the second document: the first one after some content, else the
	// second one (the first may open the first document).
	off, seps, content := 0, 0, false
	for line := range bytes.Lines(src) {
		t := bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || strings.ContainsRune(" \t\r\n", rune(line[3]))) {
			if content || seps > 0 {
				return errorAt(path, src, off, secondDoc), true
			}
			seps++
		} else if len(t) > 0 && t[0] != '#' && t[0] != '%' {
			content = true
		}
		off += len(line)
	}
	p := list.Elts[1].Pos()
	return Error{File: path, Line: p.Line(), Col: p.Column(), Msg: secondDoc}, true
}

const secondDoc = FileName + " holds one YAML document; a second one starts here"

// plainNumbers undoes the decoder's "number & 123" for an integer too large for 64 bits,
// which CUE would otherwise report as a parse error of that expression: the number is then
// an ordinary (wrong-typed) value.
func plainNumbers(f *ast.File) {
	ast.Walk(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok {
			lit.Value = strings.TrimPrefix(lit.Value, "number & ")
		}
		return true
	}, nil)
}

// errorAt is an error at a byte offset of src: line and column (in bytes) from 1.
func errorAt(path string, src []byte, off int, msg string) Error {
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	col := off + 1
	if nl := bytes.LastIndexByte(src[:off], '\n'); nl >= 0 {
		col = off - nl
	}
	return Error{File: path, Line: line, Col: col, Msg: msg}
}
