//go:build !linux

package front

import (
	"log"
	"os"
	"os/exec"
)

func setParentDeathSignal(cmd *exec.Cmd) {}

func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(os.Interrupt) }

func becomeSubreaper() {}

func killOrphans(l *log.Logger) {}
