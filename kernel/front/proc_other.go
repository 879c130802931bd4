//go:build !linux

package front

import (
	"os"
	"os/exec"
)

func gonbCommand(gonb string, args ...string) *exec.Cmd { return exec.Command(gonb, args...) }

func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(os.Interrupt) }
