package report

import (
	"strings"

	"github.com/agentctl/agentctl/policy"
)

// The output formats quote user text (names from policies, recordings and servers) with the
// one rule of policy.Escape, plus each format's own syntax:
//
//   - tables (Table) and plain lines: policy.Escape;
//   - Markdown table cells and text (MarkdownCell): policy.Escape, then "|", "<" and "`"
//     backslash-escaped, so a name cannot end a cell, open HTML or a code span (">" only
//     quotes at the start of a line, where a cell never is);
//   - Markdown code spans (MarkdownCode): policy.Escape inside a fence longer than any run of
//     backticks in the text (CommonMark);
//   - GitHub workflow commands and SARIF messages: policy.Escape, then the command escapes.

// markdownEscaper backslash-escapes the characters that end a table cell, open HTML or start
// a code span.
var markdownEscaper = strings.NewReplacer("|", `\|`, "<", `\<`, "`", "\\`")

// MarkdownCell escapes s for a Markdown table cell or running text.
func MarkdownCell(s string) string { return markdownEscaper.Replace(policy.Escape(s)) }

// MarkdownCode returns s escaped as a Markdown code span, backticks included.
func MarkdownCode(s string) string {
	s = policy.Escape(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
