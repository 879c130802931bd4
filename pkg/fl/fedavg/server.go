package fedavg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Clients is the number of client processes, with ids 0 to Clients-1.
	Clients int
	// DataSeed is sent to the clients, which partition their data with it
	// (see ClientOptions.Data).
	DataSeed int64
	// Timeout is how long a client may stay silent before it is dropped
	// (default 10s). Clients send heartbeats every Timeout/5 while they
	// train, so the timeout does not bound the length of a round.
	Timeout time.Duration
	// Logger, if not nil, receives a record per event (joins, drops;
	// level Info).
	Logger *slog.Logger
}

// Server runs a Process's rounds with remote clients: separate processes
// running RunClient that connect to it over ZeroMQ. It is not safe for
// concurrent use.
type Server struct {
	p       *Process
	opts    ServerOptions
	sock    zmq4.Socket
	cancel  context.CancelFunc
	in      chan inbound
	peers   map[int]*peer    // joined clients by id
	byIdent map[string]*peer // joined clients by ZeroMQ routing id
	ready   bool             // all clients joined
	closed  bool
}

// peer is the server's view of one client.
type peer struct {
	id       int
	ident    []byte
	ready    bool // the client has loaded its data
	examples int  // as the client announced (0 with secure aggregation)
	lastSeen time.Time
	dropped  bool
}

// inbound is a message received by the server's socket.
type inbound struct {
	ident []byte
	frame []byte
	err   error
}

// Listen starts a server for the process on a ZeroMQ endpoint such as
// "tcp://127.0.0.1:5555" (port 0 picks a free port; see Addr).
func (p *Process) Listen(endpoint string, opts ServerOptions) (*Server, error) {
	if opts.Clients < 1 {
		return nil, fmt.Errorf("fedavg: server expects %d clients, want at least 1", opts.Clients)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("fedavg: negative timeout %v", opts.Timeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewRouter(ctx, zmq4.WithTimeout(opts.Timeout))
	if err := sock.Listen(endpoint); err != nil {
		cancel()
		sock.Close()
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	s := &Server{
		p: p, opts: opts, sock: sock, cancel: cancel,
		in:      make(chan inbound, 64),
		peers:   map[int]*peer{},
		byIdent: map[string]*peer{},
	}
	go s.receive(ctx)
	return s, nil
}

// receive forwards the socket's messages to s.in until the socket closes.
func (s *Server) receive(ctx context.Context) {
	for {
		msg, err := s.sock.Recv()
		var in inbound
		switch {
		case err != nil:
			in.err = err
		case len(msg.Frames) != 2:
			continue // not ours: a DEALER sends one frame, prefixed by its id
		default:
			in.ident, in.frame = msg.Frames[0], msg.Frames[1]
		}
		select {
		case s.in <- in:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// secAgg returns the secure aggregation options the clients must use, or nil.
func (s *Server) secAgg() *SecAggOptions {
	if s.p.opts.SecAgg == nil {
		return nil
	}
	o := s.p.opts.SecAgg.withDefaults()
	if s.p.opts.DP != nil {
		o = s.p.opts.DP.secAgg()
	}
	return &o
}

// dpClip returns the L2 clipping norm the clients must apply (0: no DP).
func (s *Server) dpClip() float64 {
	if s.p.opts.DP == nil {
		return 0
	}
	return s.p.opts.DP.Clip
}

// Addr returns the endpoint the server listens on, with the actual port.
func (s *Server) Addr() string {
	if a, ok := s.sock.Addr().(*net.TCPAddr); ok {
		return "tcp://" + a.String()
	}
	return s.sock.Addr().String()
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logger != nil {
		s.opts.Logger.Info(fmt.Sprintf(format, args...))
	}
}

func (s *Server) send(p *peer, frame []byte) {
	// A send to a client that is gone fails or goes nowhere; the client is
	// then dropped for its silence.
	_ = s.sock.Send(zmq4.NewMsgFrom(p.ident, frame))
}

// drop removes a client from the current and later rounds.
func (s *Server) drop(p *peer, why string) {
	if p.dropped {
		return
	}
	p.dropped = true
	s.logf("fedavg server: client %d dropped: %s", p.id, why)
	s.send(p, encodeReject("dropped: "+why))
}

// active returns the ids of the clients still taking part, in order.
func (s *Server) active() []int {
	var ids []int
	for id, p := range s.peers {
		if !p.dropped && p.ready {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// handler receives a client's message that is not a hello or heartbeat
// during an exchange; it returns true when nothing more is expected from
// that client in this exchange.
type handler func(p *peer, k msgKind, d *decoder) (bool, error)

// exchange serves messages until every client in pending is done, dropped,
// or ctx ends. An error from h drops that client (it misbehaved); the
// exchange fails only if ctx ends or the socket fails.
func (s *Server) exchange(ctx context.Context, pending map[int]bool, h handler) error {
	interval := s.opts.Timeout / 5
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("fedavg: waiting for clients %v: %w", slices.Sorted(maps.Keys(pending)), ctx.Err())
		case in := <-s.in:
			p, err := s.sender(in)
			if err != nil {
				return err
			}
			if p == nil || p.dropped || !pending[p.id] {
				continue
			}
			k, d, _ := parseMsg(in.frame)
			switch k {
			case kindHello, kindHeartbeat:
				continue
			case kindReject:
				reason, _ := decodeReject(d)
				s.drop(p, "client gave up: "+reason)
				delete(pending, p.id)
				continue
			}
			done, err := h(p, k, d)
			if err != nil {
				s.drop(p, err.Error())
				delete(pending, p.id)
			} else if done {
				delete(pending, p.id)
			}
		case now := <-tick.C:
			for _, p := range s.peers {
				if p.dropped {
					continue
				}
				if now.Sub(p.lastSeen) > s.opts.Timeout {
					s.drop(p, fmt.Sprintf("silent for %v", now.Sub(p.lastSeen).Round(time.Millisecond)))
					delete(pending, p.id)
					continue
				}
				s.send(p, newMsg(kindHeartbeat).b)
			}
		}
	}
	return nil
}

// sender dispatches in: it returns the sender, nil for a message refused
// (logged), or the socket's error.
func (s *Server) sender(in inbound) (*peer, error) {
	if in.err != nil {
		return nil, fmt.Errorf("fedavg: server socket: %w", in.err)
	}
	p, err := s.dispatch(in)
	if err != nil {
		s.logf("fedavg server: %v", err)
		return nil, nil
	}
	return p, nil
}

// dispatch handles what every exchange handles alike: it registers hellos,
// refreshes the sender's last-seen time, and returns the sender (nil for a
// hello or an unknown sender, which is refused).
func (s *Server) dispatch(in inbound) (*peer, error) {
	k, d, err := parseMsg(in.frame)
	if err != nil {
		s.sock.Send(zmq4.NewMsgFrom(in.ident, encodeReject(err.Error())))
		return nil, err
	}
	p := s.byIdent[string(in.ident)]
	if k == kindHello {
		return p, s.hello(in.ident, d)
	}
	if p == nil {
		s.sock.Send(zmq4.NewMsgFrom(in.ident, encodeReject("say hello first")))
		return nil, fmt.Errorf("%v message from an unknown peer", k)
	}
	p.lastSeen = time.Now()
	return p, nil
}

// hello registers a new client and welcomes it, or refuses it.
func (s *Server) hello(ident []byte, d *decoder) error {
	id := d.int()
	if err := d.finish(kindHello); err != nil {
		s.sock.Send(zmq4.NewMsgFrom(ident, encodeReject(err.Error())))
		return err
	}
	refuse := func(format string, args ...any) error {
		err := fmt.Errorf(format, args...)
		s.sock.Send(zmq4.NewMsgFrom(ident, encodeReject(err.Error())))
		return err
	}
	switch {
	case id < 0 || id >= s.opts.Clients:
		return refuse("client id %d out of range [0, %d)", id, s.opts.Clients)
	case s.peers[id] != nil:
		return refuse("client id %d has already joined", id)
	case s.ready:
		return refuse("client %d is too late: training has started", id)
	}
	p := &peer{id: id, ident: append([]byte(nil), ident...), lastSeen: time.Now()}
	s.peers[id] = p
	s.byIdent[string(ident)] = p
	s.logf("fedavg server: client %d joined", id)
	s.send(p, welcomeMsg{
		Clients:   s.opts.Clients,
		DataSeed:  s.opts.DataSeed,
		Heartbeat: int((s.opts.Timeout / 5).Milliseconds()),
		SecAgg:    s.secAgg(),
		DPClip:    s.dpClip(),
	}.encode())
	return nil
}

// WaitClients waits until every client has joined and loaded its data, or
// ctx ends. Training with fewer clients than announced is not allowed: a
// partition of the data would be missing.
func (s *Server) WaitClients(ctx context.Context) error {
	if s.ready {
		return nil
	}
	// Heartbeats keep the clients that joined early waiting (they give up
	// after five silent intervals).
	tick := time.NewTicker(s.opts.Timeout / 5)
	defer tick.Stop()
	for {
		var missing []int
		for id := range s.opts.Clients {
			if p := s.peers[id]; p == nil || !p.ready {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			s.ready = true
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fedavg: clients %v did not join: %w", missing, ctx.Err())
		case <-tick.C:
			for _, p := range s.peers {
				if !p.dropped {
					s.send(p, newMsg(kindHeartbeat).b)
				}
			}
		case in := <-s.in:
			p, err := s.sender(in)
			if err != nil {
				return err
			}
			if p == nil {
				continue
			}
			k, d, _ := parseMsg(in.frame)
			if k == kindReady {
				n := d.int()
				if err := d.finish(k); err != nil || n < 0 || (n == 0) != (s.p.opts.SecAgg != nil) {
					return fmt.Errorf("fedavg: client %d is ready with %d examples (%v)", p.id, n, err)
				}
				p.ready, p.examples = true, n
				s.logf("fedavg server: client %d ready", p.id)
			}
		}
	}
}

// Round returns the Round of Next with the remote clients, under ctx.
func (s *Server) Round(ctx context.Context) Round {
	return func(state State) (State, Metrics, error) { return s.Next(ctx, state) }
}

// Next runs one round with the connected clients, as Process.Next does with
// local data: same configuration, same seeds, same aggregation, so the same
// result. Clients that stay silent longer than the timeout are dropped and
// the round goes on without them; it fails if no client is left (with
// secure aggregation, if fewer than its threshold are left).
// With Options.DP only the round's sample of the clients trains, and the
// secure aggregation runs among the sample (see DPOptions).
func (s *Server) Next(ctx context.Context, state State) (State, Metrics, error) {
	if s.closed {
		return state, Metrics{}, errors.New("fedavg: server closed")
	}
	if err := s.WaitClients(ctx); err != nil {
		return state, Metrics{}, err
	}
	if s.p.opts.DP != nil {
		return s.nextDP(ctx, state)
	}
	ids := s.active()
	if len(ids) == 0 {
		return state, Metrics{}, errors.New("fedavg: no client left")
	}
	var (
		agg aggregator
		err error
	)
	if s.p.opts.SecAgg != nil {
		agg, err = s.secureRound(ctx, state, ids)
	} else {
		agg, err = s.plainRound(ctx, state, ids, &plainAggregator{dim: len(state.Params), updates: map[int]Update{}})
	}
	if err != nil {
		return state, Metrics{}, err
	}
	next, m, err := s.p.finish(state, agg)
	if err != nil {
		return state, Metrics{}, fmt.Errorf("fedavg: round %d: %w", state.Round, err)
	}
	for _, id := range ids {
		if s.peers[id].dropped {
			m.Dropped = append(m.Dropped, id)
		}
	}
	return next, m, nil
}

// plainRound sends the global model to the clients and collects their
// updates in the clear into agg.
func (s *Server) plainRound(ctx context.Context, state State, ids []int, agg aggregator) (aggregator, error) {
	train := trainMsg{Round: state.Round, Config: s.p.trainConfig(), Params: state.Params}.encode()
	pending := map[int]bool{}
	for _, id := range ids {
		pending[id] = true
		s.send(s.peers[id], train)
	}
	err := s.exchange(ctx, pending, func(p *peer, k msgKind, d *decoder) (bool, error) {
		if k != kindUpdate {
			return false, fmt.Errorf("unexpected %v message during training", k)
		}
		m, err := decodeUpdate(d)
		if err != nil {
			return false, err
		}
		if m.Round != state.Round {
			return false, fmt.Errorf("update for round %d during round %d", m.Round, state.Round)
		}
		if m.Update.Weight != p.examples {
			return false, fmt.Errorf("update weighted %d, the client announced %d examples", m.Update.Weight, p.examples)
		}
		return true, agg.add(p.id, m.Update)
	})
	return agg, err
}

// Close tells the clients that training is over and closes the socket.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	for _, p := range s.peers {
		if !p.dropped {
			s.send(p, newMsg(kindDone).b)
		}
	}
	// Give the done messages a moment to leave before the socket closes.
	time.Sleep(50 * time.Millisecond)
	err := s.sock.Close()
	s.cancel()
	return err
}
