package secagg

import (
	"syscall"
	"time"
	"unsafe"
)

// Clock ids of clock_gettime(2): precise CPU time, unlike getrusage's ticks.
const (
	clockProcessCPU = 2 // CLOCK_PROCESS_CPUTIME_ID
	clockThreadCPU  = 3 // CLOCK_THREAD_CPUTIME_ID
)

func cpuClock(id uintptr) time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// threadCPU returns the CPU time of the calling OS thread (lock the
// goroutine to its thread around a measurement).
func threadCPU() time.Duration { return cpuClock(clockThreadCPU) }

// processCPU returns the CPU time of the whole process.
func processCPU() time.Duration { return cpuClock(clockProcessCPU) }
