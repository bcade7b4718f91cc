package replay

import (
	"encoding/json"
	"testing"
)

// TestRPCID reads a JSON-RPC id as the call id: strings and numbers, nothing for null or
// an absent id.
func TestRPCID(t *testing.T) {
	for raw, want := range map[string]string{`"req-7"`: "req-7", `5`: "5", `null`: "", ``: "", `{"a":1}`: ""} {
		if got := rpcID(json.RawMessage(raw)); got != want {
			t.Errorf("rpcID(%s) = %q, want %q", raw, got, want)
		}
	}
}
