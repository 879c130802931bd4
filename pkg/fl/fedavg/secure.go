package fedavg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ppml-go/ppml/pkg/fl/secagg"
)

// SecAggOptions configure secure aggregation of the clients' updates
// (Bonawitz et al. 2017, package secagg, in its passive option: the server
// is trusted to follow the protocol).
//
// Each client k encodes everything it reports as one vector of Z_{2^32}:
// its weighted delta n_k*clip(delta), where clip bounds every entry of its
// model delta to [-Clip, Clip], quantized by secagg.Quantizer (range
// [-MaxWeight*Clip, MaxWeight*Clip], stochastic rounding seeded by the
// process seed, the round and k, into [0, Range] with Range =
// floor((2^32-1)/N) for N clients), followed by exact integers: its example
// count n_k, the examples it processed, the number it classified correctly,
// its loss sum in fixed point (32 fractional bits), and the number of delta
// entries it clipped, each split into four 16-bit limbs so that the sum of
// N of them cannot wrap. The server learns only the secure sum: the
// weighted sum of the deltas and the totals of the counts, the loss and the
// clipping, nothing per client.
type SecAggOptions struct {
	// Clip bounds every entry of a client's model delta (trained minus
	// global parameters; default 1). Entries beyond it are clipped, counted
	// in Metrics.Clipped, and reported with a warning (log/slog).
	Clip float64
	// MaxWeight is the largest example count n_k of a client (default
	// 65536): a client with more examples fails the round. The
	// quantization step grows with MaxWeight*Clip.
	MaxWeight int
	// Threshold is the t of the protocol's t-of-N secret sharing: the round
	// fails if fewer than t clients survive to any stage (default
	// secagg's, N - N/3).
	Threshold int
}

// Defaults of SecAggOptions.
const (
	DefaultSecAggClip      = 1.0
	DefaultSecAggMaxWeight = 1 << 16
)

// metaFields is the number of exact integers after the quantized delta
// (weight, seen, correct, loss sum in fixed point, clipped entries), and
// limbs the 16-bit words each takes.
const (
	metaFields = 5
	limbs      = 4
	metaWords  = metaFields * limbs
	lossScale  = 1 << 32 // fixed-point scale of the loss sum
)

// maxSecureClients keeps a sum of 16-bit limbs below 2^32 and each limb
// within the quantizer's range.
const maxSecureClients = 1 << 16

func (o *SecAggOptions) validate() error {
	if o.Clip < 0 || math.IsNaN(o.Clip) || math.IsInf(o.Clip, 0) {
		return fmt.Errorf("fedavg: secure aggregation clip %v, want a positive finite number", o.Clip)
	}
	if o.MaxWeight < 0 {
		return fmt.Errorf("fedavg: secure aggregation max weight %d, want >= 0", o.MaxWeight)
	}
	if o.Threshold < 0 {
		return fmt.Errorf("fedavg: secure aggregation threshold %d, want >= 0", o.Threshold)
	}
	return nil
}

func (o SecAggOptions) withDefaults() SecAggOptions {
	if o.Clip == 0 {
		o.Clip = DefaultSecAggClip
	}
	if o.MaxWeight == 0 {
		o.MaxWeight = DefaultSecAggMaxWeight
	}
	return o
}

// quantizer returns the fixed-point encoding of weighted deltas for n
// clients.
func (o SecAggOptions) quantizer(n int) secagg.Quantizer {
	o = o.withDefaults()
	return secagg.Quantizer{Clip: float64(o.MaxWeight) * o.Clip, Range: uint32((1<<32 - 1) / max(n, 1))}
}

// config returns the secure aggregation of a round among n clients of a
// model with dim parameters.
func (o SecAggOptions) config(n, dim, round int) (secagg.Config, error) {
	if n > maxSecureClients {
		return secagg.Config{}, fmt.Errorf("fedavg: secure aggregation of %d clients, at most %d", n, maxSecureClients)
	}
	return secagg.Config{
		N:         n,
		Dim:       dim + metaWords,
		Threshold: o.Threshold,
		Round:     uint64(round),
		Quantizer: o.quantizer(n),
	}, nil
}

// Bound is the documented quantization bound: the largest difference, in
// any entry, between the averaged delta computed by secure aggregation and
// the plain one, for a round among n clients in which contributors clients
// holding examples examples in all contribute and no entry is clipped. Each
// contributor's stochastic rounding errs by less than one step
// 2*MaxWeight*Clip/Range on n_k*delta, so the sum errs by less than
// contributors steps and the average by that divided by examples (plus
// float64 rounding, bounded by a last term). The server's step multiplies it
// by its learning rate, and the new float32 parameters may differ by one
// more rounding.
func (o SecAggOptions) Bound(n, contributors, examples int) float64 {
	q := o.quantizer(n)
	step := 2 * q.Clip / float64(q.Range)
	return float64(contributors) * (step + q.Clip*0x1p-48) / float64(examples)
}

// secureInput encodes client k's update for the secure sum: the quantized
// weighted clipped delta, then the exact metadata in 16-bit limbs.
func (o SecAggOptions) secureInput(q secagg.Quantizer, u Update, seed uint64, round, client int) ([]uint32, error) {
	o = o.withDefaults()
	switch {
	case u.Weight <= 0 || u.Weight > o.MaxWeight:
		return nil, fmt.Errorf("fedavg: client %d has %d examples, outside (0, %d] (SecAggOptions.MaxWeight)", client, u.Weight, o.MaxWeight)
	case u.Seen < 0 || u.Correct < 0 || u.Correct > float64(u.Seen) || u.Correct != math.Trunc(u.Correct):
		return nil, fmt.Errorf("fedavg: client %d has inconsistent metrics (%v correct of %d seen)", client, u.Correct, u.Seen)
	case !(u.LossSum >= 0 && u.LossSum < 1<<31):
		return nil, fmt.Errorf("fedavg: client %d's loss sum %v cannot be encoded in fixed point (want [0, 2^31))", client, u.LossSum)
	}
	v := make([]float64, len(u.Delta))
	clipped := 0
	w := float64(u.Weight)
	for i, d := range u.Delta {
		x := float64(d)
		if math.Abs(x) > o.Clip {
			clipped++
			x = math.Copysign(o.Clip, x)
		}
		v[i] = w * x
	}
	rng := rand.New(rand.NewPCG(clientSeed(seed, round, client), 0x5ec466))
	enc, err := q.Quantize(v, rng)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	for _, f := range []uint64{uint64(u.Weight), uint64(u.Seen), uint64(u.Correct), uint64(math.Round(u.LossSum * lossScale)), uint64(clipped)} {
		for l := range limbs {
			enc = append(enc, uint32(f>>(16*l))&0xffff)
		}
	}
	return enc, nil
}

// secureSum is what the server decodes from the secure sum.
type secureSum struct {
	avg                            []float64 // the weighted mean delta
	weight, seen, correct, clipped int
	lossSum                        float64
}

// decodeSum turns the secure sum of contributors inputs into the averaged
// delta and the totals, and checks that they are possible.
func decodeSum(q secagg.Quantizer, sum []uint32, contributors int) (secureSum, error) {
	if len(sum) < metaWords || contributors < 1 {
		return secureSum{}, errors.New("fedavg: secure sum too short")
	}
	dim := len(sum) - metaWords
	var f [metaFields]uint64
	for i := range f {
		for l := range limbs {
			f[i] += uint64(sum[dim+i*limbs+l]) << (16 * l)
		}
	}
	s := secureSum{weight: int(f[0]), seen: int(f[1]), correct: int(f[2]), lossSum: float64(f[3]) / lossScale, clipped: int(f[4])}
	switch {
	case s.weight < contributors:
		return secureSum{}, fmt.Errorf("fedavg: secure sum of the weights of %d clients is %d", contributors, s.weight)
	case s.correct > s.seen || s.clipped > contributors*dim:
		return secureSum{}, fmt.Errorf("fedavg: secure sums out of range: %d correct of %d seen, %d of %d entries clipped", s.correct, s.seen, s.clipped, contributors*dim)
	}
	s.avg = q.Dequantize(sum[:dim], contributors)
	for i := range s.avg {
		s.avg[i] /= float64(s.weight)
	}
	return s, nil
}

// secureAggregator runs secure aggregation among the clients of an
// in-process round: their quantized inputs go through the protocol's client
// and server state machines, every message marshaled and unmarshaled as a
// network would carry it.
type secureAggregator struct {
	opts   SecAggOptions
	cfg    secagg.Config
	seed   uint64
	inputs map[int][]uint32
}

func (p *Process) newSecureAggregator(round, clients, dim int) (aggregator, error) {
	o := p.opts.SecAgg.withDefaults()
	cfg, err := o.config(clients, dim, round)
	if err != nil {
		return nil, err
	}
	return &secureAggregator{opts: o, cfg: cfg, seed: p.opts.Seed, inputs: map[int][]uint32{}}, nil
}

func (a *secureAggregator) add(client int, u Update) error {
	if err := checkUpdate(client, u, a.cfg.Dim-metaWords); err != nil {
		return err
	}
	in, err := a.opts.secureInput(a.cfg.Quantizer, u, a.seed, int(a.cfg.Round), client)
	if err != nil {
		return err
	}
	a.inputs[client] = in
	return nil
}

func (a *secureAggregator) result() ([]float64, Metrics, error) {
	srv, err := secagg.NewServer(a.cfg)
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: %w", err)
	}
	ids := slices.Sorted(maps.Keys(a.inputs))
	clients := make(map[int]*secagg.Client, len(ids))
	for _, k := range ids {
		if clients[k], err = secagg.NewClientQuantized(a.cfg, k, a.inputs[k]); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: %w", err)
		}
	}
	// wire carries a message as a network would.
	wire := func(m secagg.Message) (secagg.Message, error) {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return secagg.Unmarshal(b)
	}
	deliver := func(m secagg.Message, err error) error {
		if err == nil {
			m, err = wire(m)
		}
		if err != nil {
			return err
		}
		return srv.Receive(m)
	}
	// broadcast sends the server's answer m to clients and delivers their
	// replies.
	broadcast := func(m secagg.Message, err error, to []int, reply func(c *secagg.Client, m secagg.Message) error) error {
		if err != nil {
			return err
		}
		for _, k := range to {
			got, err := wire(m)
			if err != nil {
				return err
			}
			if err := reply(clients[k], got); err != nil {
				return err
			}
		}
		return nil
	}
	err = func() error {
		for _, k := range ids {
			if err := deliver(clients[k].AdvertiseKeys()); err != nil {
				return err
			}
		}
		keys, err := srv.KeyList()
		if err := broadcast(keys, err, ids, func(c *secagg.Client, m secagg.Message) error {
			return deliver(c.ShareKeys(m.(*secagg.KeyList)))
		}); err != nil {
			return err
		}
		bundles, err := srv.ShareBundles()
		if err != nil {
			return err
		}
		for _, b := range bundles {
			if err := broadcast(b, nil, []int{b.To}, func(c *secagg.Client, m secagg.Message) error {
				return deliver(c.MaskedInput(m.(*secagg.ShareBundle)))
			}); err != nil {
				return err
			}
		}
		req, err := srv.UnmaskRequest()
		if err != nil {
			return err
		}
		return broadcast(req, nil, req.Survivors, func(c *secagg.Client, m secagg.Message) error {
			return deliver(c.Unmask(m.(*secagg.UnmaskRequest)))
		})
	}()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	return secureResult(srv, a.opts)
}

// secureResult decodes a finished aggregation, warning if updates were
// clipped.
func secureResult(srv *secagg.Server, o SecAggOptions) ([]float64, Metrics, error) {
	sum, err := srv.Result()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	contributors := srv.Contributors()
	s, err := decodeSum(srv.Config().Quantizer, sum, len(contributors))
	if err != nil {
		return nil, Metrics{}, err
	}
	m := roundMetrics(s.lossSum, float64(s.correct), s.seen, contributors)
	m.Clipped = s.clipped
	if s.clipped > 0 {
		slog.Warn("fedavg: secure aggregation clipped model delta entries; raise SecAggOptions.Clip",
			"round", srv.Config().Round, "clipped", s.clipped, "clip", o.withDefaults().Clip)
	}
	return s.avg, m, nil
}

// doneAggregator holds a result computed elsewhere (by a remote round).
type doneAggregator struct {
	avg     []float64
	metrics Metrics
}

func (a *doneAggregator) add(int, Update) error {
	return errors.New("fedavg: round already aggregated")
}
func (a *doneAggregator) result() ([]float64, Metrics, error) { return a.avg, a.metrics, nil }

// secureRound is the server's side of a round with remote clients through
// the four stages of secure aggregation. Clients advertise keys and share
// them before they train, so a client that disappears while training has
// its masks removed through the unmasking stage. The round fails if fewer
// than the threshold of clients remain at any stage.
type secureRound struct {
	s     *Server
	state State
	srv   *secagg.Server
	// sample, in a DP round, is the aggregation's membership: secagg id i
	// is client sample.Members[i]. Without it secagg ids are client ids.
	sample *sampleRound
}

// client returns the client id of secagg id i.
func (r *secureRound) client(i int) int {
	if r.sample == nil {
		return i
	}
	return r.sample.Members[i]
}

// secaggID returns the secagg id of client id (-1 if it is not a member).
func (r *secureRound) secaggID(id int) int {
	if r.sample == nil {
		return id
	}
	if i, ok := r.sample.index(id); ok {
		return i
	}
	return -1
}

func (s *Server) secureRound(ctx context.Context, state State, ids []int) (aggregator, error) {
	o := s.p.opts.SecAgg.withDefaults()
	cfg, err := o.config(s.opts.Clients, len(state.Params), state.Round)
	if err != nil {
		return nil, err
	}
	srv, err := secagg.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	r := &secureRound{s: s, state: state, srv: srv}
	avg, m, err := r.run(ctx, ids, o)
	if err != nil {
		return nil, fmt.Errorf("fedavg: round %d: secure aggregation: %w", state.Round, err)
	}
	return &doneAggregator{avg: avg, metrics: m}, nil
}

func (r *secureRound) run(ctx context.Context, ids []int, o SecAggOptions) ([]float64, Metrics, error) {
	train := trainMsg{Round: r.state.Round, Config: r.s.p.trainConfig(), Params: r.state.Params, Sample: r.sample}.encode()
	members := make([]int, len(ids))
	for i, id := range ids {
		r.s.send(r.s.peers[id], train)
		members[i] = r.secaggID(id)
	}
	u1, err := r.setup(ctx, members)
	if err != nil {
		return nil, Metrics{}, err
	}
	u2, err := r.shareKeys(ctx, u1)
	if err != nil {
		return nil, Metrics{}, err
	}
	u3, err := r.collectMaskedVectors(ctx, u2)
	if err != nil {
		return nil, Metrics{}, err
	}
	if err := r.unmask(ctx, u3); err != nil {
		return nil, Metrics{}, err
	}
	return secureResult(r.srv, o)
}

// setup: the clients advertise their keys; the server sends the list.
func (r *secureRound) setup(ctx context.Context, ids []int) ([]int, error) {
	if err := r.receive(ctx, ids, func(m secagg.Message) bool { _, ok := m.(*secagg.AdvertiseKeys); return ok }); err != nil {
		return nil, err
	}
	keys, err := r.srv.KeyList()
	if err != nil {
		return nil, err
	}
	u1 := make([]int, len(keys.Keys))
	for i, k := range keys.Keys {
		u1[i] = k.From
	}
	return u1, r.sendAll(u1, keys)
}

// shareKeys: the clients share their seeds; the server forwards them.
func (r *secureRound) shareKeys(ctx context.Context, u1 []int) ([]int, error) {
	if err := r.receive(ctx, u1, func(m secagg.Message) bool { _, ok := m.(*secagg.ShareKeys); return ok }); err != nil {
		return nil, err
	}
	bundles, err := r.srv.ShareBundles()
	if err != nil {
		return nil, err
	}
	var u2 []int
	for _, b := range bundles {
		u2 = append(u2, b.To)
		if err := r.sendAll([]int{b.To}, b); err != nil {
			return nil, err
		}
	}
	return u2, nil
}

// collectMaskedVectors: the clients train, then send their masked inputs;
// the server answers with the survivor list.
func (r *secureRound) collectMaskedVectors(ctx context.Context, u2 []int) ([]int, error) {
	if err := r.receive(ctx, u2, func(m secagg.Message) bool { _, ok := m.(*secagg.MaskedInput); return ok }); err != nil {
		return nil, err
	}
	req, err := r.srv.UnmaskRequest()
	if err != nil {
		return nil, err
	}
	return req.Survivors, r.sendAll(req.Survivors, req)
}

// unmask: the survivors reveal their shares; the masks of clients lost
// since stage 2 are rebuilt from them.
func (r *secureRound) unmask(ctx context.Context, u3 []int) error {
	return r.receive(ctx, u3, func(m secagg.Message) bool { _, ok := m.(*secagg.UnmaskShares); return ok })
}

// receive accepts from each pending client (by secagg id) one secagg
// message of the expected type.
func (r *secureRound) receive(ctx context.Context, pending []int, want func(secagg.Message) bool) error {
	set := map[int]bool{}
	for _, i := range pending {
		if id := r.client(i); !r.s.peers[id].dropped {
			set[id] = true
		}
	}
	return r.s.exchange(ctx, set, func(p *peer, k msgKind, d *decoder) (bool, error) {
		if k != kindSecAgg {
			return false, fmt.Errorf("unexpected %v message during secure aggregation", k)
		}
		m, err := decodeSecAgg(d)
		if err != nil {
			return false, err
		}
		msg, err := secagg.Unmarshal(m.Payload)
		if err != nil {
			return false, err
		}
		if m.Round != r.state.Round || !want(msg) || senderOf(msg) != r.secaggID(p.id) {
			return false, fmt.Errorf("unexpected secagg message %T from client %d for round %d", msg, senderOf(msg), m.Round)
		}
		return true, r.srv.Receive(msg)
	})
}

// sendAll sends m to the clients in to (by secagg id) that are still there.
func (r *secureRound) sendAll(to []int, m secagg.Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	frame := secaggMsg{Round: r.state.Round, Payload: b}.encode()
	for _, i := range to {
		if p := r.s.peers[r.client(i)]; !p.dropped {
			r.s.send(p, frame)
		}
	}
	return nil
}

// senderOf returns the client id a client's secagg message claims.
func senderOf(m secagg.Message) int {
	switch m := m.(type) {
	case *secagg.AdvertiseKeys:
		return m.From
	case *secagg.ShareKeys:
		return m.From
	case *secagg.MaskedInput:
		return m.From
	case *secagg.UnmaskShares:
		return m.From
	}
	return -1
}

// secureRound is a client's side of a secure round: it joins the key
// stages, trains, and sends its masked update; nothing it reports leaves
// it unmasked.
//
// The update exists only after training, so the client starts the
// protocol with a zero input and sets its encoded update (range-checked by
// secagg.Client.SetInput) before it sends its masked input.
func (w *worker) secureRound(ctx context.Context, m trainMsg) error {
	c, id := w.c, w.c.opts.ID
	fail := func(err error) error {
		return fmt.Errorf("fedavg: client %d round %d: secure aggregation: %w", id, m.Round, err)
	}
	cfg, id, err := w.secaggConfig(m)
	if err != nil {
		return fail(err)
	}
	sc, err := secagg.NewClientQuantized(cfg, id, make([]uint32, cfg.Dim))
	if err != nil {
		return fail(err)
	}
	send := func(msg secagg.Message, err error) error {
		if err != nil {
			return fail(err)
		}
		b, err := msg.MarshalBinary()
		if err != nil {
			return fail(err)
		}
		return c.send(secaggMsg{Round: m.Round, Payload: b}.encode())
	}
	recv := func() (secagg.Message, error) {
		k, d, err := c.next(ctx, 5*c.heartbeat)
		if err != nil {
			return nil, err
		}
		if k != kindSecAgg {
			return nil, fail(fmt.Errorf("unexpected %v message", k))
		}
		sm, err := decodeSecAgg(d)
		if err != nil {
			return nil, fail(err)
		}
		if sm.Round != m.Round {
			return nil, fail(fmt.Errorf("secagg message for round %d", sm.Round))
		}
		return secagg.Unmarshal(sm.Payload)
	}
	if err := send(sc.AdvertiseKeys()); err != nil {
		return err
	}
	msg, err := recv()
	if err != nil {
		return err
	}
	keys, ok := msg.(*secagg.KeyList)
	if !ok {
		return fail(fmt.Errorf("expected the key list, got %T", msg))
	}
	if err := send(sc.ShareKeys(keys)); err != nil {
		return err
	}
	if msg, err = recv(); err != nil {
		return err
	}
	bundle, ok := msg.(*secagg.ShareBundle)
	if !ok {
		return fail(fmt.Errorf("expected a share bundle, got %T", msg))
	}

	c.logf("fedavg client %d: round %d: training", id, m.Round)
	u, err := w.update(m)
	if err != nil {
		return err
	}
	input, err := w.secagg.secureInput(cfg.Quantizer, u, m.Config.Seed, m.Round, id)
	if err != nil {
		return err
	}
	if err := sc.SetInput(input); err != nil {
		return fail(err)
	}
	if err := send(sc.MaskedInput(bundle)); err != nil {
		return err
	}
	if msg, err = recv(); err != nil {
		return err
	}
	req, ok := msg.(*secagg.UnmaskRequest)
	if !ok {
		return fail(fmt.Errorf("expected the unmask request, got %T", msg))
	}
	return send(sc.Unmask(req))
}
