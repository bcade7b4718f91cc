package progress

import (
	"regexp"
	"testing"
	"time"

	"github.com/agentctl/agentctl/internal/testtool"
)

// waitFor polls until the buffer holds n spinner frames, bounded in time.
func waitFor(t *testing.T, buf *testtool.SyncBuffer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(frameRE.FindAllString(buf.String(), -1)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d frames within 10s: %q", n, buf.String())
		}
		time.Sleep(time.Millisecond)
	}
}

var frameRE = regexp.MustCompile(`\r[|/\-\\] agentctl check \d+\.\ds\x1b\[K`)

func TestShortRunsShowNothing(t *testing.T) {
	var buf testtool.SyncBuffer
	s := Start(&buf, "agentctl check", time.Hour, time.Millisecond)
	s.Stop()
	s.Stop()
	if got := buf.String(); got != "" {
		t.Fatalf("a run shorter than the delay wrote %q", got)
	}
}

func TestSpinnerDrawsThenErases(t *testing.T) {
	var buf testtool.SyncBuffer
	s := Start(&buf, "agentctl check", 0, time.Millisecond)
	waitFor(t, &buf, 3)
	s.Stop()
	got := buf.String()
	if !regexp.MustCompile(`^(\r[|/\-\\] agentctl check \d+\.\ds\x1b\[K)+\r\x1b\[K$`).MatchString(got) {
		t.Fatalf("output %q is not frames followed by one erase", got)
	}
	// Frames cycle in order.
	frames := frameRE.FindAllString(got, 3)
	for i, want := range []string{"|", "/", "-"} {
		if frames[i][1:2] != want {
			t.Errorf("frame %d is %q, want %q", i, frames[i][1:2], want)
		}
	}
	// Nothing after Stop.
	n := len(got)
	time.Sleep(20 * time.Millisecond)
	if len(buf.String()) != n {
		t.Errorf("spinner drew after Stop: %q", buf.String()[n:])
	}
}
