package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel is not started directly but under a small reaper: the program
// that uses this package, re-executed with reaperEnv set. The reaper is
// started with Pdeathsig, so it learns of the runner's death even when the
// runner is killed with SIGKILL; it is a child subreaper, so processes the
// kernel starts and orphans (GoNB's compiled cells, a sandbox's children)
// stay its descendants; and whenever it goes (its runner died, it got
// SIGTERM, the kernel exited) it kills every descendant first. A kernel
// started by this package therefore never outlives its runner.
const reaperEnv = "PPML_KERNEL_REAPER"

func init() {
	if os.Getenv(reaperEnv) != "1" {
		return
	}
	os.Exit(reap(os.Args[1:]))
}

// reap runs argv as a child and returns its exit status, killing all of its
// own descendants on the way out.
func reap(argv []string) int {
	os.Unsetenv(reaperEnv)
	// SIGINT goes to the whole process group when the runner interrupts
	// the kernel: catch it (so it is not inherited as ignored) and drop it.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGHUP)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "kernel reaper: subreaper:", err)
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "kernel reaper: no command")
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "kernel reaper:", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	code := 0
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	case <-stop:
		code = 128 + int(syscall.SIGTERM)
	}
	killDescendants(os.Getpid())
	return code
}

// killDescendants sends SIGKILL to every descendant of pid, found through
// /proc, until none is left (a few rounds catch processes forked meanwhile).
func killDescendants(pid int) {
	for range 5 {
		kids := descendants(pid)
		if len(kids) == 0 {
			return
		}
		for _, k := range kids {
			syscall.Kill(k, syscall.SIGKILL)
		}
		// Reap the killed children so they do not linger as zombies.
		for {
			if p, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); p <= 0 || err != nil {
				break
			}
		}
	}
}

// descendants returns the pids of all descendants of pid.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentPid(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentPid reads the parent pid of p from /proc/p/stat.
func parentPid(p int) (int, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may contain spaces: parse after it.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}
