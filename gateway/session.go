package gateway

import (
	"container/list"
	"sync"
	"time"
)

// Session is the gateway's state for one task: what the trust boundary says the enforcement
// point keeps itself and never takes from the agent.
type Session struct {
	Task    string
	Started time.Time
	Actions int            // calls executed in the task
	Flow    map[string]any // the flow the decision of the last executed call returned; nil before
	// mu serialises the calls of one task: a call is decided with the labels every earlier
	// call left, so two calls cannot both be decided on the labels before either ran.
	mu   sync.Mutex
	used time.Time
	elem *list.Element
}

// Sessions holds at most Max sessions, each for at most TTL after its last use, evicting the
// least recently used first. An evicted task starts afresh: labels and counters reset, so
// size Max above the number of tasks alive within TTL (docs/gateway.md).
type Sessions struct {
	Max int
	TTL time.Duration

	mu    sync.Mutex
	byID  map[string]*Session
	order *list.List // front: most recently used
}

// NewSessions returns an empty store.
func NewSessions(max int, ttl time.Duration) *Sessions {
	return &Sessions{Max: max, TTL: ttl, byID: map[string]*Session{}, order: list.New()}
}

// Lock returns the task's session, locked, creating it with flow as its labels when the
// gateway holds none (a task handed over from another replica carries its labels in the
// hand-off record). The caller calls Unlock.
func (s *Sessions) Lock(task string, now time.Time, flow map[string]any) *Session {
	s.mu.Lock()
	s.expire(now)
	ss := s.byID[task]
	if ss == nil {
		ss = &Session{Task: task, Started: now, Flow: flow}
		ss.elem = s.order.PushFront(ss)
		s.byID[task] = ss
		for s.order.Len() > s.Max {
			old := s.order.Back().Value.(*Session)
			s.order.Remove(old.elem)
			delete(s.byID, old.Task)
		}
	} else {
		s.order.MoveToFront(ss.elem)
	}
	ss.used = now
	s.mu.Unlock()
	ss.mu.Lock()
	return ss
}

// expire drops sessions unused for TTL; s.mu is held.
func (s *Sessions) expire(now time.Time) {
	for e := s.order.Back(); e != nil; e = s.order.Back() {
		ss := e.Value.(*Session)
		if now.Sub(ss.used) < s.TTL {
			return
		}
		s.order.Remove(e)
		delete(s.byID, ss.Task)
	}
}

// Unlock releases a session Lock returned.
func (ss *Session) Unlock() { ss.mu.Unlock() }

// Len is the number of sessions held.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}
