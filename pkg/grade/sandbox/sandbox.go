// Package sandbox runs untrusted programs, such as a Jupyter kernel
// executing a student's notebook, under Linux namespaces with Debian's
// bubblewrap (bwrap): no network, a private file system view with read-only
// binds of what the program needs, a private writable work dir, HOME and
// /tmp, and memory, process-count and CPU limits (cgroups when the caller
// may create them, else rlimits). SANDBOX.md in the parent package says what
// it guarantees and what it does not.
//
// A kernel in the sandbox has its own network namespace, so a client outside
// cannot reach its TCP ports directly. Kernel starts the kernel and relays
// the connection file's five ports from the host's loopback into the
// sandbox's, dialing from a thread that has entered the sandbox's network
// namespace; the kernel itself can reach nothing outside.
package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// Config says what a sandboxed program may see and use.
type Config struct {
	// ReadOnly are host paths bound read-only at the same place (missing
	// paths are skipped).
	ReadOnly []string `json:"read_only"`
	// Hide are paths inside ReadOnly trees that the program must not read;
	// directories are covered by an empty tmpfs, files by /dev/null.
	Hide []string `json:"hide"`
	// Sources are checkouts of Go modules the program builds against (the
	// project a notebook imports), of which it sees only what a build needs:
	// go.mod, go.sum and the non-test .go files of the module's packages,
	// bound read-only at the same place. The rest of the checkout stays
	// invisible: .git, notebooks with solutions and hidden tests, tests and
	// their testdata, nested modules.
	Sources []string `json:"sources,omitempty"`
	// Work is the host directory bound read-write as the program's working
	// directory and HOME, at /sandbox/home (outside /home, so that it never covers a
	// bound host path such as a user's module cache in /home/USER).
	Work string `json:"work"`
	// GoCache lists read-only Go build caches, newest first: the program
	// gets a private writable GOCACHE layered over them (an overlay mount
	// when possible, else an empty private cache).
	GoCache []string `json:"go_cache"`
	// Env are the variables the program gets (NAME=value); nothing else of
	// the caller's environment passes.
	Env []string `json:"env"`
	// Memory is the memory limit in bytes for everything in the sandbox.
	Memory int64 `json:"memory"`
	// Procs is the limit on processes and threads in the sandbox.
	Procs int `json:"procs"`
	// CPU is the CPU time limit of each process.
	CPU time.Duration `json:"cpu"`
	// State is the directory where the sandbox keeps its private Go cache
	// layers ("" for the system's temporary directory). Cleanup(State)
	// releases what a killed helper left behind.
	State string `json:"state,omitempty"`
}

// Home is the working directory and HOME inside the sandbox.
const Home = "/sandbox/home"

// goCacheDir is GOCACHE inside the sandbox.
const goCacheDir = "/gocache"

// Available reports whether bwrap is installed and can create the
// namespaces the sandbox needs here, with the reason when it cannot.
func Available() error {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		return errors.New("bubblewrap is not installed (Debian: apt-get install bubblewrap)")
	}
	out, err := exec.Command(bw, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
		"--unshare-user", "--die-with-parent", "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("bwrap cannot create namespaces here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// essentials are the host paths every program needs to run.
var essentials = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
	"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/localtime",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/ssl/certs"}

// args returns bwrap's arguments (before the command) for c, with gocache
// the host directory to bind as GOCACHE ("" for none) and infoFD the
// descriptor bwrap reports the sandbox's pid on (0 for none).
func (c *Config) args(gocache string, infoFD int) []string {
	a := []string{
		"--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000", "--hostname", "sandbox",
		"--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/root", "--tmpfs", "/home",
	}
	if infoFD > 0 {
		a = append(a, "--info-fd", strconv.Itoa(infoFD))
	}
	seen := map[string]bool{}
	for _, p := range append(append([]string(nil), essentials...), c.ReadOnly...) {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Stat(p); err != nil {
			continue
		}
		a = append(a, "--ro-bind", p, p)
	}
	for _, root := range c.Sources {
		for _, f := range moduleSources(root) {
			a = append(a, "--ro-bind", f, f)
		}
	}
	for _, p := range c.Hide {
		if !under(p, c.ReadOnly) {
			continue // not visible in the sandbox anyway
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
		case st.IsDir():
			a = append(a, "--tmpfs", p, "--remount-ro", p)
		default:
			a = append(a, "--ro-bind", "/dev/null", p)
		}
	}
	a = append(a, "--bind", c.Work, Home, "--chdir", Home, "--setenv", "HOME", Home, "--setenv", "TMPDIR", "/tmp")
	if gocache != "" {
		a = append(a, "--bind", gocache, goCacheDir, "--setenv", "GOCACHE", goCacheDir)
	}
	for _, kv := range c.Env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "HOME" && k != "GOCACHE" && k != "TMPDIR" {
			a = append(a, "--setenv", k, v)
		}
	}
	return append(a, "--remount-ro", "/") // after every mount: nothing but the binds above is writable
}

// limits returns the prlimit arguments for c; memory is set as an address
// space limit only when no cgroup enforces it.
func (c *Config) limits(cgroupMemory bool) []string {
	a := []string{"prlimit"}
	if c.CPU > 0 {
		a = append(a, "--cpu="+strconv.Itoa(int(c.CPU.Seconds())))
	}
	if c.Procs > 0 {
		a = append(a, "--nproc="+strconv.Itoa(c.Procs))
	}
	if c.Memory > 0 && !cgroupMemory {
		a = append(a, "--as="+strconv.FormatInt(c.Memory, 10))
	}
	a = append(a, "--core=0", "--")
	return a
}

// WriteFile saves c as JSON, for the sandbox helper to read.
func (c *Config) WriteFile(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// ReadConfig reads a Config saved by WriteFile.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := new(Config)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("sandbox config %s: %w", path, err)
	}
	return c, nil
}

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

// under reports whether path p is one of dirs or inside one of them.
func under(p string, dirs []string) bool {
	p, _ = filepath.Abs(p)
	for _, d := range dirs {
		d, _ = filepath.Abs(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// moduleSources lists what building against the Go module checked out at
// root needs: its go.mod and go.sum, and the .go files of its packages but
// tests, skipping directories named testdata or starting with "." or "_"
// (which the go command ignores too) and nested modules; and the same of the
// modules its go.mod replaces by local directories.
func moduleSources(root string) []string {
	return moduleSourcesOnce(root, map[string]bool{})
}

func moduleSourcesOnce(root string, seen map[string]bool) []string {
	root, err := filepath.Abs(root)
	if err != nil || seen[root] {
		return nil
	}
	seen[root] = true
	var out []string
	if data, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		if mod, err := modfile.Parse("go.mod", data, nil); err == nil {
			for _, r := range mod.Replace {
				if r.New.Version == "" && modfile.IsDirectoryPath(r.New.Path) {
					dir := r.New.Path
					if !filepath.IsAbs(dir) {
						dir = filepath.Join(root, dir)
					}
					out = append(out, moduleSourcesOnce(dir, seen)...)
				}
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.Mode().IsRegular() {
			out = append(out, filepath.Join(root, f))
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != root && err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	return out
}
