package reaper

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const supported = true

func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// BecomeSubreaper makes the calling process a child subreaper: the
// processes its descendants orphan become its children (instead of init's),
// so that KillDescendants finds them.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("reaper: PR_SET_CHILD_SUBREAPER: %w", err)
	}
	return nil
}

// guard is the guardian: it runs argv as its child and returns its exit
// status (128+signal if a signal ended it or the guardian), with every
// descendant of the guardian killed.
func guard(argv []string) int {
	// SIGINT goes to the whole process group when a client interrupts a
	// kernel by signal: it is for the command, not for the guardian.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGHUP)
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper guardian:", err)
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "reaper guardian: no command")
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper guardian:", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var code int
	select {
	case err := <-done:
		code = exitCode(err)
	case sig := <-stop:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			code = exitCode(err)
		case <-time.After(StopGrace):
			code = 128 + int(sig.(syscall.Signal))
		}
	}
	KillDescendants(os.Getpid())
	return code
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// KillDescendants sends SIGKILL to every descendant of pid and reaps those
// that are the caller's children, in rounds until none is left (a process
// may fork while the round runs). It returns the pids it killed that were
// not zombies already.
func KillDescendants(pid int) []int {
	var killed []int
	for range 5 {
		procs := Descendants(pid)
		if len(procs) == 0 {
			break
		}
		for _, p := range procs {
			if p.State != "Z" {
				killed = append(killed, p.PID)
			}
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		reapChildren(time.Second)
	}
	return killed
}

// reapChildren waits for the caller's exited children until it has none
// left or d has passed.
func reapChildren(d time.Duration) {
	deadline := time.Now().Add(d)
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

// WithEnv returns the live processes (zombies left out) whose environment
// has entry ("NAME=value"): how a test finds what a program it ran left
// behind, whatever became of their parents.
func WithEnv(entry string) []int {
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, f := range envs {
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte("\x00"+entry+"\x00")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
		if err != nil {
			continue
		}
		if p, ok := parseStat(string(stat)); ok && p.State != "Z" {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// Process is a process as /proc/PID/stat shows it.
type Process struct {
	PID, PPID int
	State     string // R, S, D, Z, T, ...
}

// Descendants returns the descendants of pid, parents before children.
func Descendants(pid int) []Process {
	children := map[int][]Process{}
	for _, p := range processes() {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var out []Process
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.PID)
		}
		queue = queue[1:]
	}
	return out
}

// processes returns every process /proc lists.
func processes() []Process {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	procs := make([]Process, 0, len(stats))
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // it exited meanwhile
		}
		if p, ok := parseStat(string(data)); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// parseStat parses the start of /proc/PID/stat: "pid (comm) state ppid ...",
// where comm may contain spaces and parentheses.
func parseStat(s string) (Process, bool) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return Process{}, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(s[:open]))
	f := strings.Fields(s[closing+1:])
	if err1 != nil || len(f) < 2 {
		return Process{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Process{}, false
	}
	return Process{PID: pid, PPID: ppid, State: f[0]}, true
}
