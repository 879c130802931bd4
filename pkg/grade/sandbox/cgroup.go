package sandbox

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroup is a pair of cgroup v1 groups (pids and memory) or a v2 group that
// limits one sandbox.
type cgroup struct {
	dirs   []string
	memory bool
}

// newCgroup creates cgroups limiting memory and processes under the
// caller's own groups; it returns nil when cgroups are not writable here.
func newCgroup(name string, memory int64, procs int) *cgroup {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	cg := &cgroup{}
	sc := bufio.NewScanner(strings.NewReader(string(self)))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file, value string
		switch parts[1] {
		case "pids":
			if procs <= 0 {
				continue
			}
			file, value = "pids.max", strconv.Itoa(procs)
		case "memory":
			if memory <= 0 {
				continue
			}
			file, value = "memory.limit_in_bytes", strconv.FormatInt(memory, 10)
		default:
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", parts[1], parts[2], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
			os.Remove(dir)
			continue
		}
		if parts[1] == "memory" {
			// No swap beyond the limit, when the kernel accounts swap.
			os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(value), 0o644)
			cg.memory = true
		}
		cg.dirs = append(cg.dirs, dir)
	}
	if len(cg.dirs) == 0 {
		return nil
	}
	return cg
}

// joinScript is a shell trampoline that moves itself into the cgroups given
// as its first arguments, up to "--", then runs the rest.
const joinScript = `while [ "$1" != -- ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"`

// wrap returns argv run inside the cgroups.
func (cg *cgroup) wrap(argv []string) []string {
	if cg == nil {
		return argv
	}
	a := []string{"/bin/sh", "-c", joinScript, "sh"}
	a = append(a, cg.dirs...)
	a = append(a, "--")
	return append(a, argv...)
}

// oomKilled reports whether the memory cgroup killed a process.
func (cg *cgroup) oomKilled() bool {
	if cg == nil {
		return false
	}
	for _, d := range cg.dirs {
		if data, err := os.ReadFile(filepath.Join(d, "memory.oom_control")); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if n, ok := strings.CutPrefix(l, "oom_kill "); ok && n != "0" {
					return true
				}
			}
		}
	}
	return false
}

// remove deletes the cgroups, killing whatever is left in them first.
func (cg *cgroup) remove() {
	if cg == nil {
		return
	}
	for _, d := range cg.dirs {
		for range 50 {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(procs)) {
				if pid, err := strconv.Atoi(f); err == nil {
					killPid(pid)
				}
			}
			if os.Remove(d) == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// existingCgroup finds the cgroups newCgroup made with name.
func existingCgroup(name string) *cgroup {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	cg := &cgroup{}
	for _, l := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && (parts[1] == "pids" || parts[1] == "memory") {
			d := filepath.Join("/sys/fs/cgroup", parts[1], parts[2], name)
			if _, err := os.Stat(d); err == nil {
				cg.dirs = append(cg.dirs, d)
			}
		}
	}
	return cg
}

func killPid(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

// cgroupsWritable reports whether this process may create the cgroups that
// limit memory and tasks per sandbox, trying for real.
func cgroupsWritable() (memory, procs bool) {
	cg := newCgroup("ppml-probe-"+strconv.Itoa(os.Getpid()), 1<<30, 64)
	defer cg.remove()
	if cg == nil {
		return false, false
	}
	for _, d := range cg.dirs {
		if strings.Contains(d, "/pids/") {
			procs = true
		}
	}
	return cg.memory, procs
}
