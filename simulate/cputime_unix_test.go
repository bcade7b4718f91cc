//go:build unix

package simulate_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system, all threads, GC included) the process has
// used. On a shared machine it is a steadier measure than wall time, which includes waiting
// for a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
