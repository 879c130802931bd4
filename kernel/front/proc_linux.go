package front

import (
	"os/exec"
	"syscall"

	"github.com/ppml-go/ppml/internal/reaper"
)

// gonbCommand returns the command that runs GoNB: under a guardian (see
// package reaper) that kills GoNB and all it started when the front dies,
// however it dies; or, in a program that did not call reaper.Main, GoNB
// itself with SIGTERM as its parent-death signal (GoNB then stops its cell
// program and gopls, usually before it exits).
func gonbCommand(gonb string, args ...string) *exec.Cmd {
	cmd, guarded := reaper.Command(gonb, args...)
	if !guarded {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	}
	return cmd
}

// terminate sends SIGTERM to cmd's process, if it still runs.
func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(syscall.SIGTERM) }
