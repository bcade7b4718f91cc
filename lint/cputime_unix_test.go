//go:build unix

package lint_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system, every thread) the process has used. Benchmarks
// report it next to wall time: on a shared machine it varies far less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
