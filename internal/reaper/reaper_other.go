//go:build !linux

package reaper

import "os/exec"

const supported = false

func setParentDeathSignal(cmd *exec.Cmd) {}

// BecomeSubreaper does nothing on this platform.
func BecomeSubreaper() error { return nil }

func guard(argv []string) int { return 2 }

// KillDescendants finds nothing to kill on this platform.
func KillDescendants(pid int) []int { return nil }

// WithEnv finds nothing on this platform.
func WithEnv(entry string) []int { return nil }

// Process is a process as /proc/PID/stat shows it.
type Process struct {
	PID, PPID int
	State     string
}

// Descendants finds nothing on this platform.
func Descendants(pid int) []Process { return nil }
