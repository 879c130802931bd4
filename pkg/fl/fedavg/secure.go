package fedavg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ppml-go/ppml/pkg/fl/secagg"
)

// SecAggOptions configure secure aggregation of the weighted deltas
// (Bonawitz et al. 2017, package secagg).
//
// Each client k encodes its update as one vector of Z_{2^32}: its weighted
// delta n_k*delta, clipped to [-Clip, Clip] and quantized by
// secagg.Quantizer with stochastic rounding (seeded by the process seed, the
// round and k) into [0, Range] with Range = floor((2^32-1)/N) for N clients,
// followed by two exact integers, n_k and the number of entries it clipped.
// The secure sum of these vectors is all the server needs: the weighted sum
// of the deltas, the total weight, and the total clipped count. Training
// metrics (loss, accuracy) are aggregated in the clear, as in TFF.
type SecAggOptions struct {
	// Clip bounds every entry of a weighted delta n_k*delta (default 65536).
	// Entries beyond it are clipped and counted in Metrics.Clipped.
	Clip float64
	// Threshold is the t of the protocol's t-of-N secret sharing: the round
	// fails if fewer than t clients survive to the last stage (default
	// secagg's, N - N/3).
	Threshold int
}

// DefaultSecAggClip is the default SecAggOptions.Clip.
const DefaultSecAggClip = 1 << 16

func (o *SecAggOptions) validate() error {
	if o.Clip < 0 || math.IsNaN(o.Clip) || math.IsInf(o.Clip, 0) {
		return fmt.Errorf("fedavg: secure aggregation clip %v, want a positive finite number", o.Clip)
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
	return o
}

// quantizer returns the fixed-point encoding for n clients.
func (o SecAggOptions) quantizer(n int) secagg.Quantizer {
	return secagg.Quantizer{Clip: o.withDefaults().Clip, Range: uint32((1<<32 - 1) / max(n, 1))}
}

// config returns the secure aggregation of a round among n clients of a
// model with dim parameters.
func (o SecAggOptions) config(n, dim, round int) secagg.Config {
	return secagg.Config{
		N:         n,
		Dim:       dim + 2,
		Threshold: o.Threshold,
		Round:     uint64(round),
		Quantizer: o.quantizer(n),
	}
}

// Bound is the documented quantization bound: the largest difference, in
// any entry, between the averaged delta computed by secure aggregation and
// the plain one, for a round among n clients in which contributors clients
// holding examples examples in all contribute and no entry is clipped. Each
// contributor's stochastic rounding errs by less than one step 2*Clip/Range
// on n_k*delta, so the sum errs by less than contributors steps and the
// average by that divided by examples (plus float64 rounding, bounded by a
// last term). The server's step multiplies it by its learning rate, and the
// new float32 parameters may differ by one more rounding.
func (o SecAggOptions) Bound(n, contributors, examples int) float64 {
	q := o.quantizer(n)
	step := 2 * q.Clip / float64(q.Range)
	return float64(contributors) * (step + q.Clip*0x1p-48) / float64(examples)
}

// secureInput encodes client k's update for the secure sum: the quantized
// weighted delta, then the weight n_k and the number of clipped entries.
func secureInput(q secagg.Quantizer, u Update, seed uint64, round, client int) ([]uint32, error) {
	if u.Weight <= 0 || uint64(u.Weight) > uint64(q.Range) {
		return nil, fmt.Errorf("fedavg: weight %d outside (0, %d] for secure aggregation", u.Weight, q.Range)
	}
	v := make([]float64, len(u.Delta))
	clipped := 0
	w := float64(u.Weight)
	for i, d := range u.Delta {
		v[i] = w * float64(d)
		if math.Abs(v[i]) > q.Clip {
			clipped++
		}
	}
	rng := rand.New(rand.NewPCG(clientSeed(seed, round, client), 0x5ec466))
	enc, err := q.Quantize(v, rng)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	return append(enc, uint32(u.Weight), uint32(clipped)), nil
}

// decodeSum turns the secure sum of contributors inputs into the averaged
// delta, the total weight and the number of clipped entries.
func decodeSum(q secagg.Quantizer, sum []uint32, contributors int) (avg []float64, weight, clipped int, err error) {
	if len(sum) < 2 {
		return nil, 0, 0, errors.New("fedavg: secure sum too short")
	}
	dim := len(sum) - 2
	weight, clipped = int(sum[dim]), int(sum[dim+1])
	if weight == 0 {
		return nil, 0, 0, errors.New("fedavg: secure sum of the weights is 0")
	}
	avg = q.Dequantize(sum[:dim], contributors)
	for i := range avg {
		avg[i] /= float64(weight)
	}
	return avg, weight, clipped, nil
}

// secureAggregator runs secure aggregation among the clients of an
// in-process round: their quantized inputs go through the protocol's client
// and server state machines, every message marshaled and unmarshaled.
type secureAggregator struct {
	cfg     secagg.Config
	seed    uint64
	inputs  map[int][]uint32
	metrics map[int]Update
}

func (p *Process) newSecureAggregator(round, clients, dim int) (aggregator, error) {
	o := p.opts.SecAgg.withDefaults()
	return &secureAggregator{
		cfg:     o.config(clients, dim, round),
		seed:    p.opts.Seed,
		inputs:  map[int][]uint32{},
		metrics: map[int]Update{},
	}, nil
}

func (a *secureAggregator) add(client int, u Update) error {
	if err := checkUpdate(client, u, a.cfg.Dim-2); err != nil {
		return err
	}
	in, err := secureInput(a.cfg.Quantizer, u, a.seed, int(a.cfg.Round), client)
	if err != nil {
		return err
	}
	a.inputs[client] = in
	u.Delta = nil
	a.metrics[client] = u
	return nil
}

func (a *secureAggregator) result() ([]float64, Metrics, error) {
	srv, err := secagg.NewServer(a.cfg)
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: %w", err)
	}
	ids := slices.Sorted(mapsKeys(a.inputs))
	clients := make(map[int]*secagg.Client, len(ids))
	for _, k := range ids {
		if clients[k], err = secagg.NewClientQuantized(a.cfg, k, a.inputs[k]); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: %w", err)
		}
	}
	// Every message crosses a marshal/unmarshal boundary as it would on
	// the wire.
	deliver := func(m secagg.Message, err error) error {
		if err != nil {
			return err
		}
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		got, err := secagg.Unmarshal(b)
		if err != nil {
			return err
		}
		return srv.Receive(got)
	}
	for _, k := range ids {
		if err := deliver(clients[k].AdvertiseKeys()); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
		}
	}
	keys, err := srv.KeyList()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	for _, k := range ids {
		if err := deliver(clients[k].ShareKeys(keys)); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
		}
	}
	bundles, err := srv.ShareBundles()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	for _, b := range bundles {
		if err := deliver(clients[b.To].MaskedInput(b)); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
		}
	}
	req, err := srv.UnmaskRequest()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	for _, k := range req.Survivors {
		if err := deliver(clients[k].Unmask(req)); err != nil {
			return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
		}
	}
	return secureResult(srv, a.metrics)
}

// secureResult decodes a finished aggregation and the contributors' metrics.
func secureResult(srv *secagg.Server, metrics map[int]Update) ([]float64, Metrics, error) {
	sum, err := srv.Result()
	if err != nil {
		return nil, Metrics{}, fmt.Errorf("fedavg: secure aggregation: %w", err)
	}
	contributors := srv.Contributors()
	avg, _, clipped, err := decodeSum(srv.Config().Quantizer, sum, len(contributors))
	if err != nil {
		return nil, Metrics{}, err
	}
	var lossSum, correct float64
	var seen int
	for _, k := range contributors {
		u := metrics[k]
		lossSum += u.LossSum
		correct += u.Correct
		seen += u.Seen
	}
	m := roundMetrics(lossSum, correct, seen, contributors)
	m.Clipped = clipped
	return avg, m, nil
}

func mapsKeys[V any](m map[int]V) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
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

// secureRound runs a round with remote clients through the four stages of
// secure aggregation. Clients advertise keys and share them before they
// train, so a client that disappears while training has its masks removed
// through the unmasking stage.
func (s *Server) secureRound(ctx context.Context, state State, ids []int) (aggregator, error) {
	cfg := s.p.opts.SecAgg.withDefaults().config(s.opts.Clients, len(state.Params), state.Round)
	srv, err := secagg.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	fail := func(err error) (aggregator, error) {
		return nil, fmt.Errorf("fedavg: round %d: secure aggregation: %w", state.Round, err)
	}
	// receive accepts from each pending client one secagg message of the
	// expected type (and, in stage 3, its metrics first).
	metrics := map[int]Update{}
	receive := func(pending []int, want func(secagg.Message) bool) error {
		set := map[int]bool{}
		for _, id := range pending {
			if !s.peers[id].dropped {
				set[id] = true
			}
		}
		return s.exchange(ctx, set, func(p *peer, k msgKind, d *decoder) (bool, error) {
			if k == kindUpdate {
				m, err := decodeUpdate(d)
				if err != nil || m.Round != state.Round || len(m.Update.Delta) != 0 {
					return false, fmt.Errorf("bad metrics message (round %d, %v)", m.Round, err)
				}
				metrics[p.id] = m.Update
				return false, nil
			}
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
			if m.Round != state.Round || !want(msg) || senderOf(msg) != p.id {
				return false, fmt.Errorf("unexpected secagg message %T from client %d for round %d", msg, senderOf(msg), m.Round)
			}
			return true, srv.Receive(msg)
		})
	}
	sendAll := func(to []int, m secagg.Message) error {
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		frame := secaggMsg{Round: state.Round, Payload: b}.encode()
		for _, id := range to {
			if p := s.peers[id]; !p.dropped {
				s.send(p, frame)
			}
		}
		return nil
	}

	train := trainMsg{Round: state.Round, Config: s.p.trainConfig(), Params: state.Params}.encode()
	for _, id := range ids {
		s.send(s.peers[id], train)
	}
	// Stage 1: advertise keys.
	if err := receive(ids, func(m secagg.Message) bool { _, ok := m.(*secagg.AdvertiseKeys); return ok }); err != nil {
		return fail(err)
	}
	keys, err := srv.KeyList()
	if err != nil {
		return fail(err)
	}
	u1 := make([]int, len(keys.Keys))
	for i, k := range keys.Keys {
		u1[i] = k.From
	}
	if err := sendAll(u1, keys); err != nil {
		return fail(err)
	}
	// Stage 2: share keys.
	if err := receive(u1, func(m secagg.Message) bool { _, ok := m.(*secagg.ShareKeys); return ok }); err != nil {
		return fail(err)
	}
	bundles, err := srv.ShareBundles()
	if err != nil {
		return fail(err)
	}
	var u2 []int
	for _, b := range bundles {
		u2 = append(u2, b.To)
		if err := sendAll([]int{b.To}, b); err != nil {
			return fail(err)
		}
	}
	// Stage 3: the clients train, then send their metrics and masked input.
	if err := receive(u2, func(m secagg.Message) bool { _, ok := m.(*secagg.MaskedInput); return ok }); err != nil {
		return fail(err)
	}
	req, err := srv.UnmaskRequest()
	if err != nil {
		return fail(err)
	}
	if err := sendAll(req.Survivors, req); err != nil {
		return fail(err)
	}
	// Stage 4: unmask; the masks of clients lost since stage 2 are
	// reconstructed from their shares.
	if err := receive(req.Survivors, func(m secagg.Message) bool { _, ok := m.(*secagg.UnmaskShares); return ok }); err != nil {
		return fail(err)
	}
	avg, m, err := secureResult(srv, metrics)
	if err != nil {
		return nil, err
	}
	return &doneAggregator{avg: avg, metrics: m}, nil
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
// stages, trains, and sends its metrics and masked update.
//
// secagg.Client takes its input when it is created, before the key stages,
// but the update exists only after training. The masked input is additive
// (input + masks mod 2^32), so the client runs the protocol on a zero input
// and adds its quantized update to the masked vector itself.
func (w *worker) secureRound(ctx context.Context, m trainMsg) error {
	c, id := w.c, w.c.opts.ID
	cfg := w.secagg.config(w.clients, len(m.Params), m.Round)
	sc, err := secagg.NewClientQuantized(cfg, id, make([]uint32, cfg.Dim))
	if err != nil {
		return fmt.Errorf("fedavg: client %d: %w", id, err)
	}
	send := func(msg secagg.Message, err error) error {
		if err != nil {
			return fmt.Errorf("fedavg: client %d round %d: secure aggregation: %w", id, m.Round, err)
		}
		b, err := msg.MarshalBinary()
		if err != nil {
			return err
		}
		return c.send(secaggMsg{Round: m.Round, Payload: b}.encode())
	}
	recv := func() (secagg.Message, error) {
		k, d, err := c.next(ctx, 5*c.heartbeat)
		if err != nil {
			return nil, err
		}
		if k != kindSecAgg {
			return nil, fmt.Errorf("fedavg: client %d: unexpected %v message during secure aggregation", id, k)
		}
		sm, err := decodeSecAgg(d)
		if err != nil {
			return nil, err
		}
		if sm.Round != m.Round {
			return nil, fmt.Errorf("fedavg: client %d: secagg message for round %d during round %d", id, sm.Round, m.Round)
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
		return fmt.Errorf("fedavg: client %d: expected the key list, got %T", id, msg)
	}
	if err := send(sc.ShareKeys(keys)); err != nil {
		return err
	}
	if msg, err = recv(); err != nil {
		return err
	}
	bundle, ok := msg.(*secagg.ShareBundle)
	if !ok {
		return fmt.Errorf("fedavg: client %d: expected a share bundle, got %T", id, msg)
	}

	c.logf("fedavg client %d: round %d: training", id, m.Round)
	u, err := LocalUpdate(w.model, m.Params, w.data, m.Config, m.Round, id)
	if err != nil {
		return fmt.Errorf("fedavg: client %d round %d: %w", id, m.Round, err)
	}
	input, err := secureInput(cfg.Quantizer, u, m.Config.Seed, m.Round, id)
	if err != nil {
		return err
	}
	masked, err := sc.MaskedInput(bundle)
	if err != nil {
		return fmt.Errorf("fedavg: client %d: %w", id, err)
	}
	for i, x := range input {
		masked.Vector[i] += x // mod 2^32
	}
	metrics := u
	metrics.Delta, metrics.Weight = nil, 0
	if err := c.send(updateMsg{Round: m.Round, Update: metrics}.encode()); err != nil {
		return err
	}
	if err := send(masked, nil); err != nil {
		return err
	}
	if msg, err = recv(); err != nil {
		return err
	}
	req, ok := msg.(*secagg.UnmaskRequest)
	if !ok {
		return fmt.Errorf("fedavg: client %d: expected the unmask request, got %T", id, msg)
	}
	return send(sc.Unmask(req))
}
