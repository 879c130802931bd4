package split

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// Workers speak ZeroMQ (ZMTP 3.0, NULL security) over TCP: a RemoteWorker
// is a DEALER, a Server a ROUTER, so REQ clients work too. zmq4 does the
// handshake (zmq4.Open on a connection of ours); frames are read and
// written here. The sockets of zmq4 are not used: they hand every message
// between goroutines, allocate every frame before checking its size, and
// leave the TCP buffers small, which cost a training step (two cut tensors
// of about 160 KB) more than its computation on a loaded machine.

// socketBuffer is the size asked for the TCP send and receive buffers: a
// cut tensor fits whole, so a write does not wait for the reader.
const socketBuffer = 1 << 20

// zmtpConn is one ZMTP connection.
type zmtpConn struct {
	tcp *net.TCPConn
	r   *bufio.Reader

	wmu sync.Mutex // one message written at a time
	hdr []byte     // frame headers, under wmu

	frames [][]byte // the last message read, reused
	buf    []byte   // its bytes, reused
}

// bufferedConn reads through a buffer: zmq4 reads each frame header with
// a read of its own.
type bufferedConn struct {
	*net.TCPConn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tcpAddress returns the host:port of a tcp:// address.
func tcpAddress(addr string) (string, error) {
	hostPort, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return "", fmt.Errorf("split: address %q: want tcp://host:port", addr)
	}
	return hostPort, nil
}

// openZMTP tunes a TCP connection and performs the ZMTP handshake as a
// socket of type typ, within the timeout.
func openZMTP(tcp *net.TCPConn, typ zmq4.SocketType, server bool, timeout time.Duration) (*zmtpConn, error) {
	_ = tcp.SetNoDelay(true)
	_ = tcp.SetReadBuffer(socketBuffer)
	_ = tcp.SetWriteBuffer(socketBuffer)
	_ = tcp.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReaderSize(tcp, 64<<10)
	if _, err := zmq4.Open(bufferedConn{tcp, r}, null.Security(), typ, zmq4.SocketIdentity(""), server, nil); err != nil {
		_ = tcp.Close()
		return nil, err
	}
	_ = tcp.SetDeadline(time.Time{})
	return &zmtpConn{tcp: tcp, r: r}, nil
}

// dialZMTP connects to a ROUTER (or REP) at addr as a DEALER, retrying
// while the worker is not listening yet, for at most the timeout.
func dialZMTP(addr string, timeout time.Duration) (*zmtpConn, error) {
	hostPort, err := tcpAddress(addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		var d net.Dialer
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		conn, err := d.DialContext(ctx, "tcp", hostPort)
		cancel()
		if err == nil {
			return openZMTP(conn.(*net.TCPConn), zmq4.Dealer, false, time.Until(deadline))
		}
		if time.Until(deadline) < 100*time.Millisecond {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ZMTP frame flags.
const (
	frameMore    = 1
	frameLong    = 2
	frameCommand = 4
)

// send writes one message of the given frames in one system call, within
// the timeout.
func (c *zmtpConn) send(timeout time.Duration, frames ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.hdr = c.hdr[:0]
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags |= frameMore
		}
		if len(f) > 255 {
			c.hdr = binary.BigEndian.AppendUint64(append(c.hdr, flags|frameLong), uint64(len(f)))
		} else {
			c.hdr = append(c.hdr, flags, byte(len(f)))
		}
	}
	bufs := make(net.Buffers, 0, 2*len(frames))
	h := c.hdr
	for _, f := range frames {
		n := 2
		if len(f) > 255 {
			n = 9
		}
		bufs = append(bufs, h[:n], f)
		h = h[n:]
	}
	_ = c.tcp.SetWriteDeadline(time.Now().Add(timeout))
	_, err := bufs.WriteTo(c.tcp)
	return err
}

// errTooLarge is returned by recv for a message over the size limit; the
// message was skipped and the connection can still be used.
var errTooLarge = errors.New("message exceeds the size limit")

// recv reads the next message (ZMTP commands are skipped). Its frames are
// valid until the next recv. A message of more than maxBytes is skipped
// without being stored and reported as errTooLarge.
func (c *zmtpConn) recv(maxBytes int) ([][]byte, error) {
	for {
		frames, command, err := c.readMessage(maxBytes)
		if err != nil || !command {
			return frames, err
		}
	}
}

func (c *zmtpConn) readMessage(maxBytes int) (frames [][]byte, command bool, err error) {
	type span struct{ start, end int }
	var spans []span
	total, tooLarge := 0, false
	c.buf = c.buf[:0]
	for more := true; more; {
		flags, err := c.r.ReadByte()
		if err != nil {
			return nil, false, err
		}
		more, command = flags&frameMore != 0, command || flags&frameCommand != 0
		var size uint64
		if flags&frameLong != 0 {
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, false, err
			}
			size = binary.BigEndian.Uint64(b[:])
		} else {
			b, err := c.r.ReadByte()
			if err != nil {
				return nil, false, err
			}
			size = uint64(b)
		}
		if tooLarge || size > uint64(maxBytes-total) {
			tooLarge = true
			if _, err := io.CopyN(io.Discard, c.r, int64(min(size, math.MaxInt64))); err != nil {
				return nil, false, err
			}
			continue
		}
		start := len(c.buf)
		c.buf = slices.Grow(c.buf, int(size))[:start+int(size)]
		if _, err := io.ReadFull(c.r, c.buf[start:]); err != nil {
			return nil, false, err
		}
		total += int(size)
		spans = append(spans, span{start, len(c.buf)})
	}
	if tooLarge {
		return nil, command, errTooLarge
	}
	c.frames = c.frames[:0]
	for _, s := range spans {
		c.frames = append(c.frames, c.buf[s.start:s.end:s.end])
	}
	return c.frames, command, nil
}

func (c *zmtpConn) close() error { return c.tcp.Close() }
