package fedavg

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// tap is a TCP relay between the clients and the server that records every
// byte that crosses it, both ways: what anyone on the network sees.
type tap struct {
	ln  net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
	wg  sync.WaitGroup
}

func newTap(t *testing.T, target string) *tap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln}
	addr := strings.TrimPrefix(target, "tcp://")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			for _, p := range [][2]net.Conn{{c, s}, {s, c}} {
				tp.wg.Go(func() {
					io.Copy(io.MultiWriter(p[1], tp), p[0])
					p[1].Close()
				})
			}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tp
}

func (tp *tap) Write(b []byte) (int, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.buf.Write(b)
}

func (tp *tap) bytes() []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return bytes.Clone(tp.buf.Bytes())
}

func (tp *tap) endpoint() string { return "tcp://" + tp.ln.Addr().String() }

// leaks lists the per-client values of u found in capture, in the
// encodings the wire uses (8-byte integers, float64 bits).
func leaks(capture []byte, u Update) []string {
	var found []string
	for name, v := range map[string]uint64{
		"example count": uint64(u.Weight),
		"examples seen": uint64(u.Seen),
		"loss sum":      math.Float64bits(u.LossSum),
		"correct":       math.Float64bits(u.Correct),
	} {
		if bytes.Contains(capture, binary.LittleEndian.AppendUint64(nil, v)) {
			found = append(found, name)
		}
	}
	return found
}

// A FedAvg round between client processes, recorded on the wire: with
// secure aggregation no client's example count, examples seen, loss sum or
// correct count appears in it (they used to travel in the clear beside the
// masked vector); without it they all do, which shows the search would find
// them.
func TestSecAggWireCaptureHoldsNoPerClientMetadata(t *testing.T) {
	const seed, n = 5, 3
	clients, _ := smallClients(t, remoteImages, n, seed)
	for _, secure := range []bool{false, true} {
		opts := Options{LocalEpochs: 2, BatchSize: 16, Seed: seed}
		if secure {
			opts.SecAgg = &SecAggOptions{}
		}
		p := newProcess(t, opts)
		capture, state, _ := tappedRound(t, p, n, seed)
		m, err := p.instance()
		if err != nil {
			t.Fatal(err)
		}
		for k, d := range clients {
			u, err := LocalUpdate(m, state.Params, d, p.trainConfig(), state.Round, k)
			if err != nil {
				t.Fatal(err)
			}
			found := leaks(capture, u)
			switch {
			case secure && len(found) > 0:
				t.Errorf("secure aggregation: client %d's %v in the clear in %d captured bytes", k, found, len(capture))
			case !secure && len(found) != 4:
				t.Errorf("plain aggregation: found only %v of client %d in %d captured bytes; the search is broken", found, k, len(capture))
			}
		}
	}
}

// tappedRound runs the first round of p between a server and n client
// processes through a tap, and returns what crossed the wire, the state the
// round started from and its metrics.
func tappedRound(t *testing.T, p *Process, n int, seed int64) ([]byte, State, Metrics) {
	t.Helper()
	srv, err := p.Listen("tcp://127.0.0.1:0", ServerOptions{Clients: n, DataSeed: seed, Timeout: 5 * time.Second, Logger: lineLogger(func(line string) { t.Log(line) })})
	if err != nil {
		t.Fatal(err)
	}
	tp := newTap(t, srv.Addr())
	procs := make([]*clientProc, n)
	for id := range procs {
		procs[id] = startClient(t, tp.endpoint(), id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := srv.Next(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	for _, c := range procs {
		c.exitStatus(t)
	}
	return tp.bytes(), state, m
}
