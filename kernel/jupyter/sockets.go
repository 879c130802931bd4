package jupyter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Channel names one of the five sockets of a kernel connection.
type Channel string

// The five channels, named as in the protocol.
const (
	Shell     Channel = "shell"
	IOPub     Channel = "iopub"
	Stdin     Channel = "stdin"
	Control   Channel = "control"
	Heartbeat Channel = "hb"
)

// Channels lists the five channels in connection-file order.
var Channels = []Channel{Shell, IOPub, Stdin, Control, Heartbeat}

// Sockets holds the five sockets of one side of a kernel connection and the
// codec that signs its messages. Send and Recv may be called from several
// goroutines; a socket's Recv blocks until a message arrives or Close.
type Sockets struct {
	Info  *ConnectionInfo
	Codec *Codec
	// The client side (Dial) has DEALER shell, control and stdin, a SUB
	// iopub subscribed to everything and a REQ heartbeat; the kernel side
	// (Listen) has ROUTER shell, control and stdin, a PUB iopub and a REP
	// heartbeat.
	Shell, IOPub, Stdin, Control, Heartbeat zmq4.Socket

	life   context.Context // ends with Close
	cancel context.CancelFunc
	sendMu map[Channel]*sync.Mutex
	once   sync.Once
}

// sendTimeout bounds a Send on a socket with no connected peer.
const sendTimeout = 10 * time.Second

func newSockets(info *ConnectionInfo) (*Sockets, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sockets{Info: info, Codec: info.Codec(), life: ctx, cancel: cancel, sendMu: map[Channel]*sync.Mutex{}}
	for _, ch := range Channels {
		s.sendMu[ch] = new(sync.Mutex)
	}
	return s, ctx
}

// Dial connects the client ends of the five channels to a kernel described
// by info. The identity is used for the shell, control and stdin sockets (a
// kernel sends stdin requests to the identity that sent execute_request);
// empty means a random one. Dial retries while the kernel is not yet
// listening until ctx ends; ctx bounds only the dialing, Close ends the
// sockets.
func Dial(ctx context.Context, info *ConnectionInfo, identity string) (*Sockets, error) {
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("jupyter: %w", err)
	}
	if identity == "" {
		identity = NewID()
	}
	s, lctx := newSockets(info)
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	opts := []zmq4.Option{
		zmq4.WithDialerRetry(20 * time.Millisecond),
		zmq4.WithDialerMaxRetries(-1),
		zmq4.WithTimeout(sendTimeout),
		zmq4.WithLogger(discardLogger),
	}
	withID := append(opts[:len(opts):len(opts)], zmq4.WithID(zmq4.SocketIdentity(identity)))
	s.Shell = zmq4.NewDealer(lctx, withID...)
	s.Control = zmq4.NewDealer(lctx, withID...)
	s.Stdin = zmq4.NewDealer(lctx, withID...)
	s.IOPub = zmq4.NewSub(lctx, opts...)
	s.Heartbeat = zmq4.NewReq(lctx, opts...)
	if err := s.IOPub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		s.Close()
		return nil, fmt.Errorf("jupyter: subscribe iopub: %w", err)
	}
	for _, ch := range Channels {
		if err := s.Socket(ch).Dial(info.Endpoint(ch)); err != nil {
			s.Close()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jupyter: dial %s: %w", ch, ctx.Err())
			}
			return nil, fmt.Errorf("jupyter: dial %s: %w", ch, err)
		}
	}
	return s, nil
}

// Listen binds the kernel ends of the five channels at the endpoints of
// info. Close ends them.
func Listen(info *ConnectionInfo) (*Sockets, error) {
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("jupyter: %w", err)
	}
	s, lctx := newSockets(info)
	opts := []zmq4.Option{zmq4.WithTimeout(sendTimeout), zmq4.WithLogger(discardLogger)}
	s.Shell = zmq4.NewRouter(lctx, opts...)
	s.Control = zmq4.NewRouter(lctx, opts...)
	s.Stdin = zmq4.NewRouter(lctx, opts...)
	s.IOPub = zmq4.NewPub(lctx, opts...)
	s.Heartbeat = zmq4.NewRep(lctx, opts...)
	for _, ch := range Channels {
		if err := s.Socket(ch).Listen(info.Endpoint(ch)); err != nil {
			s.Close()
			return nil, fmt.Errorf("jupyter: listen %s: %w", ch, err)
		}
	}
	return s, nil
}

// Socket returns the socket of channel ch.
func (s *Sockets) Socket(ch Channel) zmq4.Socket {
	switch ch {
	case Shell:
		return s.Shell
	case IOPub:
		return s.IOPub
	case Stdin:
		return s.Stdin
	case Control:
		return s.Control
	case Heartbeat:
		return s.Heartbeat
	}
	return nil
}

// Send signs m and sends it on channel ch.
func (s *Sockets) Send(ch Channel, m *Message) error {
	frames, err := s.Codec.Encode(m)
	if err != nil {
		return err
	}
	mu := s.sendMu[ch]
	mu.Lock()
	defer mu.Unlock()
	if err := s.Socket(ch).SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return fmt.Errorf("jupyter: send %s on %s: %w", m.Header.MsgType, ch, err)
	}
	return nil
}

// Recv waits for the next message on channel ch and decodes it. A message
// that fails to decode is returned as an error wrapping ErrBadSignature or
// ErrMalformed; the socket stays usable. After Close, Recv returns an error
// wrapping ErrClosed.
func (s *Sockets) Recv(ch Channel) (*Message, error) {
	zm, err := s.Socket(ch).Recv()
	if err != nil {
		if s.closed() {
			return nil, fmt.Errorf("jupyter: recv on %s: %w", ch, ErrClosed)
		}
		return nil, fmt.Errorf("jupyter: recv on %s: %w", ch, err)
	}
	m, err := s.Codec.Decode(zm.Frames)
	if err != nil {
		return nil, fmt.Errorf("%w (on %s)", err, ch)
	}
	return m, nil
}

// ErrClosed is returned (wrapped) by Recv after Close.
var ErrClosed = errors.New("jupyter: sockets closed")

func (s *Sockets) closed() bool { return s.life.Err() != nil }

// discardLogger silences zmq4's own logging; errors reach the caller.
var discardLogger = log.New(io.Discard, "", 0)

// ServeHeartbeat echoes every ping on the (kernel-side) heartbeat socket
// until Close. Run it in its own goroutine.
func (s *Sockets) ServeHeartbeat() error {
	for {
		m, err := s.Heartbeat.Recv()
		if err != nil {
			if s.closed() {
				return nil
			}
			return fmt.Errorf("jupyter: heartbeat: %w", err)
		}
		if err := s.Heartbeat.Send(zmq4.NewMsgFrom(m.Frames...)); err != nil {
			return fmt.Errorf("jupyter: heartbeat: %w", err)
		}
	}
}

// Close closes the five sockets. It is safe to call more than once.
func (s *Sockets) Close() error {
	var first error
	s.once.Do(func() {
		s.cancel()
		for _, ch := range Channels {
			if sock := s.Socket(ch); sock != nil {
				if err := sock.Close(); err != nil && first == nil {
					first = err
				}
			}
		}
	})
	return first
}
