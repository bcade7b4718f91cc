package gateway_test

import (
	"testing"
	"time"

	"github.com/agentctl/agentctl/gateway"
)

// TestSessions: state survives between calls of a task, the least recently used task is
// dropped beyond the cap, and a task unused for the TTL starts afresh.
func TestSessions(t *testing.T) {
	s := gateway.NewSessions(2, time.Minute)
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	labels := map[string]any{"untrusted": true}

	a := s.Lock("a", t0, labels)
	a.Actions++
	a.Unlock()
	if a := s.Lock("a", t0.Add(time.Second), nil); a.Actions != 1 || a.Flow["untrusted"] != true || !a.Started.Equal(t0) {
		t.Errorf("task a after a call: %+v", a)
	} else {
		a.Unlock()
	}
	s.Lock("b", t0.Add(2*time.Second), nil).Unlock()
	s.Lock("a", t0.Add(3*time.Second), nil).Unlock() // a is now the most recently used
	s.Lock("c", t0.Add(4*time.Second), nil).Unlock() // evicts b
	if n := s.Len(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	if b := s.Lock("b", t0.Add(5*time.Second), nil); b.Actions != 0 || !b.Started.Equal(t0.Add(5*time.Second)) {
		t.Errorf("evicted task b kept its state: %+v", b)
	} else {
		b.Unlock()
	}
	// A minute after their last use, a and c expire.
	later := t0.Add(5*time.Second + time.Minute)
	if a := s.Lock("a", later, nil); a.Actions != 0 || a.Flow != nil {
		t.Errorf("expired task a kept its state: %+v", a)
	} else {
		a.Unlock()
	}
	if n := s.Len(); n != 1 {
		t.Errorf("%d sessions after expiry, want 1", n)
	}
}
