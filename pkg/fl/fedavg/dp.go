package fedavg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ppml-go/ppml/pkg/dp"
	"github.com/ppml-go/ppml/pkg/fl/secagg"
	"github.com/ppml-go/ppml/pkg/nn"
)

// DPOptions configure DP-FedAvg, the federated averaging with user-level
// differential privacy of McMahan, Ramage, Talwar and Zhang, "Learning
// Differentially Private Recurrent Language Models" (ICLR 2018), built from
// the blocks of package dp. Each round:
//
//  1. the server samples every one of the N clients independently with
//     probability Sample (q);
//  2. each sampled client trains as in plain federated averaging and clips
//     its model delta to L2 norm Clip (C);
//  3. the server sums the clipped deltas with equal weights (through secure
//     aggregation if Options.SecAgg is set), adds Gaussian noise
//     N(0, (zC)²) with z = Noise to every coordinate of the sum, and divides
//     by the expected number of clients qN, not by the number sampled or
//     the number that survived (the paper's fixed-denominator estimator:
//     the count would itself depend on who took part);
//  4. the server optimizer applies that mean to the global model.
//
// A round is one step of the sampled Gaussian mechanism at the level of
// clients, so after T rounds the whole run is (ε, δ)-DP for one client's
// entire data with the ε of [DPOptions.Epsilon] (the RDP accountant of
// package dp). Clients that drop out of a round only lower the sum's
// sensitivity. What is not covered: the round's training metrics (loss,
// accuracy, example counts, which clients took part), which the server
// reports without noise for the course; a deployment would not publish
// them. Against an honest-but-curious server only: the noise is added by the
// server, which sees the sum (secure aggregation hides each client's update,
// not the noiseless sum). Clients are trusted to clip: the server clips the
// updates it sees in the clear again, but under secure aggregation it can
// only bound each entry to [-C, C], so a dishonest client could contribute
// an update of norm up to C·sqrt(d) and weaken everyone's guarantee.
//
// With secure aggregation, the round's aggregation runs among the sampled
// clients only: SecAgg+ (Bell et al., CCS 2020) with the neighbour count k
// and threshold t of secagg.PlusParams for the sample size and Threat, when
// such k < n-1 exists (samples of a few hundred clients and more), and the
// complete graph of SecAgg otherwise (the usual case for samples of tens of
// clients); every client encodes its clipped delta with weight 1, so
// SecAggOptions.Clip becomes C and MaxWeight 1 (each entry of a delta of L2
// norm at most C lies in [-C, C]), and SecAggOptions.Threshold is replaced
// by the sample's threshold. A sample of fewer than two clients cannot be
// aggregated securely: the round then releases the noise alone (a
// data-independent choice of the sample size). The numbers of colluding
// and dropped clients that the fractions of Threat allow in a sample are
// rounded up (secagg rounds them down): a sample of any size withstands at
// least one colluding and one dropped client, unless together they would be
// more than 90% of it (samples of two), where secagg's counts are kept.
type DPOptions struct {
	// Clip is C, the L2 norm each client's model delta is clipped to.
	Clip float64
	// Noise is the noise multiplier z: the noise's standard deviation is
	// z*C. Zero adds no noise (and gives no privacy: ε is infinite).
	Noise float64
	// Sample is q, the probability with which each client is sampled in a
	// round (default 1: every client, every round).
	Sample float64
	// Delta is the δ of the (ε, δ) reported; 0 means DefaultDelta(N).
	Delta float64
	// Threat is what the secure aggregation among a round's sample must
	// withstand (the fractions of the sample that may collude with the
	// server and that may drop out); the zero value means DefaultDPThreat.
	Threat secagg.Threat
	// Seed, if not zero, seeds the sampling, the noise and the SecAgg+ graph
	// (with the round), for reproducible tests: anyone who knows it can
	// subtract the noise. Zero draws them from crypto/rand.
	Seed uint64
}

// DefaultDPThreat is the threat the secure aggregation of a DP-FedAvg round
// withstands by default: 5% of the sample colluding with the server and 10%
// dropping out (the first row of package secagg's table).
var DefaultDPThreat = secagg.Threat{Corrupt: 0.05, Dropout: 0.1}

// DefaultDelta returns the δ reported for n clients when DPOptions.Delta is
// zero: min(1e-5, n^-1.1). A meaningful δ must be well below 1/n (a mechanism
// that publishes one random client's whole data is (0, 1/n)-DP); 1e-5 is the
// customary value for the course's sizes and n^-1.1, the choice of McMahan
// et al. (2018), takes over above about 35,000 clients.
func DefaultDelta(n int) float64 {
	return min(1e-5, math.Pow(float64(max(n, 1)), -1.1))
}

func (o *DPOptions) validate() error {
	switch {
	case !(o.Clip > 0) || math.IsInf(o.Clip, 0):
		return fmt.Errorf("fedavg: DP clipping norm %v, want a positive finite number", o.Clip)
	case !(o.Noise >= 0) || math.IsInf(o.Noise, 0):
		return fmt.Errorf("fedavg: DP noise multiplier %v, want a finite number >= 0", o.Noise)
	case !(o.Sample >= 0 && o.Sample <= 1):
		return fmt.Errorf("fedavg: DP sampling probability %v, want 0 <= q <= 1 (0: 1)", o.Sample)
	case !(o.Delta >= 0 && o.Delta < 1):
		return fmt.Errorf("fedavg: DP delta %v, want 0 <= delta < 1", o.Delta)
	case !(o.Threat.Corrupt >= 0 && o.Threat.Corrupt < 1) || !(o.Threat.Dropout >= 0 && o.Threat.Dropout < 1):
		return fmt.Errorf("fedavg: DP threat %+v, want fractions in [0, 1)", o.Threat)
	case o.Threat.Active:
		return fmt.Errorf("fedavg: DP threat %+v: secure aggregation against an active server is not supported here", o.Threat)
	}
	return nil
}

func (o DPOptions) withDefaults() DPOptions {
	if o.Sample == 0 {
		o.Sample = 1
	}
	if o.Threat == (secagg.Threat{}) {
		o.Threat = DefaultDPThreat
	}
	return o
}

// delta returns the δ reported for n clients.
func (o DPOptions) delta(n int) float64 {
	if o.Delta > 0 {
		return o.Delta
	}
	return DefaultDelta(n)
}

// Epsilon returns the ε of (ε, δ)-DP after rounds rounds among n clients,
// the δ it holds with (DPOptions.Delta, or DefaultDelta(n)) and the RDP order
// that gives it, by the RDP accountant of package dp (Mironov, Talwar and
// Zhang 2019) for rounds steps of the sampled Gaussian mechanism with rate
// Sample and noise multiplier Noise. With Noise 0, ε is +Inf.
func (o DPOptions) Epsilon(n, rounds int) (eps, delta, order float64, err error) {
	o = o.withDefaults()
	delta = o.delta(n)
	if o.Noise == 0 {
		return math.Inf(1), delta, 0, nil
	}
	var a dp.Accountant
	if err := a.Step(o.Sample, o.Noise, rounds); err != nil {
		return 0, 0, 0, fmt.Errorf("fedavg: %w", err)
	}
	eps, order, err = a.Epsilon(delta)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("fedavg: %w", err)
	}
	return eps, delta, order, nil
}

// rand returns the random source of a round's purpose: seeded by Seed, the
// round and the purpose in test mode, crypto/rand otherwise (also for the
// SecAgg+ graph seed, which must be unpredictable to the clients).
func (o DPOptions) rand(round int, purpose uint64) *rand.Rand {
	if o.Seed == 0 {
		return dp.NewCryptoRand()
	}
	return rand.New(rand.NewPCG(clientSeed(o.Seed, round, int(purpose)), 0xd9fed))
}

// Purposes of a round's randomness.
const (
	randSample = iota
	randNoise
	randGraph
)

// sample returns the clients sampled in a round among n, in increasing
// order.
func (o DPOptions) sample(n, round int) ([]int, error) {
	o = o.withDefaults()
	ids, err := dp.SampleClients(n, o.Sample, o.rand(round, randSample))
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	return ids, nil
}

// noisyMean adds the round's noise to the sum of the clipped deltas and
// divides it by the expected number of clients q*n.
func (o DPOptions) noisyMean(sum []float64, n, round int) ([]float64, error) {
	o = o.withDefaults()
	if o.Noise > 0 {
		if err := dp.AddGaussianNoise(sum, o.Noise, o.Clip, o.rand(round, randNoise)); err != nil {
			return nil, fmt.Errorf("fedavg: %w", err)
		}
	}
	mean, err := dp.NoisyMean(sum, o.Sample, n)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	return mean, nil
}

// secAgg returns the secure aggregation options of a DP round: clipped
// deltas with weight 1 lie entry-wise in [-Clip, Clip].
func (o DPOptions) secAgg() SecAggOptions {
	return SecAggOptions{Clip: o.Clip, MaxWeight: 1}
}

// clipUpdate returns u with its delta clipped to L2 norm c and weight 1, as a
// sampled client reports it in DP-FedAvg (u itself is not modified).
func clipUpdate(u Update, c float64) (Update, error) {
	u.Delta = slices.Clone(u.Delta)
	if _, _, err := dp.ClipL2(u.Delta, c); err != nil {
		return Update{}, fmt.Errorf("fedavg: %w", err)
	}
	u.Weight = 1
	return u, nil
}

// sampleRound is what the clients sampled for a secure DP round must agree
// on besides the secure aggregation options: the sample (a client's
// position in it is its secagg id) and the parameters of the graph.
type sampleRound struct {
	Members          []int // client ids; secagg id i is Members[i]
	Neighbours       int   // 0: complete graph
	Threshold        int   // 0: secagg's default for the graph
	GraphSeed        [32]byte
	Corrupt, Dropout float64
}

// newSampleRound chooses the secure aggregation among a round's sample:
// SecAgg+ with k and t from secagg.PlusParams when some k < n-1 meets the
// threat, else the complete graph.
func (o DPOptions) newSampleRound(members []int, round int) sampleRound {
	o = o.withDefaults()
	th := o.sampleThreat(len(members))
	s := sampleRound{Members: members, Corrupt: th.Corrupt, Dropout: th.Dropout}
	if k, t, err := secagg.PlusParams(len(members), th); err == nil {
		s.Neighbours, s.Threshold = k, t
		r := o.rand(round, randGraph)
		for i := 0; i < len(s.GraphSeed); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				s.GraphSeed[i+j] = byte(v >> (8 * j))
			}
		}
	}
	return s
}

// sampleThreat returns the threat of a sample of n clients: o.Threat with
// the numbers of colluding and dropped clients rounded up.
func (o DPOptions) sampleThreat(n int) secagg.Threat {
	th := o.withDefaults().Threat
	up := func(f float64) float64 { return math.Ceil(f*float64(n)-1e-9) / float64(n) }
	if r := (secagg.Threat{Corrupt: up(th.Corrupt), Dropout: up(th.Dropout)}); n > 0 && r.Corrupt+r.Dropout <= 0.9 {
		return r
	}
	return th
}

// config returns the secure aggregation of the sample for a model of dim
// parameters; the server and every sampled client compute the same.
func (s sampleRound) config(o SecAggOptions, dim, round int) (secagg.Config, error) {
	cfg, err := o.config(len(s.Members), dim, round)
	if err != nil {
		return cfg, err
	}
	cfg.Neighbours, cfg.Threshold, cfg.GraphSeed = s.Neighbours, s.Threshold, s.GraphSeed
	cfg.Corrupt, cfg.Dropout = s.Corrupt, s.Dropout
	return cfg, nil
}

// index returns the secagg id of client id in the sample.
func (s sampleRound) index(id int) (int, bool) {
	i, ok := slices.BinarySearch(s.Members, id)
	return i, ok
}

// dpAggregator is the server side of a DP-FedAvg round: it clips the
// updates it is given, has inner sum them with weight 1, then adds the
// noise and divides by q*n.
type dpAggregator struct {
	o       DPOptions
	n       int // all clients
	round   int
	dim     int
	inner   aggregator // nil: nobody contributes, the noise alone is released
	members []int      // if not nil, inner's client ids are positions in it
	added   int
}

func (a *dpAggregator) add(client int, u Update) error {
	if a.inner == nil {
		return fmt.Errorf("fedavg: client %d is not in the round's aggregation", client)
	}
	if err := checkUpdate(client, u, a.dim); err != nil {
		return err
	}
	u, err := clipUpdate(u, a.o.Clip)
	if err != nil {
		return err
	}
	if a.members != nil {
		i, ok := slices.BinarySearch(a.members, client)
		if !ok {
			return fmt.Errorf("fedavg: client %d was not sampled in round %d", client, a.round)
		}
		client = i
	}
	a.added++
	return a.inner.add(client, u)
}

func (a *dpAggregator) result() ([]float64, Metrics, error) {
	sum := make([]float64, a.dim)
	var m Metrics
	if a.inner != nil {
		if _, done := a.inner.(*doneAggregator); done || a.added > 0 {
			avg, im, err := a.inner.result()
			if err != nil {
				return nil, Metrics{}, err
			}
			// Every weight is 1: the weighted mean times the number of
			// contributors is their sum.
			for i, v := range avg {
				sum[i] = v * float64(len(im.Clients))
			}
			m = im
			if a.members != nil {
				for i, k := range m.Clients {
					m.Clients[i] = a.members[k]
				}
			}
		}
	}
	mean, err := a.o.noisyMean(sum, a.n, a.round)
	return mean, m, err
}

// newDPAggregator returns the aggregator of a DP round among the sampled
// clients members of n, in process: a plain sum, or secure aggregation
// among the sample.
func (p *Process) newDPAggregator(round int, members []int, n, dim int) (*dpAggregator, error) {
	o := p.opts.DP.withDefaults()
	a := &dpAggregator{o: o, n: n, round: round, dim: dim}
	switch {
	case len(members) == 0:
	case p.opts.SecAgg == nil:
		a.inner = &plainAggregator{dim: dim, updates: map[int]Update{}}
	case len(members) < 2:
		slog.Warn("fedavg: one client sampled: the round releases the noise alone, secure aggregation needs two", "round", round)
	default:
		s := o.newSampleRound(members, round)
		cfg, err := s.config(o.secAgg(), dim, round)
		if err != nil {
			return nil, err
		}
		a.inner = &secureAggregator{opts: o.secAgg(), cfg: cfg, seed: p.opts.Seed, inputs: map[int][]uint32{}}
		a.members = members
	}
	return a, nil
}

// nextDP is Process.Next with DP-FedAvg: data holds all N clients, of which
// the round's sample trains.
func (p *Process) nextDP(state State, data []Dataset) (State, Metrics, error) {
	members, err := p.opts.DP.sample(len(data), state.Round)
	if err != nil {
		return state, Metrics{}, err
	}
	agg, err := p.newDPAggregator(state.Round, members, len(data), len(state.Params))
	if err != nil {
		return state, Metrics{}, err
	}
	if agg.inner != nil {
		m, err := p.instance()
		if err != nil {
			return state, Metrics{}, err
		}
		cfg := p.trainConfig()
		for _, k := range members {
			u, err := LocalUpdate(m, state.Params, data[k], cfg, state.Round, k)
			if err != nil {
				return state, Metrics{}, fmt.Errorf("fedavg: client %d: %w", k, err)
			}
			if err := agg.add(k, u); err != nil {
				return state, Metrics{}, err
			}
		}
	}
	next, m, err := p.finish(state, agg)
	if err != nil {
		return state, Metrics{}, err
	}
	m.Sampled = members
	return next, m, nil
}

// update trains the worker's model in round m and returns its update; in a
// DP round, with the delta clipped to L2 norm dpClip (and, for secure
// aggregation, weight 1: the weight of a plain update is checked against
// the announced example count and replaced by the server).
func (w *worker) update(m trainMsg) (Update, error) {
	id := w.c.opts.ID
	u, err := LocalUpdate(w.model, m.Params, w.data, m.Config, m.Round, id)
	if err != nil {
		return Update{}, fmt.Errorf("fedavg: client %d round %d: %w", id, m.Round, err)
	}
	if w.dpClip == 0 {
		return u, nil
	}
	c, err := clipUpdate(u, w.dpClip)
	if err != nil {
		return Update{}, fmt.Errorf("fedavg: client %d round %d: %w", id, m.Round, err)
	}
	if w.secagg == nil {
		c.Weight = u.Weight
	}
	return c, nil
}

// secaggConfig returns the worker's secure aggregation of round m and its
// secagg id: among all clients, or in a DP round among the sample the
// server announced.
func (w *worker) secaggConfig(m trainMsg) (secagg.Config, int, error) {
	id := w.c.opts.ID
	if m.Sample == nil {
		if w.dpClip > 0 {
			return secagg.Config{}, 0, errors.New("DP round without the sample's membership")
		}
		cfg, err := w.secagg.config(w.clients, len(m.Params), m.Round)
		return cfg, id, err
	}
	i, ok := m.Sample.index(id)
	if !ok {
		return secagg.Config{}, 0, fmt.Errorf("asked to train but not in the round's sample of %d clients", len(m.Sample.Members))
	}
	cfg, err := m.Sample.config(*w.secagg, len(m.Params), m.Round)
	return cfg, i, err
}

// nextDP is Server.Next with DP-FedAvg: the round's sample among all the
// server's clients trains; sampled clients already dropped count as
// dropped.
func (s *Server) nextDP(ctx context.Context, state State) (State, Metrics, error) {
	o := s.p.opts.DP.withDefaults()
	sampled, err := o.sample(s.opts.Clients, state.Round)
	if err != nil {
		return state, Metrics{}, err
	}
	var ids []int // the sampled clients still there
	for _, id := range sampled {
		if p := s.peers[id]; p != nil && p.ready && !p.dropped {
			ids = append(ids, id)
		}
	}
	dim := len(state.Params)
	agg := &dpAggregator{o: o, n: s.opts.Clients, round: state.Round, dim: dim}
	switch {
	case len(ids) == 0:
		s.logf("fedavg server: round %d: no client sampled: the noise alone", state.Round)
	case s.p.opts.SecAgg == nil:
		agg.inner = &plainAggregator{dim: dim, updates: map[int]Update{}}
		if _, err := s.plainRound(ctx, state, ids, agg); err != nil {
			return state, Metrics{}, err
		}
	case len(ids) < 2:
		s.logf("fedavg server: round %d: one client sampled: the noise alone, secure aggregation needs two", state.Round)
	default:
		sample := o.newSampleRound(ids, state.Round)
		if agg.inner, err = s.dpSecureRound(ctx, state, &sample); err != nil {
			return state, Metrics{}, err
		}
		agg.members = ids
	}
	next, m, err := s.p.finish(state, agg)
	if err != nil {
		return state, Metrics{}, fmt.Errorf("fedavg: round %d: %w", state.Round, err)
	}
	m.Sampled = sampled
	for _, id := range sampled {
		if p := s.peers[id]; p == nil || p.dropped {
			m.Dropped = append(m.Dropped, id)
		}
	}
	return next, m, nil
}

// dpSecureRound runs the secure aggregation of a DP round among the
// sampled clients.
func (s *Server) dpSecureRound(ctx context.Context, state State, sample *sampleRound) (aggregator, error) {
	o := s.p.opts.DP.secAgg()
	cfg, err := sample.config(o, len(state.Params), state.Round)
	if err != nil {
		return nil, err
	}
	srv, err := secagg.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("fedavg: round %d: %w", state.Round, err)
	}
	s.logf("fedavg server: round %d: secure aggregation among %d sampled clients, %s", state.Round, len(sample.Members), describeGraph(srv.Config()))
	r := &secureRound{s: s, state: state, srv: srv, sample: sample}
	avg, m, err := r.run(ctx, sample.Members, o)
	if err != nil {
		return nil, fmt.Errorf("fedavg: round %d: secure aggregation: %w", state.Round, err)
	}
	return &doneAggregator{avg: avg, metrics: m}, nil
}

// describeGraph says which graph a secure aggregation uses.
func describeGraph(c secagg.Config) string {
	if c.Neighbours == 0 {
		return fmt.Sprintf("complete graph, threshold %d", c.Threshold)
	}
	return fmt.Sprintf("SecAgg+ with %d neighbours, threshold %d", c.Neighbours, c.Threshold)
}

// DPPoint is one point of DP-FedAvg's privacy–utility trade-off: the model
// trained with noise multiplier Noise for Rounds rounds, its test accuracy
// and loss, and the (Epsilon, Delta) of the run.
type DPPoint struct {
	Noise          float64
	Rounds         int
	Epsilon, Delta float64
	Accuracy, Loss float64
}

// NoiseSweep trains the process's DP-FedAvg in process (Process.Next) for
// rounds rounds once for each noise multiplier in noises, every run from
// the same initial model with the other options of opts.DP, and returns one
// DPPoint per run: the data of a chart of test accuracy against the noise
// multiplier, labelled with ε. opts.DP must be set.
func NoiseSweep(model ModelFunc, client nn.SGD, opts Options, clients []Dataset, test Dataset, rounds int, noises []float64) ([]DPPoint, error) {
	if opts.DP == nil {
		return nil, errors.New("fedavg: NoiseSweep needs Options.DP")
	}
	if rounds < 1 {
		return nil, fmt.Errorf("fedavg: NoiseSweep of %d rounds, want at least 1", rounds)
	}
	var out []DPPoint
	for _, z := range noises {
		o := *opts.DP
		o.Noise = z
		run := opts
		run.DP = &o
		p, err := New(model, client, run)
		if err != nil {
			return nil, err
		}
		state, err := p.Initialize()
		if err != nil {
			return nil, err
		}
		for range rounds {
			if state, _, err = p.Next(state, clients); err != nil {
				return nil, err
			}
		}
		pt := DPPoint{Noise: z, Rounds: rounds}
		if pt.Loss, pt.Accuracy, err = p.Evaluate(state, test); err != nil {
			return nil, err
		}
		if pt.Epsilon, pt.Delta, _, err = o.Epsilon(len(clients), rounds); err != nil {
			return nil, err
		}
		out = append(out, pt)
	}
	return out, nil
}
