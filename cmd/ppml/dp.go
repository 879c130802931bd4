package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/ppml-go/ppml/pkg/dp"
)

// runDPEpsilon is TF Privacy's compute_dp_sgd_privacy: the ε of steps of the
// sampled Gaussian mechanism, given either as --q and --steps or as --n,
// --batch and --epochs.
func runDPEpsilon(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("dp epsilon", stderr)
	q := fs.Float64("q", 0, "sampling rate of a step (batch/examples, or sampled/total clients)")
	z := fs.Float64("noise", 0, "noise multiplier z: noise standard deviation over the clipping norm")
	steps := fs.Int("steps", 0, "number of steps (rounds)")
	delta := fs.Float64("delta", 1e-5, "delta of (epsilon, delta)-DP")
	n := fs.Int("n", 0, "number of examples (with --batch and --epochs instead of --q and --steps)")
	batch := fs.Int("batch", 0, "batch size (with --n and --epochs)")
	epochs := fs.Float64("epochs", 0, "epochs (with --n and --batch): steps = ceil(epochs*n/batch)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["n"] || set["batch"] || set["epochs"]:
		if !set["n"] || !set["batch"] || !set["epochs"] || set["q"] || set["steps"] {
			return fmt.Errorf("%w: give --n, --batch and --epochs together, without --q and --steps", errUsage)
		}
		s, err := dp.StepsForEpochs(*n, *batch, *epochs)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		*q, *steps = float64(*batch)/float64(*n), s
	case !set["q"] || !set["steps"]:
		return fmt.Errorf("%w: give --q and --steps (or --n, --batch and --epochs)", errUsage)
	}
	if !set["noise"] {
		return fmt.Errorf("%w: give --noise", errUsage)
	}
	eps, order, err := dp.EpsilonForTraining(*q, *z, *steps, *delta)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fmt.Fprintf(stdout, "epsilon %.16g order %g\n", eps, order)
	return nil
}
