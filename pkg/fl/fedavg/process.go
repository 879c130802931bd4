package fedavg

import (
	"errors"
	"fmt"
	"math"

	"github.com/ppml-go/ppml/pkg/nn"
)

// Dataset is one client's training examples: Len() examples of Features
// values each, stored row-major in X, with the class index of each in Y.
type Dataset struct {
	Features int
	X        []float32
	Y        []int32
}

// Len returns the number of examples.
func (d Dataset) Len() int { return len(d.Y) }

// Validate reports whether X and Y agree with Features.
func (d Dataset) Validate() error {
	switch {
	case d.Features <= 0:
		return fmt.Errorf("fedavg: dataset has %d features per example, want > 0", d.Features)
	case len(d.Y) == 0:
		return errors.New("fedavg: dataset is empty")
	case len(d.X) != len(d.Y)*d.Features:
		return fmt.Errorf("fedavg: dataset has %d values for %d examples of %d features, want %d",
			len(d.X), len(d.Y), d.Features, len(d.Y)*d.Features)
	}
	return nil
}

// ModelFunc builds the model, like TFF's model_fn: every call must give the
// same architecture, and for reproducible runs the same initial parameters
// (nn.Model.Initialize with a fixed seed). The model's loss is the one it was
// compiled with (nn.SparseCategoricalCrossentropy by default); its optimizer
// is replaced by the process's client optimizer.
type ModelFunc func() (*nn.Model, error)

func validateSGD(o nn.SGD, who string) error {
	if !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0) {
		return fmt.Errorf("fedavg: %s learning rate %v, want a positive finite number", who, o.LearningRate)
	}
	return nil
}

// Options configure a Process. The zero value of each field takes the
// default given with it.
type Options struct {
	// LocalEpochs is the number of passes each client makes over its data
	// in a round (default 1).
	LocalEpochs int
	// BatchSize is the clients' mini-batch size (default 32); the last
	// batch of an epoch holds the remainder.
	BatchSize int
	// Seed seeds the clients' shuffling (with the round and client index).
	Seed uint64
	// Server is the server optimizer, applied to the averaged delta
	// (default SGD with learning rate 1.0, which sets the global model to
	// the weighted mean of the clients' models).
	Server *nn.SGD
	// SecAgg, if not nil, sums the weighted deltas by secure aggregation.
	SecAgg *SecAggOptions
	// DP, if not nil, runs DP-FedAvg (see DPOptions): client sampling,
	// L2 clipping, equal weights and Gaussian noise on the sum.
	DP *DPOptions
}

// TrainConfig is what a client needs to know to train in a round; the
// server sends it with the global parameters.
type TrainConfig struct {
	LocalEpochs  int
	BatchSize    int
	LearningRate float64
	Seed         uint64
}

func (c TrainConfig) validate() error {
	if c.LocalEpochs <= 0 {
		return fmt.Errorf("fedavg: %d local epochs, want > 0", c.LocalEpochs)
	}
	if c.BatchSize <= 0 {
		return fmt.Errorf("fedavg: batch size %d, want > 0", c.BatchSize)
	}
	return validateSGD(nn.SGD{LearningRate: c.LearningRate}, "client")
}

// State is the server state between rounds: the number of rounds done and
// the global model's parameters as one flat vector.
type State struct {
	Round  int
	Params []float32
}

// Metrics are one round's training metrics, aggregated over the clients as
// TFF reports them.
type Metrics struct {
	// Loss and Accuracy are the example-weighted means of the loss and
	// sparse categorical accuracy the clients measured on their training
	// batches during the round.
	Loss     float64
	Accuracy float64
	// Examples is the number of training examples processed (all local
	// epochs of all aggregated clients).
	Examples int
	// Clients lists the clients whose updates were aggregated, by index.
	Clients []int
	// Dropped lists the clients dropped from the round (remote mode).
	Dropped []int
	// Sampled lists the clients sampled for the round (with Options.DP).
	Sampled []int
	// Clipped counts the model delta entries clipped by secure
	// aggregation (see SecAggOptions.Clip), summed over the clients; it
	// should be 0, and a warning is logged (log/slog) when it is not.
	Clipped int
}

// Update is what a client reports after training in a round.
type Update struct {
	// Delta is the trained minus the global parameters.
	Delta []float32
	// Weight is the client's example count n_k, the delta's weight.
	Weight int
	// LossSum is the sum over the processed examples of the training loss,
	// Correct the number of them classified correctly, and Seen their
	// number (LocalEpochs * Weight).
	LossSum float64
	Correct float64
	Seen    int
}

// Process is federated averaging over a fixed model architecture, in the
// shape of tff.learning.build_federated_averaging_process. It is not safe
// for concurrent use.
type Process struct {
	newModel ModelFunc
	client   nn.SGD
	server   nn.SGD
	opts     Options
	model    *nn.Model // one instance, reused for every client in turn
}

// New builds a federated averaging process from a model function, called
// once per process, and the clients' optimizer.
func New(model ModelFunc, client nn.SGD, opts Options) (*Process, error) {
	if model == nil {
		return nil, errors.New("fedavg: nil model function")
	}
	if err := validateSGD(client, "client"); err != nil {
		return nil, err
	}
	if opts.LocalEpochs == 0 {
		opts.LocalEpochs = 1
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 32
	}
	server := nn.SGD{LearningRate: 1}
	if opts.Server != nil {
		server = *opts.Server
	}
	if err := validateSGD(server, "server"); err != nil {
		return nil, err
	}
	p := &Process{newModel: model, client: client, server: server, opts: opts}
	if err := p.trainConfig().validate(); err != nil {
		return nil, err
	}
	if opts.SecAgg != nil {
		if err := opts.SecAgg.validate(); err != nil {
			return nil, err
		}
	}
	if opts.DP != nil {
		if err := opts.DP.validate(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// trainConfig returns the clients' training configuration.
func (p *Process) trainConfig() TrainConfig {
	return TrainConfig{
		LocalEpochs:  p.opts.LocalEpochs,
		BatchSize:    p.opts.BatchSize,
		LearningRate: p.client.LearningRate,
		Seed:         p.opts.Seed,
	}
}

func (p *Process) instance() (*nn.Model, error) {
	if p.model == nil {
		m, err := p.newModel()
		if err != nil {
			return nil, fmt.Errorf("fedavg: building the model: %w", err)
		}
		p.model = m
	}
	return p.model, nil
}

// Initialize returns the initial server state: round 0 and the parameters of
// a freshly built model.
func (p *Process) Initialize() (State, error) {
	m, err := p.instance()
	if err != nil {
		return State{}, err
	}
	params, err := m.Weights()
	if err != nil {
		return State{}, fmt.Errorf("fedavg: reading the initial parameters: %w", err)
	}
	return State{Round: 0, Params: params}, nil
}

// Round runs one round of federated averaging from a state: Process.Next
// on clients' data in this process (Process.Local), or Server.Next on
// remote clients (Server.Round).
type Round func(State) (State, Metrics, error)

// Local returns the Round of Next on the clients' data in this process.
func (p *Process) Local(data []Dataset) Round {
	return func(s State) (State, Metrics, error) { return p.Next(s, data) }
}

// Run is the federated averaging loop: it initializes the server state and
// runs the given number of rounds with round, calling onRound (if not nil)
// after each with the round's 1-based number and metrics; an error from
// onRound stops the loop. It returns the final state, or the state of the
// last completed round and the error.
func (p *Process) Run(rounds int, round Round, onRound func(int, Metrics) error) (State, error) {
	state, err := p.Initialize()
	if err != nil {
		return state, err
	}
	for r := range rounds {
		next, m, err := round(state)
		if err != nil {
			return state, fmt.Errorf("fedavg: round %d: %w", r+1, err)
		}
		state = next
		if onRound != nil {
			if err := onRound(r+1, m); err != nil {
				return state, err
			}
		}
	}
	return state, nil
}

// Next runs one round with the given clients' data sets (client k is
// data[k]) and returns the new state and the round's metrics. The clients
// train one after the other in this process; state is not modified.
// With Options.DP only the round's sample of the clients trains (see
// DPOptions).
func (p *Process) Next(state State, data []Dataset) (State, Metrics, error) {
	if len(data) == 0 {
		return state, Metrics{}, errors.New("fedavg: no clients in the round")
	}
	if p.opts.DP != nil {
		return p.nextDP(state, data)
	}
	m, err := p.instance()
	if err != nil {
		return state, Metrics{}, err
	}
	cfg := p.trainConfig()
	agg, err := p.newAggregator(state.Round, len(data), len(state.Params))
	if err != nil {
		return state, Metrics{}, err
	}
	for k, d := range data {
		u, err := LocalUpdate(m, state.Params, d, cfg, state.Round, k)
		if err != nil {
			return state, Metrics{}, fmt.Errorf("fedavg: client %d: %w", k, err)
		}
		if err := agg.add(k, u); err != nil {
			return state, Metrics{}, err
		}
	}
	return p.finish(state, agg)
}

// finish aggregates the round's updates and applies the averaged delta.
func (p *Process) finish(state State, agg aggregator) (State, Metrics, error) {
	avg, metrics, err := agg.result()
	if err != nil {
		return state, Metrics{}, err
	}
	next := State{Round: state.Round + 1, Params: applyDelta(state.Params, avg, p.server.LearningRate)}
	return next, metrics, nil
}

// Evaluate returns the loss and accuracy of the state's model on d.
func (p *Process) Evaluate(state State, d Dataset) (loss, accuracy float64, err error) {
	if err := d.Validate(); err != nil {
		return 0, 0, err
	}
	m, err := p.instance()
	if err != nil {
		return 0, 0, err
	}
	if err := m.SetWeights(state.Params); err != nil {
		return 0, 0, fmt.Errorf("fedavg: setting the parameters: %w", err)
	}
	mt, err := m.Evaluate(d.X, d.Y, evalBatch)
	return mt.Loss, mt.Accuracy, err
}

// evalBatch is the batch size of Evaluate.
const evalBatch = 1024

// applyDelta returns params + lr*delta.
func applyDelta(params []float32, delta []float64, lr float64) []float32 {
	out := make([]float32, len(params))
	for i, v := range params {
		out[i] = float32(float64(v) + lr*delta[i])
	}
	return out
}

// clientSeed returns the seed of client k's shuffling in a round: the
// process seed mixed with the round and the client index (SplitMix64).
func clientSeed(seed uint64, round, client int) uint64 {
	z := seed ^ (uint64(round)<<32 | uint64(uint32(client)))
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// LocalUpdate is one client's work in a round: starting from the global
// parameters it trains m with SGD at cfg.LearningRate for cfg.LocalEpochs
// epochs over d, in mini-batches of cfg.BatchSize reshuffled every epoch
// (seeded by cfg.Seed, round and client), and returns the update. m's
// parameters and optimizer are overwritten.
func LocalUpdate(m *nn.Model, global []float32, d Dataset, cfg TrainConfig, round, client int) (Update, error) {
	if err := cfg.validate(); err != nil {
		return Update{}, err
	}
	if err := d.Validate(); err != nil {
		return Update{}, err
	}
	if d.Features != m.InputDim() {
		return Update{}, fmt.Errorf("data has %d features, the model takes %d", d.Features, m.InputDim())
	}
	if err := m.Compile(m.Loss(), nn.SGD{LearningRate: cfg.LearningRate}); err != nil {
		return Update{}, err
	}
	if err := m.SetWeights(global); err != nil {
		return Update{}, fmt.Errorf("setting the global parameters: %w", err)
	}
	history, err := m.Fit(d.X, d.Y, nn.FitOptions{
		Epochs:    cfg.LocalEpochs,
		BatchSize: cfg.BatchSize,
		Shuffle:   true,
		Seed:      clientSeed(cfg.Seed, round, client),
	})
	if err != nil {
		return Update{}, err
	}
	u := Update{Weight: d.Len()}
	for _, e := range history {
		u.LossSum += e.Loss * float64(e.Count)
		u.Correct += math.Round(e.Accuracy * float64(e.Count))
		u.Seen += e.Count
	}
	trained, err := m.Weights()
	if err != nil {
		return Update{}, fmt.Errorf("reading the trained parameters: %w", err)
	}
	u.Delta = make([]float32, len(global))
	for i := range trained {
		u.Delta[i] = trained[i] - global[i]
	}
	return u, nil
}

// DenseModel returns the model function of the course's network, Keras'
// Sequential([Dense(hidden, relu), Dense(classes, softmax)]) on inputDim
// features, trained with sparse categorical cross-entropy and initialised
// Glorot-uniform from seed.
func DenseModel(inputDim, hidden, classes int, seed uint64) ModelFunc {
	return SequentialModel(inputDim, []nn.Layer{nn.Dense(hidden, nn.ReLU), nn.Dense(classes, nn.Softmax)}, seed)
}

// CNNModel returns the model function of nn.MNISTCNN with a softmax head
// over classes, on 28×28 images given as 784 features, trained with sparse
// categorical cross-entropy and initialised Glorot-uniform from seed.
func CNNModel(classes int, seed uint64) ModelFunc {
	return SequentialModel(28*28, nn.MNISTCNN(classes, nn.Softmax), seed)
}

// SequentialModel returns the model function of nn.Sequential(inputDim,
// layers...), trained with sparse categorical cross-entropy and initialised
// Glorot-uniform from seed. Any other GoMLX model fits a ModelFunc the same
// way (nn.New).
func SequentialModel(inputDim int, layers []nn.Layer, seed uint64) ModelFunc {
	return func() (*nn.Model, error) {
		m, err := nn.Sequential(inputDim, layers...)
		if err != nil {
			return nil, err
		}
		if err := m.Initialize(nn.GlorotUniform, seed); err != nil {
			return nil, err
		}
		return m, m.Compile(nn.SparseCategoricalCrossentropy, m.Optimizer())
	}
}
