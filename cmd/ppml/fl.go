package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/ppml-go/ppml/pkg/fl/fedavg"
	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
)

func init() {
	register(command{name: "fl fedavg", summary: "federated averaging on MNIST digits, all clients in this process", run: runFedAvg})
	register(command{name: "fl server", summary: "federated averaging server for `ppml fl client` processes over ZeroMQ", run: runFLServer})
	register(command{name: "fl client", summary: "federated averaging client: trains its own data partition for a `ppml fl server`", run: runFLClient})
}

// flConfig holds the flags shared by `fl fedavg` and `fl server`: the
// training configuration of the course's original (TFF) section.
type flConfig struct {
	clients, rounds, epochs, batch, hidden int
	lr, serverLR                           float64
	secagg                                 bool
	seed                                   int64
	digits, model                          string
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
	fs.Int64Var(&c.seed, "seed", 1, "seed of the data partition, the initial model and the shuffling")
	fs.StringVar(&c.digits, "digits", "0,1", "comma-separated digits to classify")
	fs.StringVar(&c.model, "model", "mlp", modelUsage)
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

// process builds the federated averaging process of the configuration.
func (c *flConfig) process(features, classes int) (*fedavg.Process, error) {
	opts := fedavg.Options{
		LocalEpochs: c.epochs,
		BatchSize:   c.batch,
		Seed:        uint64(c.seed),
		Server:      &nn.SGD{LearningRate: c.serverLR},
	}
	if c.secagg {
		opts.SecAgg = &fedavg.SecAggOptions{}
	}
	model, err := flModel(c.model, features, c.hidden, classes, uint64(c.seed))
	if err != nil {
		return nil, err
	}
	p, err := fedavg.New(model, nn.SGD{LearningRate: c.lr}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return p, nil
}

func printRound(round int, m fedavg.Metrics) {
	fmt.Printf("round %2d: loss %.4f  sparse_categorical_accuracy %.4f  (%d clients, %d examples)",
		round, m.Loss, m.Accuracy, len(m.Clients), m.Examples)
	if len(m.Dropped) > 0 {
		fmt.Printf("  dropped %v", m.Dropped)
	}
	fmt.Println()
}

func printResult(p *fedavg.Process, state fedavg.State, test fedavg.Dataset, train time.Duration) error {
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f on %d images; training %.2f s\n", acc, test.Len(), train.Seconds())
	return nil
}

func runFedAvg(args []string) error {
	fs := flag.NewFlagSet("fl fedavg", flag.ContinueOnError)
	var c flConfig
	c.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	digits, err := parseDigits(c.digits)
	if err != nil {
		return err
	}
	train, testSet, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	clients, err := fedavg.DigitClients(train, c.clients, c.seed, digits...)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	test, err := fedavg.DigitData(testSet, digits...)
	if err != nil {
		return err
	}
	p, err := c.process(test.Features, len(digits))
	if err != nil {
		return err
	}
	start := time.Now()
	state, err := p.Run(c.rounds, p.Local(clients), printRound)
	if err != nil {
		return err
	}
	return printResult(p, state, test, time.Since(start))
}

func runFLServer(args []string) error {
	fs := flag.NewFlagSet("fl server", flag.ContinueOnError)
	var c flConfig
	c.register(fs)
	listen := fs.String("listen", "tcp://127.0.0.1:5555", "ZeroMQ endpoint to listen on")
	timeout := fs.Duration("timeout", 10*time.Second, "drop a client silent for this long")
	join := fs.Duration("join-timeout", 2*time.Minute, "how long to wait for all clients to join")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	digits, err := parseDigits(c.digits)
	if err != nil {
		return err
	}
	_, testSet, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	test, err := fedavg.DigitData(testSet, digits...)
	if err != nil {
		return err
	}
	p, err := c.process(test.Features, len(digits))
	if err != nil {
		return err
	}
	srv, err := p.Listen(*listen, fedavg.ServerOptions{
		Clients:  c.clients,
		DataSeed: c.seed,
		Timeout:  *timeout,
		Logf:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(os.Stderr, "fl server: listening on %s for %d clients\n", srv.Addr(), c.clients)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	jctx, cancel := context.WithTimeout(ctx, *join)
	err = srv.WaitClients(jctx)
	cancel()
	if err != nil {
		return err
	}
	start := time.Now()
	state, err := p.Run(c.rounds, srv.Round(ctx), printRound)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := srv.Close(); err != nil {
		return err
	}
	return printResult(p, state, test, elapsed)
}

func runFLClient(args []string) error {
	fs := flag.NewFlagSet("fl client", flag.ContinueOnError)
	connect := fs.String("connect", "tcp://127.0.0.1:5555", "ZeroMQ endpoint of the server")
	id := fs.Int("id", 0, "this client's index, 0 to clients-1")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := fedavg.ClientOptions{
		ID: *id,
		Data: func(clients int, seed int64) (fedavg.Dataset, error) {
			train, _, err := mnistio.LoadData()
			if err != nil {
				return fedavg.Dataset{}, err
			}
			return fedavg.ClientPart(train, *id, clients, seed, ds...)
		},
		JoinTimeout: *join,
	}
	if !*quiet {
		opts.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	// The model's initial values do not matter: every round starts from the
	// server's parameters.
	model, err := flModel(*modelName, 28*28, *hidden, len(ds), 0)
	if err != nil {
		return err
	}
	return fedavg.RunClient(ctx, *connect, model, opts)
}
