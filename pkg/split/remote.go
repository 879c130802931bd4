package split

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// DefaultTimeout bounds how long a RemoteWorker waits for a reply.
const DefaultTimeout = 30 * time.Second

// ErrTimeout is returned (wrapped) when a remote worker does not answer in
// time, for instance because its process died.
var ErrTimeout = errors.New("no reply from worker")

// RemoteWorker is a Worker in another process (`ppml worker --listen ADDR`),
// reached over ZeroMQ REQ/REP. Every call waits at most the worker's timeout;
// after a timeout the connection is re-established on the next call. It is
// safe for concurrent use (calls are serialised).
type RemoteWorker struct {
	addr     string
	id       string
	timeout  time.Duration
	maxBytes int

	mu     sync.Mutex
	sock   zmq4.Socket
	cancel context.CancelFunc
}

// DialOptions configure Dial.
type DialOptions struct {
	// Timeout bounds each request's round trip (DefaultTimeout if zero).
	Timeout time.Duration
	// MaxMessageBytes bounds the replies accepted (DefaultMaxMessageBytes if zero).
	MaxMessageBytes int
}

// Dial connects to the worker listening at addr (for instance
// "tcp://127.0.0.1:5555") and asks for its id.
func Dial(addr string, opts DialOptions) (*RemoteWorker, error) {
	w := &RemoteWorker{addr: addr, timeout: opts.Timeout, maxBytes: opts.MaxMessageBytes}
	if w.timeout <= 0 {
		w.timeout = DefaultTimeout
	}
	if w.maxBytes <= 0 {
		w.maxBytes = DefaultMaxMessageBytes
	}
	res, err := w.exec([]command{{Op: opHello}})
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	w.id = res[0].Text
	return w, nil
}

// ID returns the remote worker's name.
func (w *RemoteWorker) ID() string { return w.id }

// Addr returns the address the worker was dialled at.
func (w *RemoteWorker) Addr() string { return w.addr }

// String names the worker and its address.
func (w *RemoteWorker) String() string { return fmt.Sprintf("<RemoteWorker id:%s %s>", w.id, w.addr) }

// Objects lists the remote worker's objects, sorted by id.
func (w *RemoteWorker) Objects() ([]ObjectInfo, error) {
	res, err := w.exec([]command{{Op: opList}})
	if err != nil {
		return nil, err
	}
	return res[0].Objects, nil
}

// Close closes the connection; the remote objects stay with the worker.
func (w *RemoteWorker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disconnect()
	return nil
}

func (w *RemoteWorker) disconnect() {
	if w.sock != nil {
		_ = w.sock.Close()
		w.cancel()
		w.sock, w.cancel = nil, nil
	}
}

func (w *RemoteWorker) connect() error {
	if w.sock != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewReq(ctx, zmq4.WithTimeout(w.timeout), zmq4.WithDialerTimeout(w.timeout),
		zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(int(w.timeout/(100*time.Millisecond))+1))
	if err := sock.Dial(w.addr); err != nil {
		_ = sock.Close()
		cancel()
		return fmt.Errorf("split: dialling worker at %s: %w", w.addr, err)
	}
	w.sock, w.cancel = sock, cancel
	return nil
}

// name identifies the worker in errors.
func (w *RemoteWorker) name() string {
	if w.id == "" {
		return w.addr
	}
	return w.id + " at " + w.addr
}

// exec sends the batch as one request and waits for the reply.
func (w *RemoteWorker) exec(cmds []command) ([]result, error) {
	req, err := encodeRequest(cmds)
	if err != nil {
		return nil, fmt.Errorf("split: worker %s: %w", w.name(), err)
	}
	reply, err := w.roundTrip(req)
	if err != nil {
		return nil, err
	}
	res, err := decodeReply(reply)
	var re *remoteError
	if errors.As(err, &re) {
		return nil, fmt.Errorf("split: %s", re.msg)
	}
	if err != nil {
		return nil, fmt.Errorf("split: reply from worker %s: %w", w.name(), err)
	}
	if len(res) != len(cmds) {
		return nil, fmt.Errorf("split: worker %s answered %d results for %d commands", w.name(), len(res), len(cmds))
	}
	return res, nil
}

// roundTrip sends one request frame and returns the reply frame, within the
// timeout.
func (w *RemoteWorker) roundTrip(req []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.connect(); err != nil {
		return nil, err
	}
	type reply struct {
		msg zmq4.Msg
		err error
	}
	done := make(chan reply, 1)
	sock := w.sock
	go func() {
		if err := sock.Send(zmq4.NewMsg(req)); err != nil {
			done <- reply{err: err}
			return
		}
		msg, err := sock.Recv()
		done <- reply{msg, err}
	}()
	timer := time.NewTimer(w.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			w.disconnect()
			return nil, fmt.Errorf("split: worker %s: %w", w.name(), r.err)
		}
		frame, err := replyFrame(r.msg, w.maxBytes)
		if err != nil {
			w.disconnect()
			return nil, fmt.Errorf("split: worker %s: %w", w.name(), err)
		}
		return frame, nil
	case <-timer.C:
		w.disconnect() // unblocks the goroutine
		return nil, fmt.Errorf("split: worker %s: %w within %v", w.name(), ErrTimeout, w.timeout)
	}
}

// replyFrame returns the one non-empty frame of a request or reply (zmq4's REQ/REP
// envelope may leave empty delimiter frames before it).
func replyFrame(msg zmq4.Msg, maxBytes int) ([]byte, error) {
	frames := msg.Frames
	for len(frames) > 1 && len(frames[0]) == 0 {
		frames = frames[1:]
	}
	if len(frames) != 1 {
		return nil, fmt.Errorf("%w: %d frames, want 1", errMalformed, len(frames))
	}
	if len(frames[0]) > maxBytes {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", len(frames[0]), maxBytes)
	}
	return frames[0], nil
}

// ServeOptions configure a worker server.
type ServeOptions struct {
	// MaxMessageBytes bounds the requests accepted (DefaultMaxMessageBytes if zero).
	MaxMessageBytes int
	// Log, if set, receives one line per malformed or failed request.
	Log func(format string, args ...any)
}

// Server serves a VirtualWorker's objects to RemoteWorkers over ZeroMQ.
type Server struct {
	worker *VirtualWorker
	opts   ServeOptions
	sock   zmq4.Socket
	cancel context.CancelFunc
}

// Listen binds a worker server to addr (for instance "tcp://127.0.0.1:5555";
// port 0 picks a free port, see Addr). Call Serve to answer requests.
func Listen(addr string, worker *VirtualWorker, opts ServeOptions) (*Server, error) {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewRep(ctx)
	if err := sock.Listen(addr); err != nil {
		_ = sock.Close()
		cancel()
		return nil, fmt.Errorf("split: listening on %s: %w", addr, err)
	}
	return &Server{worker: worker, opts: opts, sock: sock, cancel: cancel}, nil
}

// Addr returns the address the server listens on, as tcp://host:port.
func (s *Server) Addr() string {
	a := s.sock.Addr()
	if a == nil {
		return ""
	}
	return a.Network() + "://" + a.String()
}

// Worker returns the served worker.
func (s *Server) Worker() *VirtualWorker { return s.worker }

// Close stops the server; a running Serve returns.
func (s *Server) Close() error {
	s.cancel()
	return s.sock.Close()
}

// Serve answers requests until ctx is done or the server is closed. A
// malformed or failing request gets an error reply; the server keeps
// serving.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "closed") {
				return nil
			}
			s.logf("receive: %v", err)
			continue
		}
		reply := s.handle(msg)
		if err := s.sock.Send(zmq4.NewMsg(reply)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logf("send: %v", err)
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log(format, args...)
	}
}

// handle decodes, runs and answers one request.
func (s *Server) handle(msg zmq4.Msg) []byte {
	fail := func(err error) []byte {
		s.logf("worker %s: %v", s.worker.ID(), err)
		b, _ := encodeReply(nil, err)
		return b
	}
	frame, err := replyFrame(msg, s.opts.MaxMessageBytes)
	if err != nil {
		return fail(fmt.Errorf("worker %s: request: %w", s.worker.ID(), err))
	}
	cmds, err := decodeRequest(frame)
	if err != nil {
		return fail(fmt.Errorf("worker %s: %w", s.worker.ID(), err))
	}
	res, err := s.worker.exec(cmds)
	if err != nil {
		return fail(err)
	}
	b, err := encodeReply(res, nil)
	if err != nil {
		return fail(fmt.Errorf("worker %s: encoding reply: %w", s.worker.ID(), err))
	}
	return b
}
