package report

import (
	"bytes"
	"io"
)

// IsOutput reports whether r starts like a findings document agentctl writes to a file:
// SARIF with the agentctl driver, JUnit with an agentctl suite, the JSON report, or GitHub
// annotations. A command may then replace it even inside a policy directory. Tables carry no
// mark of their writer, so an existing one there is left alone.
func IsOutput(r io.Reader) bool {
	head := make([]byte, 4096)
	n, _ := io.ReadFull(r, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("{\n  \"$schema\": \"https://json.schemastore.org/sarif-")):
		return bytes.Contains(head, []byte("\"driver\": {\n          \"name\": \"agentctl\""))
	case bytes.HasPrefix(head, []byte("<?xml")):
		return bytes.Contains(head, []byte("<testsuites name=\"agentctl "))
	case bytes.HasPrefix(head, []byte("{\n  \"schema_version\": ")):
		return true
	}
	for _, p := range []string{"::error ", "::warning ", "::notice "} {
		if bytes.HasPrefix(head, []byte(p)) {
			return true
		}
	}
	return false
}
