package front

import (
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal makes the kernel send SIGTERM to cmd's process when
// the front dies, however it dies; GoNB then stops its cell program and gopls
// and exits.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// terminate sends SIGTERM to cmd's process, if it still runs.
func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(syscall.SIGTERM) }

// becomeSubreaper makes the front the parent of the processes GoNB leaves
// behind when it exits (a running cell program, gopls, which GoNB starts in
// a process group of its own), so that killOrphans finds them.
func becomeSubreaper() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }

// killOrphans kills the front's remaining children, GoNB's orphans adopted
// as subreaper, and reaps them.
func killOrphans(l *log.Logger) {
	self := os.Getpid()
	for _, c := range children(self) {
		if c.state != "Z" { // zombies are dead already, only to be reaped
			l.Printf("killing process %d left behind by gonb", c.pid)
		}
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if err != nil { // ECHILD: none left
			return
		}
		if pid == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

type process struct {
	pid   int
	state string // as in /proc/PID/stat: R, S, Z, ...
}

// children returns the processes whose parent is ppid.
func children(ppid int) []process {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var procs []process
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parentheses.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		pid, err := strconv.Atoi(strings.Fields(s)[0])
		if err == nil {
			procs = append(procs, process{pid: pid, state: fields[0]})
		}
	}
	return procs
}
