//go:build unix

package loadtest

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used: the load generator's own
// cost, which must stay well under a core for its measurements to mean anything.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
