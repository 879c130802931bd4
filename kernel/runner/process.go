package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/kernel/jupyter"
)

// process is one running kernel process (under its guardian) and its
// connection file.
type process struct {
	cmd      *exec.Cmd
	connFile string
	info     *jupyter.ConnectionInfo
	output   *tailBuffer

	exited  chan struct{} // closed when the process has been waited for
	waitErr error
}

// startProcess writes a connection file and starts the kernel of spec in
// its own process group, under a guardian.
func startProcess(spec *Spec, opts *Options) (*process, error) {
	info, err := jupyter.NewConnectionInfo(spec.Name)
	if err != nil {
		return nil, err
	}
	dir := opts.ConnectionDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "kernel-"+info.Key[:8]+"-*.json")
	if err != nil {
		return nil, fmt.Errorf("runner: connection file: %w", err)
	}
	f.Close()
	p := &process{connFile: f.Name(), info: info, output: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	if err := info.WriteFile(p.connFile); err != nil {
		os.Remove(p.connFile)
		return nil, err
	}
	argv, specEnv := spec.command(p.connFile)
	argv = append(append([]string(nil), opts.ArgvPrefix...), argv...)

	// The kernel runs under a guardian (package reaper) when the program
	// called reaper.Main: it kills whatever the kernel leaves, also when the
	// runner dies by SIGKILL.
	guarded := false
	if opts.NoReaper {
		p.cmd = exec.Command(argv[0], argv[1:]...)
	} else {
		p.cmd, guarded = reaper.Command(argv[0], argv[1:]...)
	}
	base := p.cmd.Env // the guardian's marker, if any
	if base == nil {
		base = os.Environ()
	}
	p.cmd.Env = append(append(base, specEnv...), opts.Env...)
	p.cmd.Dir = opts.Dir
	var out io.Writer = p.output
	if opts.KernelOutput != nil {
		out = io.MultiWriter(p.output, opts.KernelOutput)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Setpgid: the kernel and what it starts form a group that interrupts
	// and kills reach at once. Pdeathsig: the guardian (or the kernel) learns
	// of the runner's death even by SIGKILL; the guardian then kills all.
	sig := syscall.SIGKILL
	if guarded {
		sig = syscall.SIGTERM
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig}
	if err := p.cmd.Start(); err != nil {
		os.Remove(p.connFile)
		return nil, fmt.Errorf("runner: start kernel %s (%s): %w", spec.Name, strings.Join(argv, " "), err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// signal sends sig to the kernel's process group.
func (p *process) signal(sig syscall.Signal) error {
	if p.hasExited() {
		return nil
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill ends the process group with SIGKILL after giving the kernel grace to
// exit by itself, waits for the process and removes the connection file.
func (p *process) kill(grace time.Duration) {
	if grace > 0 {
		select {
		case <-p.exited:
		case <-time.After(grace):
		}
	}
	// SIGTERM first lets the guardian kill descendants that left the group;
	// SIGKILL then ends what is left of the group.
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(500 * time.Millisecond):
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	os.Remove(p.connFile)
}

// exitDescription describes how the process ended, with the tail of its
// output.
func (p *process) exitDescription() string {
	var b strings.Builder
	if p.waitErr != nil {
		b.WriteString(p.waitErr.Error())
	} else {
		b.WriteString("exit status 0")
	}
	if tail := strings.TrimSpace(p.output.String()); tail != "" {
		lines := strings.Split(tail, "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		b.WriteString("; last output:\n  " + strings.Join(lines, "\n  "))
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = bytes.Clone(t.buf[len(t.buf)-t.max:])
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

var _ = filepath.Join
