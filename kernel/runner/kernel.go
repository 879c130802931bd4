// Package runner starts Jupyter kernels from their kernelspecs and executes
// code and whole notebooks on them over the Jupyter messaging protocol, as
// nbclient does, without Python.
//
// A Kernel runs one cell at a time (Execute), collecting the outputs a
// notebook stores; a cell that runs too long is interrupted (as the
// kernelspec's interrupt_mode says) and, if still stuck, the kernel is
// restarted; a kernel that dies or stops answering heartbeats is reported
// as such. RunNotebook executes every code cell of an nbformat notebook and
// reports per cell.
//
// No kernel process outlives its runner: kernels run in their own process
// group under a guardian (package internal/reaper) that kills them and
// everything they started when the runner goes, even by SIGKILL. The
// guardian is the runner's own executable re-executed, so a program using
// this package calls reaper.Main first thing in main (and in TestMain);
// in a program that does not, kernels run without a guardian, and only
// the kernel itself is killed (parent-death signal) if the runner dies.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/ppml-go/ppml/kernel/jupyter"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// Options configure how a kernel is started and watched. The zero value
// is usable.
type Options struct {
	// Env is added to the environment of the kernel ("KEY=value"), after
	// the runner's own environment and the kernelspec's env.
	Env []string
	// Dir is the kernel's working directory ("" is the runner's).
	Dir string
	// ArgvPrefix is put before the kernel command, e.g. a sandbox:
	// {"bwrap", ..., "--"}. The connection file must be readable inside it
	// (see ConnectionDir), and the kernel must reach 127.0.0.1 ports of
	// the runner's network namespace.
	ArgvPrefix []string
	// ConnectionDir is where connection files are written (default
	// os.TempDir()).
	ConnectionDir string
	// KernelOutput, if not nil, receives the kernel process's stdout and
	// stderr (its logs, not cell outputs).
	KernelOutput io.Writer
	// StartTimeout bounds the start, up to the first kernel_info_reply
	// (default 60s).
	StartTimeout time.Duration
	// InterruptGrace is how long a timed-out cell has, after the interrupt,
	// to finish before the kernel is restarted (default 5s).
	InterruptGrace time.Duration
	// HeartbeatInterval is the time between heartbeat pings (default 1s);
	// a kernel that answers none for HeartbeatTimeout (default 10s) is
	// declared dead.
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// ShutdownTimeout is how long a kernel has to exit after
	// shutdown_request before it is killed (default 3s).
	ShutdownTimeout time.Duration
	// NoReaper starts the kernel directly instead of under a guardian
	// (then only the direct child is killed if the runner is killed).
	NoReaper bool
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StartTimeout, 60*time.Second)
	def(&o.InterruptGrace, 5*time.Second)
	def(&o.HeartbeatInterval, time.Second)
	def(&o.HeartbeatTimeout, 10*time.Second)
	def(&o.ShutdownTimeout, 3*time.Second)
	return o
}

// Status is the outcome of executing one cell.
type Status string

// Cell outcomes.
const (
	StatusOK      Status = "ok"
	StatusError   Status = "error"   // the code raised an error (ename, evalue, traceback)
	StatusTimeout Status = "timeout" // ran past its timeout and was interrupted
	StatusDied    Status = "died"    // the kernel died or stopped answering heartbeats
	// StatusSkipped marks a code cell not executed because an earlier cell
	// failed; StatusRunning is reported to progress callbacks at the start.
	StatusSkipped Status = "skipped"
	StatusRunning Status = "running"
)

// Result is the outcome of one execution.
type Result struct {
	Status Status
	// ExecutionCount is the kernel's counter for this execution (0 if it
	// never said).
	ExecutionCount int
	// Outputs are the cell outputs as a notebook stores them.
	Outputs []*nbformat.Output
	// EName, EValue and Traceback describe the error of StatusError (and
	// of an interrupted StatusTimeout, when the kernel reported one).
	EName, EValue string
	Traceback     []string
	// Message explains a status other than ok in one sentence.
	Message string
	// Restarted is set when the kernel was restarted after this execution
	// (it was stuck after a timeout).
	Restarted bool
	Duration  time.Duration
}

// Err returns nil for StatusOK and an error with Message otherwise.
func (r *Result) Err() error {
	if r.Status == StatusOK {
		return nil
	}
	return errors.New(r.Message)
}

// ErrDead is returned (wrapped) by Execute on a kernel that died before;
// Restart it first.
var ErrDead = errors.New("runner: kernel is dead")

// ErrClosed is returned (wrapped) by Execute after Shutdown.
var ErrClosed = errors.New("runner: kernel was shut down")

// Kernel is a running kernel. Its methods may be called from several
// goroutines; executions run one at a time.
type Kernel struct {
	spec    *Spec
	opts    Options
	session *jupyter.Session

	mu       sync.Mutex // serializes Execute, Restart, Shutdown
	inst     *instance
	closed   bool
	displays map[string][]*nbformat.Output // outputs by display_id, across executions
	info     json.RawMessage
}

// Start starts the kernel of spec and waits until it answers
// kernel_info_request on shell and publishes on iopub.
func Start(ctx context.Context, spec *Spec, opts Options) (*Kernel, error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("runner: kernelspec %s: %w", spec.Name, err)
	}
	k := &Kernel{spec: spec, opts: opts.withDefaults(), session: jupyter.NewSession(), displays: map[string][]*nbformat.Output{}}
	if err := k.start(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Spec returns the kernelspec the kernel was started from.
func (k *Kernel) Spec() *Spec { return k.spec }

// Info returns the content of the kernel's kernel_info_reply.
func (k *Kernel) Info() json.RawMessage {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.info
}

// Pid returns the process id of the kernel's process group leader (the
// guardian, or the kernel without one), 0 if none is running.
func (k *Kernel) Pid() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inst == nil {
		return 0
	}
	return k.inst.proc.cmd.Process.Pid
}

// instance is one kernel process with its sockets and the goroutines that
// read them.
type instance struct {
	proc    *process
	sockets *jupyter.Sockets

	mu        sync.Mutex
	waiters   map[string]chan *jupyter.Message // by parent msg_id
	iopubOK   chan struct{}                    // closed at the first iopub message
	iopubOnce sync.Once

	dead     chan struct{} // closed when the kernel is found dead
	deadOnce sync.Once
	deadWhy  string
	done     chan struct{} // closed by close()
}

func (k *Kernel) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.opts.StartTimeout)
	defer cancel()
	proc, err := startProcess(k.spec, &k.opts)
	if err != nil {
		return err
	}
	in := &instance{proc: proc, waiters: map[string]chan *jupyter.Message{}, iopubOK: make(chan struct{}),
		dead: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) error {
		in.close()
		proc.kill(0)
		return err
	}
	dialCtx, stopDial := context.WithCancel(ctx)
	go func() {
		select {
		case <-proc.exited:
			stopDial()
		case <-dialCtx.Done():
		}
	}()
	in.sockets, err = jupyter.Dial(dialCtx, proc.info, "")
	stopDial()
	if err != nil {
		if proc.hasExited() {
			return fail(fmt.Errorf("runner: kernel %s exited while starting: %s", k.spec.Name, proc.exitDescription()))
		}
		return fail(fmt.Errorf("runner: kernel %s: %w", k.spec.Name, err))
	}
	go in.read(jupyter.Shell)
	go in.read(jupyter.IOPub)
	go in.read(jupyter.Control)
	go in.read(jupyter.Stdin)
	go in.watchExit()
	go in.heartbeat(k.opts.HeartbeatInterval, k.opts.HeartbeatTimeout)

	// Ask for kernel_info until a reply comes and iopub has delivered a
	// message: until then the iopub subscription may not be in place.
	replies := make(chan *jupyter.Message, 256)
	ask := func() error {
		req, err := k.session.NewMessage("kernel_info_request", nil, nil)
		if err != nil {
			return err
		}
		in.waitOn(replies, req.Header.MsgID)
		return in.sockets.Send(jupyter.Shell, req)
	}
	if err := ask(); err != nil {
		return fail(err)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var reply *jupyter.Message
	iopubOK := in.iopubOK
	for reply == nil || iopubOK != nil {
		select {
		case m := <-replies:
			if m.Type() == "kernel_info_reply" {
				reply = m
			}
		case <-iopubOK:
			iopubOK = nil
		case <-tick.C:
			ask()
		case <-in.dead:
			return fail(fmt.Errorf("runner: kernel %s died while starting: %s", k.spec.Name, in.deadWhy))
		case <-ctx.Done():
			return fail(fmt.Errorf("runner: kernel %s did not answer kernel_info_request: %w", k.spec.Name, ctx.Err()))
		}
	}
	in.forgetAll()
	k.inst = in
	k.info = reply.Content
	return nil
}

// wait registers a channel receiving the shell, control and iopub messages
// whose parent is msgID. Channels are never closed: forget only stops the
// delivery.
func (in *instance) wait(msgID string) chan *jupyter.Message {
	ch := make(chan *jupyter.Message, 256)
	in.waitOn(ch, msgID)
	return ch
}

func (in *instance) waitOn(ch chan *jupyter.Message, msgID string) {
	in.mu.Lock()
	in.waiters[msgID] = ch
	in.mu.Unlock()
}

func (in *instance) forget(msgID string) {
	in.mu.Lock()
	delete(in.waiters, msgID)
	in.mu.Unlock()
}

func (in *instance) forgetAll() {
	in.mu.Lock()
	clear(in.waiters)
	in.mu.Unlock()
}

// read dispatches the messages of channel ch to their waiters. A waiter
// whose buffer is full slows the reader down (it is being drained), but
// never blocks it past the instance's end.
func (in *instance) read(ch jupyter.Channel) {
	for {
		m, err := in.sockets.Recv(ch)
		if err != nil {
			if errors.Is(err, jupyter.ErrClosed) {
				return
			}
			select {
			case <-in.done:
				return
			default:
			}
			if errors.Is(err, jupyter.ErrBadSignature) || errors.Is(err, jupyter.ErrMalformed) {
				continue // not from our kernel, or garbled: drop it
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if ch == jupyter.IOPub {
			in.iopubOnce.Do(func() { close(in.iopubOK) })
		}
		if ch == jupyter.Stdin && m.Type() == "input_request" {
			// allow_stdin is false in our requests; a kernel asking anyway
			// gets an empty line rather than waiting forever.
			if r, err := (&jupyter.Session{ID: m.Header.Session}).NewMessage("input_reply", m, map[string]string{"value": ""}); err == nil {
				in.sockets.Send(jupyter.Stdin, r)
			}
			continue
		}
		in.mu.Lock()
		w, ok := in.waiters[m.ParentID()]
		if ok {
			select {
			case w <- m:
			default:
				// Full: deliver outside the lock so forget can proceed.
				in.mu.Unlock()
				select {
				case w <- m:
				case <-in.done:
				case <-time.After(5 * time.Second):
				}
				continue
			}
		}
		in.mu.Unlock()
	}
}

// watchExit declares the kernel dead when its process exits.
func (in *instance) watchExit() {
	select {
	case <-in.proc.exited:
		in.die("kernel process exited (" + in.proc.exitDescription() + ")")
	case <-in.done:
	}
}

// heartbeat pings the kernel every interval and declares it dead when no
// pong came for timeout.
func (in *instance) heartbeat(interval, timeout time.Duration) {
	pongs := make(chan struct{}, 1)
	go func() {
		for {
			if _, err := in.sockets.Heartbeat.Recv(); err != nil {
				select {
				case <-in.done:
					return
				default:
					time.Sleep(interval)
					continue
				}
			}
			select {
			case pongs <- struct{}{}:
			default:
			}
		}
	}()
	pings := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-in.done:
				return
			case <-pings:
				in.sockets.Heartbeat.Send(zmq4.NewMsgString("ping"))
			}
		}
	}()
	pings <- struct{}{}
	last := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-in.done:
			return
		case <-pongs:
			last = time.Now()
		case <-tick.C:
			if time.Since(last) > timeout {
				in.die(fmt.Sprintf("kernel stopped answering heartbeats for %v", timeout))
				return
			}
			select {
			case pings <- struct{}{}:
			default:
			}
		}
	}
}

func (in *instance) die(why string) {
	in.deadOnce.Do(func() {
		in.deadWhy = why
		close(in.dead)
	})
}

func (in *instance) isDead() bool {
	select {
	case <-in.dead:
		return true
	default:
		return false
	}
}

// close stops the reading goroutines and closes the sockets.
func (in *instance) close() {
	select {
	case <-in.done:
		return
	default:
	}
	close(in.done)
	if in.sockets != nil {
		in.sockets.Close()
	}
}

// Interrupt interrupts the running execution as the kernelspec says:
// SIGINT to the kernel's process group, or interrupt_request on control.
func (k *Kernel) Interrupt() error {
	k.mu.Lock()
	in := k.inst
	k.mu.Unlock()
	if in == nil {
		return ErrClosed
	}
	return k.interrupt(in)
}

func (k *Kernel) interrupt(in *instance) error {
	if k.spec.InterruptMode == "message" {
		req, err := k.session.NewMessage("interrupt_request", nil, nil)
		if err != nil {
			return err
		}
		return in.sockets.Send(jupyter.Control, req)
	}
	return in.proc.signal(syscall.SIGINT)
}

// Restart kills the kernel and starts a fresh one from the same spec and
// options. Display ids and nothing else survive.
func (k *Kernel) Restart(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	return k.restart(ctx)
}

func (k *Kernel) restart(ctx context.Context) error {
	if k.inst != nil {
		k.inst.close()
		k.inst.proc.kill(0)
		k.inst = nil
	}
	return k.start(ctx)
}

// Shutdown asks the kernel to shut down, kills its process group if it has
// not exited after ShutdownTimeout, and releases everything. It is safe to
// call more than once.
func (k *Kernel) Shutdown() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	in := k.inst
	k.inst = nil
	if in == nil {
		return nil
	}
	grace := time.Duration(0)
	if !in.isDead() {
		if req, err := k.session.NewMessage("shutdown_request", nil, map[string]bool{"restart": false}); err == nil {
			if in.sockets.Send(jupyter.Control, req) == nil {
				grace = k.opts.ShutdownTimeout
			}
		}
	}
	in.proc.kill(grace)
	in.close()
	return nil
}
