// Package sandbox runs untrusted programs, such as a Jupyter kernel
// executing a student's notebook, under Linux namespaces with Debian's
// bubblewrap (bwrap), as root or as a normal user alike: no network, a
// private file system view with read-only binds of what the program needs, a
// private writable work dir, HOME and /tmp, and memory, task and CPU limits
// (cgroups when the caller may create them, else rlimits set inside the
// sandbox). SANDBOX.md in the parent package says what it guarantees and
// what it does not.
//
// The helpers run inside and around the sandbox are this program itself,
// re-executed: a program that starts sandboxes calls Main first thing (see
// Main). Inside, a small init process sets the limits, relays the kernel's
// TCP ports (on the sandbox's own loopback) to Unix sockets in a directory
// bound from the host, and starts the program. Outside, KernelPrefix's
// helper listens on the connection file's ports on the host's loopback and
// joins each connection to its Unix socket: the kernel's client never
// enters the sandbox's namespaces (which a normal user may not do), and the
// kernel can reach nothing outside.
//
// Go builds in the sandbox read the teacher's warmed build caches without
// being able to change them: GOCACHEPROG is this program's cache helper
// (CacheProg), which reads the read-only layers and writes new entries to
// the sandbox's private cache, thrown away with it.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	// directory and HOME, at /sandbox/home (outside /home, so that it never
	// covers a bound host path such as a user's module cache in /home/USER).
	Work string `json:"work"`
	// GoCache lists read-only Go build caches (GOCACHE directories), first
	// looked up first: the program's go commands read them through
	// GOCACHEPROG and write new entries to a private cache.
	GoCache []string `json:"go_cache"`
	// GoCacheWrite, if not "", is a host directory (GOCACHE layout) bound
	// read-write that takes the new build entries in place of the private
	// cache: for a trusted program whose builds warm a cache that later
	// sandboxes read (in their GoCache).
	GoCacheWrite string `json:"go_cache_write,omitempty"`
	// Env are the variables the program gets (NAME=value); nothing else of
	// the caller's environment passes.
	Env []string `json:"env"`
	// Memory is the memory limit in bytes: for everything in the sandbox
	// with cgroups, else for each process (RLIMIT_AS).
	Memory int64 `json:"memory"`
	// Procs is the limit on processes and threads in the sandbox.
	Procs int `json:"procs"`
	// CPU is the CPU time limit of each process.
	CPU time.Duration `json:"cpu"`
	// State is the directory where the sandbox keeps its private files (Go
	// cache, sockets; "" for the system's temporary directory).
	// Cleanup(State) releases what a killed helper left behind.
	State string `json:"state,omitempty"`
	// Self is this program's executable, run as the helpers ("" for
	// os.Executable()); it must call Main.
	Self string `json:"self,omitempty"`
}

// Paths inside the sandbox.
const (
	// Home is the working directory and HOME inside the sandbox.
	Home = "/sandbox/home"
	// binPath is the helper program (Config.Self).
	binPath = "/sandbox/bin/helper"
	// goCacheDir is GOCACHE and the cache helper's writable layer.
	goCacheDir = "/sandbox/gocache"
	// goCacheWrite is Config.GoCacheWrite.
	goCacheWrite = "/sandbox/gocache-rw"
	// goCacheLayers holds the read-only caches, as 0, 1, ...
	goCacheLayers = "/sandbox/gocache-ro"
	// runDir holds the relays' Unix sockets, one per port.
	runDir = "/sandbox/run"
)

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

// Limits says how cfg's limits are enforced here, for the first line of a
// grader's output: by cgroups for the whole sandbox when this process may
// create them, else by rlimits.
func Limits(cfg *Config) string {
	memCG, procsCG := cgroupsWritable()
	var parts []string
	if cfg.Memory > 0 {
		if memCG {
			parts = append(parts, fmt.Sprintf("memory %s per sandbox (cgroup)", size(cfg.Memory)))
		} else {
			parts = append(parts, fmt.Sprintf("memory %s per process (RLIMIT_AS; no writable memory cgroup)", size(cfg.Memory)))
		}
	}
	if cfg.Procs > 0 {
		how := "RLIMIT_NPROC in the sandbox's user namespace"
		if procsCG {
			how = "pids cgroup"
		}
		parts = append(parts, fmt.Sprintf("%d tasks per sandbox (%s)", cfg.Procs, how))
	}
	if cfg.CPU > 0 {
		parts = append(parts, fmt.Sprintf("CPU %v per process (RLIMIT_CPU)", cfg.CPU))
	}
	return strings.Join(parts, ", ")
}

func size(b int64) string {
	switch {
	case b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d bytes", b)
}

// essentials are the host paths every program needs to run.
var essentials = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
	"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/localtime",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/ssl/certs"}

// args returns bwrap's arguments (before the command) for c, with tmp the
// sandbox's private host directory and infoFD the descriptor bwrap reports
// the sandbox's pid on (0 for none).
func (c *Config) args(tmp, self string, infoFD int) []string {
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
	a = append(a, "--ro-bind", self, binPath,
		"--bind", filepath.Join(tmp, "run"), runDir,
		"--bind", c.Work, Home, "--chdir", Home, "--setenv", "HOME", Home, "--setenv", "TMPDIR", "/tmp",
		"--bind", filepath.Join(tmp, "gocache"), goCacheDir, "--setenv", "GOCACHE", goCacheDir)
	prog := []string{binPath, cacheProgArg, goCacheDir}
	if c.GoCacheWrite != "" {
		a = append(a, "--bind", c.GoCacheWrite, goCacheWrite)
		prog[2] = goCacheWrite
	}
	for i, d := range c.GoCache {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			in := filepath.Join(goCacheLayers, strconv.Itoa(i))
			a = append(a, "--ro-bind", d, in)
			prog = append(prog, in)
		}
	}
	if len(prog) > 3 || c.GoCacheWrite != "" {
		a = append(a, "--setenv", "GOCACHEPROG", strings.Join(prog, " "))
	}
	for _, kv := range c.Env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "HOME" && k != "GOCACHE" && k != "GOCACHEPROG" && k != "TMPDIR" {
			a = append(a, "--setenv", k, v)
		}
	}
	return append(a, "--remount-ro", "/") // after every mount: nothing but the binds above is writable
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

// Sandbox is one prepared sandbox: its cgroups and private directory (Go
// cache, relay sockets). Close releases them.
type Sandbox struct {
	cfg  *Config
	cg   *cgroup
	tmp  string // private directory: gocache, run
	self string
}

// New prepares a sandbox for cfg: cgroups for its limits (when it may
// create them) and a private directory.
func New(cfg *Config) (*Sandbox, error) {
	if cfg.Work == "" {
		return nil, errors.New("sandbox: no work directory")
	}
	self := cfg.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("sandbox: the helper program: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(cfg.State, "ppml-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{cfg: cfg, tmp: tmp, self: self}
	for _, d := range []string{"gocache", "run"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	s.cg = newCgroup(filepath.Base(tmp), cfg.Memory, cfg.Procs)
	return s, nil
}

// Limited reports which limits are enforced by cgroups (for the whole
// sandbox) rather than by rlimits.
func (s *Sandbox) Limited() (memory, procs bool) {
	if s.cg == nil {
		return false, false
	}
	for _, d := range s.cg.dirs {
		if strings.Contains(d, "/pids/") {
			procs = true
		}
	}
	return s.cg.memory, procs
}

// OOMKilled reports whether the sandbox's memory cgroup killed a process.
func (s *Sandbox) OOMKilled() bool { return s.cg.oomKilled() }

// Command returns the command running argv in the sandbox under its init
// (limits, relays of the ports relay to Unix sockets; see Socket). Extra
// files of the returned command start at descriptor 3 (bwrap's info fd,
// when infoFD).
func (s *Sandbox) Command(ctx context.Context, argv []string, relay []int, infoFD bool) *exec.Cmd {
	fd := 0
	if infoFD {
		fd = 3
	}
	memCG, _ := s.Limited()
	a := append([]string{"bwrap"}, s.cfg.args(s.tmp, s.self, fd)...)
	a = append(a, "--", binPath, initArg)
	if s.cfg.CPU > 0 {
		a = append(a, "--cpu", strconv.Itoa(int(s.cfg.CPU.Seconds())))
	}
	if s.cfg.Procs > 0 {
		a = append(a, "--nproc", strconv.Itoa(s.cfg.Procs))
	}
	if s.cfg.Memory > 0 && !memCG {
		a = append(a, "--as", strconv.FormatInt(s.cfg.Memory, 10))
	}
	for _, p := range relay {
		a = append(a, "--relay", strconv.Itoa(p))
	}
	a = append(a, "--")
	a = s.cg.wrap(append(a, argv...))
	cmd := exec.CommandContext(ctx, a[0], a[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Socket is the host path of the Unix socket that the sandbox's init joins
// to port on the sandbox's loopback.
func (s *Sandbox) Socket(port int) string {
	return filepath.Join(s.tmp, "run", strconv.Itoa(port))
}

// Close kills what is left in the sandbox's cgroups and removes them and
// its private directory.
func (s *Sandbox) Close() error {
	s.cg.remove()
	return os.RemoveAll(s.tmp)
}

// Cleanup releases the sandboxes whose helper was killed before it could:
// it kills what is left in their cgroups, removes the cgroups and their
// directories under state.
func Cleanup(state string) {
	dirs, _ := filepath.Glob(filepath.Join(state, "ppml-sandbox-*"))
	for _, d := range dirs {
		s := &Sandbox{tmp: d}
		s.cg = existingCgroup(filepath.Base(d))
		s.Close()
	}
}
