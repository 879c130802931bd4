//go:build !linux

package main

import "time"

// cpuTime returns the wall time of f where thread CPU time is not available.
func cpuTime(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
