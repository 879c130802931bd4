package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sandbox is one prepared sandbox: its cgroups and private Go cache. Close
// releases them.
type Sandbox struct {
	cfg     *Config
	cg      *cgroup
	tmp     string // private directory holding the Go cache layers
	gocache string // host path bound as GOCACHE, "" for none
	mounted bool
}

// New prepares a sandbox for cfg: cgroups for its limits (when it may create
// them) and a private Go build cache.
func New(cfg *Config) (*Sandbox, error) {
	if cfg.Work == "" {
		return nil, errors.New("sandbox: no work directory")
	}
	tmp, err := os.MkdirTemp(cfg.State, "ppml-sandbox-")
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, tmp: tmp}
	s.cg = newCgroup(filepath.Base(tmp), cfg.Memory, cfg.Procs)
	var lower []string
	for _, d := range cfg.GoCache {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			lower = append(lower, d)
		}
	}
	merged := filepath.Join(tmp, "gocache")
	if err := os.Mkdir(merged, 0o755); err != nil {
		s.Close()
		return nil, err
	}
	s.gocache = merged
	if len(lower) > 0 {
		up, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
		os.Mkdir(up, 0o755)
		os.Mkdir(work, 0o755)
		opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + up + ",workdir=" + work
		if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err == nil {
			s.mounted = true
		}
	}
	return s, nil
}

// Limited reports which limits are enforced by cgroups (for the whole
// sandbox) rather than by rlimits (per process).
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

// OOMKilled reports whether the sandbox's memory limit killed a process.
func (s *Sandbox) OOMKilled() bool { return s.cg.oomKilled() }

// SharedCache reports whether the Go cache layers over the read-only
// caches; false means a private empty cache (slow first builds).
func (s *Sandbox) SharedCache() bool { return s.mounted }

// Command returns the command running argv in the sandbox; extra files of
// the returned command start at descriptor 3 (bwrap's info fd when infoFD).
func (s *Sandbox) Command(ctx context.Context, argv []string, infoFD bool) *exec.Cmd {
	fd := 0
	if infoFD {
		fd = 3
	}
	memCG, _ := s.Limited()
	a := append([]string{"bwrap"}, s.cfg.args(s.gocache, fd)...)
	a = append(a, "--")
	a = append(a, argv...)
	a = s.cg.wrap(append(s.cfg.limits(memCG), a...))
	cmd := exec.CommandContext(ctx, a[0], a[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Close kills what is left in the sandbox and removes its cgroups and
// private cache.
func (s *Sandbox) Close() error {
	s.cg.remove()
	if s.mounted {
		syscall.Unmount(filepath.Join(s.tmp, "gocache"), syscall.MNT_DETACH)
	}
	return os.RemoveAll(s.tmp)
}

// Cleanup releases the sandboxes whose helper was killed before it could:
// it kills what is left in their cgroups, removes the cgroups, unmounts
// their Go caches and removes their directories under state.
func Cleanup(state string) {
	dirs, _ := filepath.Glob(filepath.Join(state, "ppml-sandbox-*"))
	for _, d := range dirs {
		s := &Sandbox{tmp: d, mounted: true}
		s.cg = existingCgroup(filepath.Base(d))
		s.Close()
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

// KernelMain is the sandbox's kernel helper, run as the argv prefix of a
// kernel that the runner starts:
//
//	HELPER --config FILE --conn-dir DIR -- KERNEL ARGV...
//
// It finds the connection file (the argument under DIR), starts the kernel
// in the sandbox described by the config file, relays the five ports from
// the host's loopback into the sandbox's network namespace, forwards SIGINT
// and SIGTERM, and exits with the kernel's status.
func KernelMain(args []string) int {
	var cfgPath, connDir string
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "sandbox: usage: --config FILE --conn-dir DIR -- ARGV")
			return 2
		}
		switch args[0] {
		case "--config":
			cfgPath = args[1]
		case "--conn-dir":
			connDir = args[1]
		}
		args = args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "sandbox: no command")
		return 2
	}
	argv := args[1:]
	cfg, err := ReadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	conn := ""
	for _, a := range argv {
		if connDir != "" && strings.HasPrefix(a, filepath.Clean(connDir)+"/") {
			conn = a
		}
	}
	if conn == "" {
		fmt.Fprintln(os.Stderr, "sandbox: no connection file under", connDir, "in", argv)
		return 2
	}
	ports, err := connPorts(conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	code, err := runKernel(cfg, conn, ports, argv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
	}
	return code
}

func connPorts(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("connection file %s: %w", path, err)
	}
	if c["transport"] != "tcp" || c["ip"] != "127.0.0.1" {
		return nil, fmt.Errorf("connection file %s: only tcp on 127.0.0.1 is relayed", path)
	}
	var ports []int
	for _, k := range []string{"shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"} {
		p, ok := c[k].(float64)
		if !ok {
			return nil, fmt.Errorf("connection file %s: no %s", path, k)
		}
		ports = append(ports, int(p))
	}
	return ports, nil
}

func runKernel(cfg *Config, conn string, ports []int, argv []string) (int, error) {
	// Listen first: the runner connects as soon as we are started.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return 1, fmt.Errorf("relay port %d: %w", p, err)
		}
		ls = append(ls, l)
	}
	cfg.ReadOnly = append(cfg.ReadOnly, conn)
	s, err := New(cfg)
	if err != nil {
		return 1, err
	}
	defer s.Close()
	infoR, infoW, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	cmd := s.Command(context.Background(), argv, true)
	cmd.ExtraFiles = []*os.File{infoW}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start bwrap: %w", err)
	}
	infoW.Close()
	var info struct {
		Pid int `json:"child-pid"`
	}
	dec := json.NewDecoder(infoR)
	if err := dec.Decode(&info); err != nil || info.Pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		return 1, fmt.Errorf("bwrap reported no sandbox pid: %v", err)
	}
	go io.Copy(io.Discard, infoR)
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", info.Pid))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 1, fmt.Errorf("sandbox network namespace: %w", err)
	}
	defer ns.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			relay(l, int(ns.Fd()), ports[i], done)
		}()
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
loop:
	for {
		select {
		case sig := <-sigs:
			// The kernel is bwrap's child: SIGINT goes to it; other signals end the sandbox.
			if sig == syscall.SIGINT {
				syscall.Kill(info.Pid, syscall.SIGINT)
			} else {
				cmd.Process.Kill()
			}
		case werr = <-waited:
			break loop
		}
	}
	close(done)
	for _, l := range ls {
		l.Close()
	}
	if s.OOMKilled() {
		fmt.Fprintln(os.Stderr, "sandbox: the memory limit killed a process")
	}
	if ee, ok := werr.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if werr != nil {
		return 1, werr
	}
	return 0, nil
}

// relay accepts connections on l and joins each to port in the network
// namespace nsfd, retrying while the kernel is not listening yet.
func relay(l net.Listener, nsfd, port int, done <-chan struct{}) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var k net.Conn
			for try := 0; ; try++ {
				k, err = dialIn(nsfd, "127.0.0.1:"+strconv.Itoa(port))
				if err == nil {
					break
				}
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if try > 1200 { // a minute: the kernel never listened
					return
				}
			}
			defer k.Close()
			go func() {
				io.Copy(k, c)
				k.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, k)
		}()
	}
}

// dialIn dials addr from inside the network namespace nsfd: on a locked
// thread that enters the namespace and is then thrown away.
func dialIn(nsfd int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
