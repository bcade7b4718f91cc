// Package progress shows that a long command is still working: once it has run for a
// moment, a spinner with the elapsed time on one terminal line. Callers Stop it before they
// print their result, which erases the line.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Spinner draws "| label 2.4s" on w, redrawing in place, until Stop.
type Spinner struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	start   time.Time
	frame   int
	shown   bool // a line is on screen and must be erased
	stopped bool
	done    chan struct{}
}

// frames are ASCII so that every terminal and font draws them.
const frames = `|/-\`

// Start draws the spinner on w after delay (short commands never show it), then every
// interval. w must be a terminal: the line is redrawn with a carriage return.
func Start(w io.Writer, label string, delay, interval time.Duration) *Spinner {
	s := &Spinner{w: w, label: label, start: time.Now(), done: make(chan struct{})}
	go s.loop(delay, interval)
	return s
}

func (s *Spinner) loop(delay, interval time.Duration) {
	wait := time.NewTimer(delay)
	defer wait.Stop()
	select {
	case <-s.done:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s.draw()
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}

func (s *Spinner) draw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	elapsed := time.Since(s.start).Truncate(100 * time.Millisecond)
	fmt.Fprintf(s.w, "\r%s %s %.1fs\x1b[K", frames[s.frame%len(frames):][:1], s.label, elapsed.Seconds())
	s.frame++
	s.shown = true
}

// Stop erases the spinner line, if drawn, and stops drawing. It may be called many times.
func (s *Spinner) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	close(s.done)
	if s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
	}
}
