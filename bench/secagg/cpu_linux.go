package main

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
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
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
