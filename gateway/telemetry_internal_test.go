package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTraceFileBesideHungCollector: with --trace-file beside a collector that never answers,
// shutdown still writes every span to the file. The collector's exports (one in flight, one
// draining the rest: more spans than a batch) use up the shutdown deadline, and OTel's
// provider shuts its processors down in order and stops at the deadline.
func TestTraceFileBesideHungCollector(t *testing.T) {
	done := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(done) }) // runs first
	file := filepath.Join(t.TempDir(), "traces.jsonl")
	tel, err := NewTelemetry(context.Background(), TelemetryConfig{Endpoint: hung.URL, File: file, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const spans = 600 // more than a batch (512)
	for range spans {
		tel.handoffRefused(context.Background(), Peer{Agent: "a"}, nil, "b", "UNDECLARED_HANDOFF", "m", now, now)
	}
	tel.Shutdown(context.Background()) // the collector's error is expected
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(raw), `"spanId"`); got != spans {
		t.Errorf("the trace file holds %d spans, want %d", got, spans)
	}
}
