package main

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime runs f locked to one OS thread and returns the thread's CPU time
// for it (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), which does not count
// waiting for a core on a busy machine.
func cpuTime(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	f()
	return threadCPU() - t0
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
