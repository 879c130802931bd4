package split

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// DefaultTimeout bounds how long a RemoteWorker waits for a reply.
const DefaultTimeout = 30 * time.Second

// ErrTimeout is returned (wrapped) when a remote worker does not answer in
// time, for instance because its process died.
var ErrTimeout = errors.New("no reply from worker")

// RemoteWorker is a Worker in another process (`ppml worker --listen ADDR`),
// reached over ZeroMQ (a DEALER connection to the worker's ROUTER). Requests
// carry ids, so several may be in flight; the worker runs them in order.
// While requests are pending, the worker must answer one of them at least
// every timeout, or they fail with ErrTimeout and the connection is
// re-established on the next call. It is safe for concurrent use.
type RemoteWorker struct {
	addr     string
	id       string
	timeout  time.Duration
	maxBytes int
	nextID   atomic.Uint64

	mu      sync.Mutex
	conn    *remoteConn // nil when disconnected
	postErr error       // why a posted request failed, reported by the next post
}

// remoteConn is one connection of a RemoteWorker and its requests in flight.
type remoteConn struct {
	w *RemoteWorker
	z *zmtpConn

	sendMu sync.Mutex
	buf    []byte // encoding buffer, reused under sendMu

	mu      sync.Mutex
	pending map[uint64]*call
	err     error     // why the connection is closed
	last    time.Time // when the worker last answered, or the first pending request was sent
}

// call is a request in flight.
type call struct {
	conn   *remoteConn
	id     uint64
	n      int  // commands
	posted bool // no one waits: a failure is reported by the next post
	done   chan struct{}
	res    []result
	err    error
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

// Addr returns the address the worker was dialled at. Other workers reach
// it there too when objects are sent to it directly.
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
// Requests in flight fail.
func (w *RemoteWorker) Close() error {
	w.mu.Lock()
	c := w.conn
	w.mu.Unlock()
	if c != nil {
		c.fail(fmt.Errorf("split: worker %s: connection closed", w.name()))
	}
	return nil
}

// name identifies the worker in errors.
func (w *RemoteWorker) name() string {
	if w.id == "" {
		return w.addr
	}
	return w.id + " at " + w.addr
}

// connection returns the current connection, dialling if there is none.
func (w *RemoteWorker) connection() (*remoteConn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		return w.conn, nil
	}
	z, err := dialZMTP(w.addr, w.timeout)
	if err != nil {
		return nil, fmt.Errorf("split: dialling worker at %s: %w", w.addr, err)
	}
	c := &remoteConn{w: w, z: z, pending: map[uint64]*call{}}
	w.conn = c
	go c.read()
	return c, nil
}

// exec sends the batch as one request and waits for the reply.
func (w *RemoteWorker) exec(cmds []command) ([]result, error) {
	return w.run(context.Background(), request{cmds: cmds})
}

// run sends the request and waits for its reply, or until ctx is done.
func (w *RemoteWorker) run(ctx context.Context, r request) ([]result, error) {
	cl, err := w.startCancel(ctx, r)
	if err != nil {
		return nil, err
	}
	return cl.wait(ctx)
}

// startCancel is start, given up when ctx is done first (dialling a
// worker that does not answer takes up to the timeout).
func (w *RemoteWorker) startCancel(ctx context.Context, r request) (*call, error) {
	w.mu.Lock()
	connected := w.conn != nil
	w.mu.Unlock()
	if ctx.Done() == nil || connected {
		return w.start(r)
	}
	type started struct {
		cl  *call
		err error
	}
	ch := make(chan started, 1)
	go func() {
		cl, err := w.start(r)
		ch <- started{cl, err}
	}()
	select {
	case s := <-ch:
		return s.cl, s.err
	case <-ctx.Done():
		go func() {
			if s := <-ch; s.cl != nil {
				s.cl.conn.forget(s.cl)
			}
		}()
		return nil, fmt.Errorf("split: worker %s: %w", w.name(), errAborted)
	}
}

// post sends the request without waiting for its reply: if it fails, the
// next post returns the error. Deliveries from worker to worker are posted,
// so that the sender goes on at once.
func (w *RemoteWorker) post(ctx context.Context, r request) error {
	w.mu.Lock()
	err := w.postErr
	w.postErr = nil
	w.mu.Unlock()
	if err != nil {
		return err
	}
	r.posted = true
	_, err = w.startCancel(ctx, r)
	return err
}

// postFailed records why a posted request failed.
func (w *RemoteWorker) postFailed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.postErr == nil {
		w.postErr = err
	}
}

// start sends the request (its timeout defaults to the worker's) and
// returns the call to wait for.
func (w *RemoteWorker) start(r request) (*call, error) {
	c, err := w.connection()
	if err != nil {
		return nil, err
	}
	r.id = w.nextID.Add(1)
	if r.timeout <= 0 {
		r.timeout = w.timeout
	}
	cl := &call{conn: c, id: r.id, n: len(r.cmds), posted: r.posted, done: make(chan struct{})}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	if len(c.pending) == 0 {
		c.last = time.Now()
	}
	c.pending[r.id] = cl
	c.mu.Unlock()

	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	buf, err := encodeRequest(c.buf, r)
	if err != nil {
		c.forget(cl)
		return nil, fmt.Errorf("split: worker %s: %w", w.name(), err)
	}
	c.buf = buf
	if err := c.z.send(w.timeout, buf); err != nil {
		c.fail(fmt.Errorf("split: worker %s: sending a request: %w", w.name(), err))
	}
	return cl, nil // a failed send fails the call
}

// wait returns the call's results, or an error if the worker stays silent
// for the timeout or ctx is done first.
func (cl *call) wait(ctx context.Context) ([]result, error) {
	c := cl.conn
	timer := time.NewTimer(c.w.timeout)
	defer timer.Stop()
	for {
		select {
		case <-cl.done:
			return cl.res, cl.err
		case <-ctx.Done():
			c.forget(cl)
			return nil, fmt.Errorf("split: worker %s: %w", c.w.name(), errAborted)
		case <-timer.C:
			c.mu.Lock()
			left := c.w.timeout - time.Since(c.last)
			c.mu.Unlock()
			if left > 0 {
				timer.Reset(left)
				continue
			}
			c.fail(fmt.Errorf("split: worker %s: %w within %v", c.w.name(), ErrTimeout, c.w.timeout))
		}
	}
}

// forget drops a call whose reply no one will read.
func (c *remoteConn) forget(cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, cl.id)
}

// fail closes the connection: every call in flight fails with err, and the
// next request dials again.
func (c *remoteConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, cl := range pending {
		cl.err = err
		close(cl.done)
		if cl.posted {
			c.w.postFailed(err)
		}
	}
	c.w.mu.Lock()
	if c.w.conn == c {
		c.w.conn = nil
	}
	c.w.mu.Unlock()
	_ = c.z.close()
}

// read receives replies and completes their calls until the connection
// fails.
func (c *remoteConn) read() {
	w := c.w
	for {
		frames, err := c.z.recv(w.maxBytes)
		if err != nil {
			c.fail(fmt.Errorf("split: worker %s: %w", w.name(), err))
			return
		}
		frame, err := replyFrame(frames)
		if err != nil {
			c.fail(fmt.Errorf("split: worker %s: %w", w.name(), err))
			return
		}
		id, res, err := decodeReply(frame)
		var re *remoteError
		if err != nil && !errors.As(err, &re) {
			c.fail(fmt.Errorf("split: reply from worker %s: %w", w.name(), err))
			return
		}
		c.mu.Lock()
		cl, ok := c.pending[id]
		delete(c.pending, id)
		c.last = time.Now()
		c.mu.Unlock()
		if !ok {
			continue // a reply to a call given up
		}
		switch {
		case re != nil:
			cl.err = fmt.Errorf("split: %w", re)
		case len(res) != cl.n:
			cl.err = fmt.Errorf("split: worker %s answered %d results for %d commands", w.name(), len(res), cl.n)
		default:
			cl.res = res
		}
		close(cl.done)
		if cl.posted && cl.err != nil {
			w.postFailed(cl.err)
		}
	}
}

// replyFrame returns the one non-empty frame of a reply (a REQ client's
// request or a reply to it has an empty delimiter frame before it).
func replyFrame(frames [][]byte) ([]byte, error) {
	for len(frames) > 1 && len(frames[0]) == 0 {
		frames = frames[1:]
	}
	if len(frames) != 1 {
		return nil, fmt.Errorf("%w: %d frames, want 1", errMalformed, len(frames))
	}
	return frames[0], nil
}

// ServeOptions configure a worker server.
type ServeOptions struct {
	// MaxMessageBytes bounds the requests accepted (DefaultMaxMessageBytes if zero).
	MaxMessageBytes int
	// Logger, if set, receives a record per malformed or failed request
	// (level Warn).
	Logger *slog.Logger
}

// maxQueued bounds the requests a server holds before running them; more
// get an error reply.
const maxQueued = 256

// Server serves a VirtualWorker's objects to RemoteWorkers over ZeroMQ (as
// a ROUTER, so REQ and DEALER clients alike). Requests run one at a time in
// arrival order, except deliveries from other workers and greetings, which
// run at once: a request may be waiting for a delivery. The requests of a
// connection that closes are given up.
type Server struct {
	worker *VirtualWorker
	opts   ServeOptions
	ln     net.Listener

	mu     sync.Mutex
	conns  map[*zmtpConn]bool
	closed bool
}

// Listen binds a worker server to addr (for instance "tcp://127.0.0.1:5555";
// port 0 picks a free port, see Addr). Call Serve to answer requests.
func Listen(addr string, worker *VirtualWorker, opts ServeOptions) (*Server, error) {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	hostPort, err := tcpAddress(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", hostPort)
	if err != nil {
		return nil, fmt.Errorf("split: listening on %s: %w", addr, err)
	}
	return &Server{worker: worker, opts: opts, ln: ln, conns: map[*zmtpConn]bool{}}, nil
}

// Addr returns the address the server listens on, as tcp://host:port.
func (s *Server) Addr() string { return "tcp://" + s.ln.Addr().String() }

// Worker returns the served worker.
func (s *Server) Worker() *VirtualWorker { return s.worker }

// Close stops the server and closes its connections; a running Serve
// returns.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*zmtpConn]bool{}
	s.mu.Unlock()
	for c := range conns {
		_ = c.close()
	}
	return s.ln.Close()
}

// queued is a request waiting for its turn, with where its reply goes.
type queued struct {
	conn     *zmtpConn
	gone     context.Context // done when the connection closes
	envelope [][]byte
	req      request
}

// Serve answers requests until ctx is done or the server is closed. A
// malformed or failing request gets an error reply; the server keeps
// serving.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	jobs := make(chan queued, maxQueued)
	defer close(jobs)
	go func() {
		var buf []byte
		for j := range jobs {
			res, err := s.worker.run(j.gone, j.req)
			buf = s.reply(buf, j.conn, j.envelope, j.req.id, res, err)
		}
	}()
	for {
		tcp, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || ctx.Err() != nil {
				return nil
			}
			s.logf("worker %s: accept: %v", s.worker.ID(), err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.serveConn(tcp.(*net.TCPConn), jobs)
	}
}

// serveConn reads the requests of one connection: deliveries and greetings
// are answered at once, the rest queued for the worker. When the
// connection closes, its queued requests are given up.
func (s *Server) serveConn(tcp *net.TCPConn, jobs chan<- queued) {
	c, err := openZMTP(tcp, zmq4.Router, true, DefaultTimeout)
	if err != nil {
		s.logf("worker %s: handshake: %v", s.worker.ID(), err)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.close()
		return
	}
	s.conns[c] = true
	s.mu.Unlock()
	gone, closed := context.WithCancel(context.Background())
	defer func() {
		closed()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.close()
	}()
	var buf []byte
	for {
		frames, err := c.recv(s.opts.MaxMessageBytes)
		if errors.Is(err, errTooLarge) {
			buf = s.reply(buf, c, nil, 0, nil, fmt.Errorf("worker %s: request exceeds the limit of %d bytes",
				s.worker.ID(), s.opts.MaxMessageBytes))
			continue
		}
		if err != nil {
			return // the client went away
		}
		if len(frames) == 0 {
			continue
		}
		// A REQ client puts an empty delimiter frame before its request;
		// the reply goes back with the same envelope.
		n := len(frames) - 1
		var envelope [][]byte
		for _, f := range frames[:n] {
			envelope = append(envelope, slices.Clone(f))
		}
		req, err := decodeRequest(frames[n], s.worker.life.reuse)
		req.decoded = true
		if err != nil {
			buf = s.reply(buf, c, envelope, req.id, nil, fmt.Errorf("worker %s: %w", s.worker.ID(), err))
			continue
		}
		immediate := len(req.cmds) > 0
		for _, cmd := range req.cmds {
			immediate = immediate && cmd.Op.immediate()
		}
		if immediate {
			res, err := s.worker.run(gone, req)
			buf = s.reply(buf, c, envelope, req.id, res, err)
			continue
		}
		select {
		case jobs <- queued{c, gone, envelope, req}:
		default:
			buf = s.reply(buf, c, envelope, req.id, nil, fmt.Errorf("worker %s: busy: %d requests waiting", s.worker.ID(), maxQueued))
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logger != nil {
		s.opts.Logger.Warn(fmt.Sprintf(format, args...))
	}
}

// reply answers request id (0 if unknown) with its results or its error,
// encoding into buf, which it returns for reuse.
func (s *Server) reply(buf []byte, c *zmtpConn, envelope [][]byte, id uint64, res []result, failure error) []byte {
	if failure != nil {
		s.logf("%v", failure)
	}
	b, err := encodeReply(buf, id, res, failure)
	if err != nil {
		failure = fmt.Errorf("worker %s: encoding reply: %w", s.worker.ID(), err)
		s.logf("%v", failure)
		b, _ = encodeReply(buf, id, nil, failure)
	}
	if err := c.send(DefaultTimeout, append(envelope, b)...); err != nil {
		s.logf("worker %s: sending a reply: %v", s.worker.ID(), err)
	}
	return b
}
