// Package reaper keeps the processes a program starts from outliving it.
//
// It finds a process's descendants through /proc (Descendants) and kills
// them (KillDescendants), and it runs a command under a guardian
// (Command): the program itself, re-executed in guardian mode, between the
// program and the command. The guardian is a child subreaper (see
// PR_SET_CHILD_SUBREAPER in prctl(2)), so every process the command starts
// and orphans stays its descendant; it learns of its parent's death by a
// parent-death signal, even when the parent is killed with SIGKILL; and
// whenever it goes (its parent died, it got SIGTERM or SIGHUP, the command
// exited) it first passes SIGTERM to the command, gives it StopGrace to
// exit, and kills every descendant left. A command started with Command
// therefore never outlives the program that started it, nor do the
// processes the command starts.
//
// A program that uses Command calls Main first thing in main (and in
// TestMain for its tests): in a guardian, Main runs the guardian and exits;
// elsewhere it returns at once. Command starts no guardian in a program that
// did not call Main (it could not re-execute it as one).
//
// The front of the course's kernel (kernel/front) runs GoNB under a
// guardian; the notebook runner (kernel/runner) runs every kernel under one.
// Linux only: elsewhere Command starts the command directly and the
// functions that read /proc find nothing.
package reaper

import (
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// guardianEnv, set to "1", tells a re-executed program to be a guardian.
const guardianEnv = "PPML_REAPER_GUARDIAN"

// StopGrace is how long the guardian gives its command to exit after
// passing it SIGTERM, before it kills it and its descendants.
const StopGrace = 3 * time.Second

// mainCalled records that Main ran and returned: this program can be
// re-executed as a guardian.
var mainCalled atomic.Bool

// Main runs the guardian and exits if this process was started as one by
// Command; otherwise it returns at once. Call it first thing in main and in
// TestMain of a program that uses Command.
func Main() {
	if os.Getenv(guardianEnv) == "1" {
		os.Unsetenv(guardianEnv)
		os.Exit(guard(os.Args[1:]))
	}
	mainCalled.Store(true)
}

// RunTests is the TestMain of a test package that starts kernels (through
// kernel/runner) and needs nothing else before its tests: it calls Main, then
// runs the tests and exits with their status.
//
//	func TestMain(m *testing.M) { reaper.RunTests(m) }
func RunTests(m interface{ Run() int }) {
	Main()
	os.Exit(m.Run())
}

// Command returns a command that runs name with args under a guardian, and
// true; or, if this program cannot be a guardian (Main was not called, or
// the platform has no subreapers), the command itself, and false. The
// guardian's SysProcAttr asks for SIGTERM when this program dies; callers
// may set other fields of it (Setpgid, say) but must keep Pdeathsig.
func Command(name string, args ...string) (*exec.Cmd, bool) {
	self, err := os.Executable()
	if !mainCalled.Load() || !supported || err != nil {
		return exec.Command(name, args...), false
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), guardianEnv+"=1")
	setParentDeathSignal(cmd)
	return cmd, true
}
