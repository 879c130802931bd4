package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppml-go/ppml/pkg/fl/fedavg"
	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
)

// flConfig holds the flags shared by `fl fedavg` and `fl server`: the
// training configuration of the course's original (TFF) section.
type flConfig struct {
	clients, rounds, epochs, batch, hidden int
	lr, serverLR                           float64
	secagg                                 bool
	secaggClip                             float64
	secaggMaxWeight, secaggThreshold       int
	seed                                   int64
	digits, model                          string
	digitList                              []int // parsed from digits by setup
	dpClip, dpNoise, sample, dpDelta       float64
	dpSeed                                 uint64
}

func (c *flConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&c.clients, "clients", 3, "number of clients")
	fs.IntVar(&c.rounds, "rounds", 10, "federated rounds")
	fs.IntVar(&c.epochs, "local-epochs", 10, "local epochs per round")
	fs.IntVar(&c.batch, "batch", 32, "clients' batch size")
	fs.IntVar(&c.hidden, "hidden", 64, "hidden units of the model")
	fs.Float64Var(&c.lr, "lr", 0.02, "clients' SGD learning rate")
	fs.Float64Var(&c.serverLR, "server-lr", 1.0, "server SGD learning rate on the averaged delta")
	fs.BoolVar(&c.secagg, "secagg", false, "sum the updates by secure aggregation")
	fs.Float64Var(&c.secaggClip, "secagg-clip", fedavg.DefaultSecAggClip, "with --secagg: clip every model delta entry to [-clip, clip] (with --dp-clip: C instead)")
	fs.IntVar(&c.secaggMaxWeight, "secagg-max-weight", fedavg.DefaultSecAggMaxWeight, "with --secagg: the largest example count of a client")
	fs.IntVar(&c.secaggThreshold, "secagg-threshold", 0, "with --secagg: the t of t-of-N secret sharing; a round fails with fewer clients left (0: N - N/3; with --dp-clip: chosen for each round's sample)")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the data partition, the initial model and the shuffling")
	fs.StringVar(&c.digits, "digits", "0,1", "comma-separated digits to classify")
	fs.Float64Var(&c.dpClip, "dp-clip", 0, "DP-FedAvg: clip each client's model delta to this L2 norm C (0: no differential privacy)")
	fs.Float64Var(&c.dpNoise, "dp-noise", 1, "with --dp-clip: noise multiplier z, Gaussian noise of std z*C on the sum of the clipped deltas")
	fs.Float64Var(&c.sample, "sample", 1, "with --dp-clip: probability q with which each client is sampled in a round")
	fs.Float64Var(&c.dpDelta, "dp-delta", 0, "with --dp-clip: the delta of the epsilon reported (0: min(1e-5, clients^-1.1))")
	fs.Uint64Var(&c.dpSeed, "dp-seed", 0, "with --dp-clip: seed of the sampling and the noise, reproducible but NOT private (0: crypto/rand)")
	fs.StringVar(&c.model, "model", "mlp", modelUsage)
}

// dp returns the DP-FedAvg options of the configuration, or nil.
func (c *flConfig) dp() *fedavg.DPOptions {
	if c.dpClip == 0 {
		return nil
	}
	return &fedavg.DPOptions{Clip: c.dpClip, Noise: c.dpNoise, Sample: c.sample, Delta: c.dpDelta, Seed: c.dpSeed}
}

// modelUsage documents the --model flag of the fl and split commands.
const modelUsage = `"mlp" (the course's dense network) or "cnn" (nn.MNISTCNN: two convolutions, pooling, a dense head)`

// flModel returns the model function named by --model.
func flModel(name string, features, hidden, classes int, seed uint64) (fedavg.ModelFunc, error) {
	switch name {
	case "mlp":
		return fedavg.DenseModel(features, hidden, classes, seed), nil
	case "cnn":
		if features != 28*28 {
			return nil, fmt.Errorf("%w: --model cnn takes 28x28 images, got %d features", errUsage, features)
		}
		return fedavg.CNNModel(classes, seed), nil
	}
	return nil, fmt.Errorf("%w: --model %q: want mlp or cnn", errUsage, name)
}

// parseDigits parses a comma-separated list of digits.
func parseDigits(s string) ([]int, error) {
	var ds []int
	for _, f := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%w: --digits %q: %v", errUsage, s, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// options returns the federated averaging options of the configuration.
func (c *flConfig) options() fedavg.Options {
	opts := fedavg.Options{
		LocalEpochs: c.epochs,
		BatchSize:   c.batch,
		Seed:        uint64(c.seed),
		Server:      &nn.SGD{LearningRate: c.serverLR},
	}
	if c.secagg {
		opts.SecAgg = &fedavg.SecAggOptions{Clip: c.secaggClip, MaxWeight: c.secaggMaxWeight, Threshold: c.secaggThreshold}
	}
	opts.DP = c.dp()
	return opts
}

// process builds the federated averaging process of the configuration.
func (c *flConfig) process(features, classes int) (*fedavg.Process, error) {
	model, err := flModel(c.model, features, c.hidden, classes, uint64(c.seed))
	if err != nil {
		return nil, err
	}
	p, err := fedavg.New(model, nn.SGD{LearningRate: c.lr}, c.options())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return p, nil
}

// printRound returns the callback of Process.Run that prints a line per
// round to w.
func (c *flConfig) printRound(w io.Writer) func(round int, m fedavg.Metrics) error {
	return func(round int, m fedavg.Metrics) error {
		fmt.Fprintf(w, "round %2d: loss %.4f  sparse_categorical_accuracy %.4f  (%d clients, %d examples)",
			round, m.Loss, m.Accuracy, len(m.Clients), m.Examples)
		if o := c.dp(); o != nil {
			eps, delta, _, err := o.Epsilon(c.clients, round)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "  sampled %d  epsilon %.4f (delta %.3g)", len(m.Sampled), eps, delta)
		}
		if len(m.Dropped) > 0 {
			fmt.Fprintf(w, "  dropped %v", m.Dropped)
		}
		if m.Clipped > 0 {
			fmt.Fprintf(w, "  clipped %d delta entries (raise --secagg-clip)", m.Clipped)
		}
		fmt.Fprintln(w)
		return nil
	}
}

func printResult(w io.Writer, p *fedavg.Process, state fedavg.State, test fedavg.Dataset, train time.Duration) error {
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "test accuracy %.4f on %d images; training %.2f s\n", acc, test.Len(), train.Seconds())
	return nil
}

func runFedAvg(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("fl fedavg", stderr)
	var c flConfig
	c.register(fs)
	sweep := fs.String("dp-sweep", "", "with --dp-clip: comma-separated noise multipliers; train once per value and print CSV of epsilon and test accuracy")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	train, test, p, err := c.setup()
	if err != nil {
		return err
	}
	clients, err := fedavg.DigitClients(train, c.clients, c.seed, c.digitList...)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *sweep != "" {
		return c.noiseSweep(stdout, *sweep, clients, test, len(c.digitList))
	}
	start := time.Now()
	state, err := p.Run(c.rounds, p.Local(clients), c.printRound(stdout))
	if err != nil {
		return err
	}
	return printResult(stdout, p, state, test, time.Since(start))
}

// setup parses --digits into c.digitList, loads MNIST and returns its
// training set, the test set of the digits and the federated averaging
// process of the configuration.
func (c *flConfig) setup() (train mnistio.Set, test fedavg.Dataset, p *fedavg.Process, err error) {
	if c.digitList, err = parseDigits(c.digits); err != nil {
		return train, test, nil, err
	}
	train, testSet, err := mnistio.LoadData()
	if err != nil {
		return train, test, nil, err
	}
	if test, err = fedavg.DigitData(testSet, c.digitList...); err != nil {
		return train, test, nil, err
	}
	p, err = c.process(test.Features, len(c.digitList))
	return train, test, p, err
}

// noiseSweep prints, as CSV, DP-FedAvg's test accuracy and epsilon for each
// noise multiplier of the comma-separated list: the data of the chart of
// accuracy against the noise multiplier.
func (c *flConfig) noiseSweep(w io.Writer, list string, clients []fedavg.Dataset, test fedavg.Dataset, classes int) error {
	if c.dp() == nil {
		return fmt.Errorf("%w: --dp-sweep needs --dp-clip", errUsage)
	}
	var noises []float64
	for _, f := range strings.Split(list, ",") {
		z, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("%w: --dp-sweep %q: %v", errUsage, list, err)
		}
		noises = append(noises, z)
	}
	model, err := flModel(c.model, test.Features, c.hidden, classes, uint64(c.seed))
	if err != nil {
		return err
	}
	pts, err := fedavg.NoiseSweep(model, nn.SGD{LearningRate: c.lr}, c.options(), clients, test, c.rounds, noises)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fmt.Fprintln(w, "noise,epsilon,delta,rounds,test_accuracy,test_loss")
	for _, pt := range pts {
		fmt.Fprintf(w, "%g,%.6g,%g,%d,%.4f,%.4f\n", pt.Noise, pt.Epsilon, pt.Delta, pt.Rounds, pt.Accuracy, pt.Loss)
	}
	return nil
}

func runFLServer(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("fl server", stderr)
	var c flConfig
	c.register(fs)
	listen := fs.String("listen", "tcp://127.0.0.1:5555", "ZeroMQ endpoint to listen on")
	timeout := fs.Duration("timeout", 10*time.Second, "drop a client silent for this long")
	join := fs.Duration("join-timeout", 2*time.Minute, "how long to wait for all clients to join")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	_, test, p, err := c.setup()
	if err != nil {
		return err
	}
	srv, err := p.Listen(*listen, fedavg.ServerOptions{
		Clients:  c.clients,
		DataSeed: c.seed,
		Timeout:  *timeout,
		Logger:   newLogger(stderr, "fl server"),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stderr, "fl server: listening on %s for %d clients\n", srv.Addr(), c.clients)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	jctx, cancel := context.WithTimeout(ctx, *join)
	err = srv.WaitClients(jctx)
	cancel()
	if err != nil {
		return err
	}
	start := time.Now()
	state, err := p.Run(c.rounds, srv.Round(ctx), c.printRound(stdout))
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := srv.Close(); err != nil {
		return err
	}
	return printResult(stdout, p, state, test, elapsed)
}

func runFLClient(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("fl client", stderr)
	connect := fs.String("connect", "tcp://127.0.0.1:5555", "ZeroMQ endpoint of the server")
	id := fs.Int("id", 0, "this client's index, 0 to clients-1")
	idRange := fs.String("ids", "", "run several clients in this process, e.g. 0-49 (instead of --id)")
	digits := fs.String("digits", "0,1", "comma-separated digits to classify (as the server's)")
	hidden := fs.Int("hidden", 64, "hidden units of the model (as the server's)")
	modelName := fs.String("model", "mlp", modelUsage+" (as the server's)")
	join := fs.Duration("join-timeout", time.Minute, "how long to wait for the server")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	ds, err := parseDigits(*digits)
	if err != nil {
		return err
	}
	ids := []int{*id}
	if *idRange != "" {
		if ids, err = parseIDRange(*idRange); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The model's initial values do not matter: every round starts from the
	// server's parameters.
	model, err := flModel(*modelName, 28*28, *hidden, len(ds), 0)
	if err != nil {
		return err
	}
	// The clients of one process share the training set and its partition.
	var (
		once  sync.Once
		parts []fedavg.Dataset
		perr  error
	)
	logger := newLogger(stderr, "fl client")
	errs := make(chan error, len(ids))
	for _, k := range ids {
		opts := fedavg.ClientOptions{
			ID: k,
			Data: func(clients int, seed int64) (fedavg.Dataset, error) {
				once.Do(func() {
					var train mnistio.Set
					if train, _, perr = mnistio.LoadData(); perr == nil {
						parts, perr = fedavg.DigitClients(train, clients, seed, ds...)
					}
				})
				if perr != nil {
					return fedavg.Dataset{}, perr
				}
				if k >= len(parts) {
					return fedavg.Dataset{}, fmt.Errorf("client id %d out of range [0, %d)", k, len(parts))
				}
				return parts[k], nil
			},
			JoinTimeout: *join,
		}
		if !*quiet {
			opts.Logger = logger
		}
		go func() { errs <- fedavg.RunClient(ctx, *connect, model, opts) }()
	}
	var all []error
	for range ids {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// parseIDRange parses a range of client ids such as 0-49.
func parseIDRange(s string) ([]int, error) {
	los, his, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(los))
	hi, err2 := strconv.Atoi(strings.TrimSpace(his))
	if !ok || err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return nil, fmt.Errorf("%w: --ids %q, want a range such as 0-49", errUsage, s)
	}
	ids := make([]int, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		ids = append(ids, k)
	}
	return ids, nil
}
