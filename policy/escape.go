package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape is the one escaping rule for text that reaches people: policy load errors, tables,
// Markdown, GitHub annotations, SARIF messages, the comments import generates, and error
// messages that echo what a server or a recording said. Each output format adds only its own
// quoting on top (report.MarkdownCell, the workflow-command escapes).
//
// Escape returns s with every character a terminal would not show as itself written as a Go
// escape: control characters (\n, \x00), bidirectional overrides and other format characters
// (\u202e), and invalid UTF-8 (\xff). User text printed in a message then cannot split it,
// reorder it or hide part of it. Printable text, non-ASCII letters included, is kept, and so
// is a backslash, so that text already quoted with %q is left as it is.
func Escape(s string) string {
	if printableASCII(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case r == ' ' || strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\n', '\x00', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// EscapeLines escapes each line of s (Escape), keeping its newlines and tabs: for
// multi-line messages, such as an error with its details, that quote untrusted text.
func EscapeLines(s string) string {
	if printableASCII(strings.ReplaceAll(strings.ReplaceAll(s, "\n", ""), "\t", "")) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		for j, p := range parts {
			parts[j] = Escape(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}

// printableASCII reports whether s is printable ASCII only, which Escape returns unchanged.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
