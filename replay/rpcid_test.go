package replay

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRPCID reads a JSON-RPC id as the call id: strings and numbers, nothing for null or
// an absent id.
func TestRPCID(t *testing.T) {
	for raw, want := range map[string]string{`"req-7"`: "req-7", `5`: "5", `null`: "", `{"a":1}`: ""} {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if got := rpcID(v); got != want {
			t.Errorf("rpcID(%s) = %q, want %q", raw, got, want)
		}
	}
}
