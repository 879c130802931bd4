package fedavg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ppml-go/ppml/pkg/nn"
)

// ClientOptions configure RunClient.
type ClientOptions struct {
	// ID is the client's index, 0 to the server's Clients-1.
	ID int
	// Data loads this client's examples once the server has said how the
	// data is partitioned: among clients parts, with seed. The client's data
	// never leaves its process.
	Data func(clients int, seed int64) (Dataset, error)
	// JoinTimeout bounds the wait for the server's welcome (default 1 min).
	JoinTimeout time.Duration
	// Logger, if not nil, receives a record per round (level Info).
	Logger *slog.Logger
}

// ErrRejected is wrapped by the error RunClient returns when the server
// refuses or drops the client.
var ErrRejected = errors.New("fedavg: rejected by the server")

// RunClient connects to a Server at endpoint, loads its data, and trains in
// every round the server runs, until the server says training is over (it
// returns nil) or drops the client, stays silent for five heartbeat
// intervals, or ctx ends (it returns an error).
func RunClient(ctx context.Context, endpoint string, model ModelFunc, opts ClientOptions) error {
	if model == nil || opts.Data == nil {
		return errors.New("fedavg: client needs a model function and a data loader")
	}
	if opts.JoinTimeout == 0 {
		opts.JoinTimeout = time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &client{
		opts: opts,
		sock: zmq4.NewDealer(ctx, zmq4.WithDialerRetry(100*time.Millisecond),
			zmq4.WithDialerMaxRetries(int(opts.JoinTimeout/(100*time.Millisecond)))),
		in: make(chan []byte, 16),
	}
	defer c.sock.Close()
	if err := c.sock.Dial(endpoint); err != nil {
		return fmt.Errorf("fedavg: client %d: %w", opts.ID, err)
	}
	go c.receive(ctx)
	if err := c.send(newMsg(kindHello).int(opts.ID).b); err != nil {
		return err
	}
	welcome, err := c.awaitWelcome(ctx)
	if err != nil {
		return err
	}
	data, err := opts.Data(welcome.Clients, welcome.DataSeed)
	if err != nil {
		c.send(encodeReject("loading data: " + err.Error()))
		return fmt.Errorf("fedavg: client %d loading its data: %w", opts.ID, err)
	}
	if err := data.Validate(); err != nil {
		c.send(encodeReject(err.Error()))
		return fmt.Errorf("fedavg: client %d: %w", opts.ID, err)
	}
	m, err := model()
	if err != nil {
		c.send(encodeReject("building the model: " + err.Error()))
		return fmt.Errorf("fedavg: client %d building the model: %w", opts.ID, err)
	}
	c.heartbeat = time.Duration(welcome.Heartbeat) * time.Millisecond
	if c.heartbeat <= 0 {
		return fmt.Errorf("fedavg: client %d: server announced heartbeat interval %v", opts.ID, c.heartbeat)
	}
	go c.beat(ctx)
	announced := data.Len()
	if welcome.SecAgg != nil {
		announced = 0 // the weight goes into the secure sum only
	}
	if err := c.send(newMsg(kindReady).int(announced).b); err != nil {
		return err
	}
	w := &worker{c: c, model: m, data: data, clients: welcome.Clients, secagg: welcome.SecAgg, dpClip: welcome.DPClip}
	return w.serve(ctx)
}

// client is the connection of a client process to the server.
type client struct {
	opts      ClientOptions
	sock      zmq4.Socket
	mu        sync.Mutex // serializes sends
	in        chan []byte
	recvErr   error
	heartbeat time.Duration
}

func (c *client) logf(format string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Info(fmt.Sprintf(format, args...))
	}
}

func (c *client) send(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.sock.Send(zmq4.NewMsg(frame)); err != nil {
		return fmt.Errorf("fedavg: client %d sending: %w", c.opts.ID, err)
	}
	return nil
}

// receive forwards the server's frames to c.in; it closes c.in when the
// socket fails or closes.
func (c *client) receive(ctx context.Context) {
	defer close(c.in)
	for {
		msg, err := c.sock.Recv()
		if err != nil {
			c.recvErr = err
			return
		}
		if len(msg.Frames) != 1 {
			continue
		}
		select {
		case c.in <- msg.Frames[0]:
		case <-ctx.Done():
			return
		}
	}
}

// beat sends a heartbeat every interval until ctx ends.
func (c *client) beat(ctx context.Context) {
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = c.send(newMsg(kindHeartbeat).b)
		}
	}
}

// next returns the server's next message other than a heartbeat. Once the
// heartbeat interval is known, five intervals of silence are an error.
func (c *client) next(ctx context.Context, limit time.Duration) (msgKind, *decoder, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-timer.C:
			return 0, nil, fmt.Errorf("fedavg: client %d: server silent for %v", c.opts.ID, limit)
		case frame, ok := <-c.in:
			if !ok {
				return 0, nil, fmt.Errorf("fedavg: client %d: connection closed: %v", c.opts.ID, c.recvErr)
			}
			k, d, err := parseMsg(frame)
			if err != nil {
				c.logf("fedavg client %d: %v", c.opts.ID, err)
				continue
			}
			if k == kindHeartbeat {
				timer.Reset(limit)
				continue
			}
			if k == kindReject {
				reason, _ := decodeReject(d)
				return 0, nil, fmt.Errorf("%w: client %d: %s", ErrRejected, c.opts.ID, reason)
			}
			return k, d, nil
		}
	}
}

func (c *client) awaitWelcome(ctx context.Context) (welcomeMsg, error) {
	k, d, err := c.next(ctx, c.opts.JoinTimeout)
	if err != nil {
		return welcomeMsg{}, err
	}
	if k != kindWelcome {
		return welcomeMsg{}, fmt.Errorf("fedavg: client %d: expected welcome, got %v", c.opts.ID, k)
	}
	return decodeWelcome(d)
}

// worker is a client's training side: its model and data.
type worker struct {
	c       *client
	model   *nn.Model
	data    Dataset
	clients int
	secagg  *SecAggOptions // nil: plain aggregation
	dpClip  float64        // DP-FedAvg's L2 clipping norm; 0: no DP
}

// serve answers the server's rounds until it says training is done.
func (w *worker) serve(ctx context.Context) error {
	c := w.c
	silence := 5 * c.heartbeat
	for {
		k, d, err := c.next(ctx, silence)
		if err != nil {
			return err
		}
		switch k {
		case kindDone:
			c.logf("fedavg client %d: training done", c.opts.ID)
			return nil
		case kindTrain:
			m, err := decodeTrain(d)
			if err != nil {
				return err
			}
			if w.secagg != nil {
				err = w.secureRound(ctx, m)
			} else {
				err = w.plainRound(m)
			}
			if err != nil {
				c.send(encodeReject(err.Error()))
				return err
			}
		default:
			c.logf("fedavg client %d: ignoring %v message between rounds", c.opts.ID, k)
		}
	}
}

// plainRound trains and sends the update in the clear.
func (w *worker) plainRound(m trainMsg) error {
	w.c.logf("fedavg client %d: round %d: training", w.c.opts.ID, m.Round)
	u, err := w.update(m)
	if err != nil {
		return err
	}
	w.c.logf("fedavg client %d: round %d trained on %d examples, loss %.4f", w.c.opts.ID, m.Round, u.Seen, u.LossSum/float64(u.Seen))
	return w.c.send(updateMsg{Round: m.Round, Update: u}.encode())
}
