package main

import (
	"fmt"
	"io"
	"time"

	"github.com/ppml-go/ppml/pkg/fl"
)

// perceptronFlags are the flags of `ppml fl perceptron`; the defaults are the
// original notebook's.
type perceptronFlags struct {
	mode, partition                     string
	perDigit, parties, perParty, shards int
	rounds, batch, localEpochs          int
	lr, fraction, alpha                 float64
	seed                                int64
}

func runPerceptron(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("fl perceptron", stderr)
	var f perceptronFlags
	fs.StringVar(&f.mode, "mode", "fedsgd", "single (party 0 alone), fedsgd, masked (FedSGD with pairwise masks) or fedavg")
	fs.StringVar(&f.partition, "partition", "notebook",
		"how parties get data: notebook (consecutive blocks of the shuffled set), iid, shards or dirichlet")
	fs.IntVar(&f.perDigit, "per-digit", 200, "zeros and ones taken from each of MNIST's training and test sets")
	fs.IntVar(&f.parties, "parties", 10, "number of parties")
	fs.IntVar(&f.perParty, "per-party", 32, "examples per party (notebook and iid partitions)")
	fs.IntVar(&f.shards, "shards", 2, "shards per party (shards partition)")
	fs.Float64Var(&f.alpha, "alpha", 0.5, "Dirichlet concentration (dirichlet partition): small is skewed")
	fs.IntVar(&f.rounds, "rounds", 10, "rounds (epochs in single mode)")
	fs.IntVar(&f.batch, "batch", 16, "batch size (0: a party's whole data)")
	fs.Float64Var(&f.lr, "lr", 0.1, "learning rate")
	fs.Float64Var(&f.fraction, "fraction", 1, "fraction of parties sampled each round (fedsgd, fedavg)")
	fs.IntVar(&f.localEpochs, "local-epochs", 1, "epochs each client trains per round (fedavg)")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the shuffle, the partition, the sampling and the masks")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	run, ok := federatedModes[f.mode]
	if !ok && f.mode != "single" {
		return fmt.Errorf("%w: --mode %q: want single, fedsgd, masked or fedavg", errUsage, f.mode)
	}

	train, test, err := fl.LoadZerosAndOnes(f.perDigit, f.seed)
	if err != nil {
		return err
	}
	parties, err := f.split(stdout, train)
	if err != nil {
		return err
	}
	start := time.Now()
	m := fl.NewPerceptron(len(train.X[0]))
	if f.mode == "single" {
		m, err = fl.Train(m, parties[0], test, fl.TrainConfig{Epochs: f.rounds, BatchSize: f.batch, LR: f.lr,
			OnEpoch: func(e fl.EpochMetrics) {
				fmt.Fprintf(stdout, "epoch %2d: loss %.4f  train accuracy %.4f  test accuracy %.4f\n", e.Epoch, e.Loss, e.TrainAcc, e.TestAcc)
			}})
	} else {
		m, err = f.federated(stdout, run, m, parties, test)
	}
	if err != nil {
		return err
	}
	_, acc := fl.Evaluate(m, test)
	fmt.Fprintf(stdout, "test accuracy %.4f on %d images; training %.3f s\n", acc, test.Len(), time.Since(start).Seconds())
	return nil
}

// split deals the training set among the parties as --partition says.
func (f perceptronFlags) split(w io.Writer, train fl.Dataset) ([]fl.Dataset, error) {
	var parts [][]int
	var err error
	switch f.partition {
	case "notebook":
		data, err := fl.PartyData(train, f.parties, f.perParty)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		return data, nil
	case "iid":
		parts, err = fl.IID(train.Len(), f.parties, f.perParty, uint64(f.seed))
	case "shards":
		parts, err = fl.Shards(train.Y, f.parties, f.shards, uint64(f.seed))
	case "dirichlet":
		parts, err = fl.Dirichlet(train.Y, f.parties, f.alpha, uint64(f.seed))
	default:
		return nil, fmt.Errorf("%w: --partition %q: want notebook, iid, shards or dirichlet", errUsage, f.partition)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	data, err := fl.Split(train, parts)
	if err != nil {
		return nil, err
	}
	// A skewed Dirichlet partition can leave parties without data: they take no part.
	nonEmpty := data[:0]
	for _, d := range data {
		if d.Len() > 0 {
			nonEmpty = append(nonEmpty, d)
		}
	}
	if len(nonEmpty) < len(data) {
		fmt.Fprintf(w, "%d of %d parties got no examples and are left out\n", len(data)-len(nonEmpty), len(data))
	}
	return nonEmpty, nil
}

// federatedModes are the federated values of --mode.
var federatedModes = map[string]func(fl.Perceptron, []fl.Dataset, fl.Dataset, fl.FedConfig) (fl.Perceptron, error){
	"fedsgd": fl.FedSGD,
	"masked": fl.MaskedFedSGD,
	"fedavg": fl.FedAvg,
}

// federated trains with the federated algorithm run, printing each round.
func (f perceptronFlags) federated(w io.Writer, run func(fl.Perceptron, []fl.Dataset, fl.Dataset, fl.FedConfig) (fl.Perceptron, error),
	m fl.Perceptron, parties []fl.Dataset, test fl.Dataset) (fl.Perceptron, error) {
	cfg := fl.FedConfig{Rounds: f.rounds, BatchSize: f.batch, LR: f.lr, Fraction: f.fraction,
		LocalEpochs: f.localEpochs, Seed: uint64(f.seed),
		OnRound: func(r fl.RoundMetrics) {
			fmt.Fprintf(w, "round %2d: train loss %.4f  train accuracy %.4f  test accuracy %.4f  (%d parties)\n",
				r.Round, r.TrainLoss, r.TrainAcc, r.TestAcc, len(r.Clients))
		}}
	m, err := run(m, parties, test, cfg)
	if err != nil {
		return m, fmt.Errorf("%w: %v", errUsage, err)
	}
	return m, nil
}
