package lint

import (
	"encoding/json"
	"io"
)

// IsBaseline reports whether r holds a baseline --write-baseline wrote (a JSON object with a
// schema_version this agentctl reads and a findings list), which it may then rewrite even
// inside a policy directory.
func IsBaseline(r io.Reader) bool {
	var b struct {
		SchemaVersion int              `json:"schema_version"`
		Findings      *json.RawMessage `json:"findings"`
	}
	if err := json.NewDecoder(r).Decode(&b); err != nil {
		return false
	}
	return (b.SchemaVersion == 1 || b.SchemaVersion == BaselineVersion) && b.Findings != nil
}
