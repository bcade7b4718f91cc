package report

import (
	"encoding/json"
	"io"
)

// SchemaVersion is the version of every JSON document agentctl writes (contract).
const SchemaVersion = 1

// JSON writes v as indented JSON followed by a newline. Go's encoder sorts map keys, so the
// output is deterministic for deterministic input.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
