package secagg

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuClock reads clock_gettime(2)'s CPU-time clock id: precise CPU time,
// unlike getrusage's ticks; 0 if it cannot be read.
func cpuClock(id int32) time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(id, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// threadCPU returns the CPU time of the calling OS thread (lock the
// goroutine to its thread around a measurement).
func threadCPU() time.Duration { return cpuClock(unix.CLOCK_THREAD_CPUTIME_ID) }

// processCPU returns the CPU time of the whole process.
func processCPU() time.Duration { return cpuClock(unix.CLOCK_PROCESS_CPUTIME_ID) }
