package mcp

import (
	"bufio"
	"io"
	"strings"
)

// generatedHeader starts every file import mcp and import a2a write.
const generatedHeader = "// Imported by agentctl import "

// IsGenerated reports whether r starts with the header import writes, so that a re-import
// replaces its own earlier output and never a hand-written file.
func IsGenerated(r io.Reader) bool {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && line == "" {
		return false
	}
	return strings.HasPrefix(line, generatedHeader)
}
