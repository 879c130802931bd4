package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/ppml-go/ppml/pkg/attack"
	"github.com/ppml-go/ppml/pkg/mnistio"
)

// parseList parses a comma-separated list of numbers of one flag; for an
// int list each must be an integer.
func parseList[T int | float64](flagName, s string) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err == nil && float64(T(x)) != x {
			err = fmt.Errorf("%v is not an integer", x)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --%s %q: %v", errUsage, flagName, s, err)
		}
		out = append(out, T(x))
	}
	return out, nil
}

// runAttackGradient attacks the gradients of --images MNIST images in every
// setting of the lists --batch, --secagg-clients and --dp-noise, printing a
// line per setting, and a last line over every image of every setting.
func runAttackGradient(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("attack gradient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelName := fs.String("model", "mlp", "model whose gradient is attacked: perceptron (zeros and ones) or mlp (784-hidden-10, all digits)")
	batches := fs.String("batch", "1", "client batch size; a comma-separated list runs each")
	images := fs.Int("images", 16, "images attacked per setting (a multiple of each batch size)")
	clients := fs.String("secagg-clients", "1", "clients whose updates secure aggregation sums (1: the server sees one client's gradient); a list runs each")
	noises := fs.String("dp-noise", "0", "DP-FedAvg noise multiplier z on the sum (0: none); a list runs each")
	clip := fs.Float64("dp-clip", 0, "DP-FedAvg clipping norm C (0: the largest update's norm, nothing clipped: the attacker's best case)")
	method := fs.String("method", "auto", "auto (analytic at batch 1, DLG above), analytic or dlg")
	iters := fs.Int("iterations", 1500, "DLG: Adam steps per run")
	restarts := fs.Int("restarts", 3, "DLG: runs from different dummy images, the best match kept")
	lr := fs.Float64("lr", 0.1, "DLG: Adam's first learning rate")
	peel := fs.Bool("peel", false, "peel first: recover exactly the examples a first-layer unit sees alone, subtract their gradients, repeat, and leave DLG the rest; attacks all clients*batch images of the sum")
	hidden := fs.Int("hidden", 64, "hidden units of the MLP (the course's federated model has 64)")
	dtypeName := fs.String("dtype", "float32", "float32 or float64")
	seed := fs.Uint64("seed", 1, "seed of the model, the images, the other clients and the noise")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	kind, err := attack.ParseKind(*modelName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	bs, err := parseList[int]("batch", *batches)
	if err != nil {
		return err
	}
	ks, err := parseList[int]("secagg-clients", *clients)
	if err != nil {
		return err
	}
	zs, err := parseList[float64]("dp-noise", *noises)
	if err != nil {
		return err
	}
	var m attack.Method
	switch *method {
	case "auto":
		m = attack.Auto
	case "analytic":
		m = attack.Analytic
	case "dlg":
		m = attack.DLGMethod
	default:
		return fmt.Errorf("%w: --method %q, want auto, analytic or dlg", errUsage, *method)
	}
	var dtype dtypes.DType
	switch *dtypeName {
	case "float32":
		dtype = dtypes.Float32
	case "float64":
		dtype = dtypes.Float64
	default:
		return fmt.Errorf("%w: --dtype %q, want float32 or float64", errUsage, *dtypeName)
	}
	for _, b := range bs {
		if b <= 0 || *images <= 0 || *images%b != 0 {
			return fmt.Errorf("%w: --images %d is not a positive multiple of --batch %d", errUsage, *images, b)
		}
		if m == attack.Analytic && b != 1 && !*peel {
			return fmt.Errorf("%w: --method analytic recovers one image: use --batch 1 (or --peel)", errUsage)
		}
	}
	for _, k := range ks {
		if k <= 0 {
			return fmt.Errorf("%w: --secagg-clients %d, want >= 1", errUsage, k)
		}
	}
	for _, z := range zs {
		if z < 0 || math.IsNaN(z) {
			return fmt.Errorf("%w: --dp-noise %v, want >= 0", errUsage, z)
		}
	}

	train, _, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	classes := 10
	if kind == attack.Perceptron {
		train, classes = train.Digits(train.Len(), 0, 1), 2
	}
	const others = 2000
	train = train.Shuffle(int64(*seed))
	if train.Len() < *images+others {
		return fmt.Errorf("%w: --images %d: only %d images besides the other clients' %d", errUsage, *images, train.Len()-others, others)
	}
	train = train.Slice(0, *images+others) // only what is attacked: 784 float64 per image
	x := train.Float64()
	y := make([]int, train.Len())
	for i, l := range train.Labels {
		y[i] = int(l)
	}
	net, err := attack.NewNet(kind, train.Features(), *hidden, classes, dtype, *seed)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var all attack.Report
	for _, b := range bs {
		for _, k := range ks {
			for _, z := range zs {
				s := attack.Setting{Batch: b, Clients: k, DPNoise: z, DPClip: *clip, Method: m, Batches: *images / b, Seed: *seed,
					DLG: attack.DLGOptions{Iterations: *iters, Restarts: *restarts, LR: *lr, Seed: *seed, Peel: *peel}}
				start := time.Now()
				rep, err := attack.AttackGradients(net, x[:*images], y[:*images], x[*images:*images+others], y[*images:*images+others], s)
				if err != nil {
					return err
				}
				how := "dlg"
				switch {
				case *peel:
					how = fmt.Sprintf("peeling then dlg, all %d images of the sum", b*k)
				case m == attack.Analytic || m == attack.Auto && b == 1:
					how = "analytic"
				}
				fmt.Fprintf(stdout, "%s batch %d, %d client(s), dp noise %g: median PSNR %.1f dB, median MSE %.4g, max abs pixel error %.2g, exact %d of %d, labels %d of %d (%s; mean-image baseline %.1f dB; %.1f s)\n",
					kind, b, k, z, rep.MedianPSNR(), rep.MedianMSE(), rep.MaxAbsError, rep.Exact, len(rep.MSE), rep.LabelsRight, rep.Labels, how, rep.BaselinePSNR, time.Since(start).Seconds())
				all.PSNR, all.MSE = append(all.PSNR, rep.PSNR...), append(all.MSE, rep.MSE...)
				all.LabelsRight, all.Labels = all.LabelsRight+rep.LabelsRight, all.Labels+rep.Labels
			}
		}
	}
	fmt.Fprintf(stdout, "reconstruction: median PSNR %.1f dB, median MSE %.4g, labels %d of %d\n", all.MedianPSNR(), all.MedianMSE(), all.LabelsRight, all.Labels)
	return nil
}

// runAttackSplitLabels trains the split network with the cut gradient,
// attacks the cut gradients every epoch, and prints the last epoch's leak
// AUCs with the test accuracy.
func runAttackSplitLabels(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("attack split-labels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defenceName := fs.String("defence", "none", "what the label party does to the cut gradients: none, noise (isotropic Gaussian) or maxnorm (Li et al.'s max-norm heuristic)")
	scale := fs.Float64("noise-scale", 1, "noise defence: per-coordinate standard deviation in units of the batch's largest cut-gradient norm over sqrt(640)")
	positive := fs.String("positive", "0", "comma-separated digits of the positive class (the rest are negative)")
	nTrain := fs.Int("train", 60000, "training images (MNIST's first)")
	epochs := fs.Int("epochs", 2, "epochs")
	batch := fs.Int("batch", 64, "batch size")
	lr := fs.Float64("lr", 0.05, "SGD learning rate")
	seed := fs.Uint64("seed", 1, "seed of the initial weights, the shuffling and the noise")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	d, err := attack.ParseDefence(*defenceName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	digits, err := parseDigits(*positive)
	if err != nil {
		return err
	}
	isPositive := map[uint8]bool{}
	for _, dg := range digits {
		if dg < 0 || dg > 9 {
			return fmt.Errorf("%w: --positive digit %d", errUsage, dg)
		}
		isPositive[uint8(dg)] = true
	}
	train, test, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	if *nTrain <= 0 || *nTrain > train.Len() {
		return fmt.Errorf("%w: --train %d, want 1 to %d", errUsage, *nTrain, train.Len())
	}
	flat := func(s mnistio.Set) ([]float64, []bool) {
		x := make([]float64, 0, s.Len()*s.Features())
		y := make([]bool, s.Len())
		for i, row := range s.Float64() {
			x = append(x, row...)
			y[i] = isPositive[s.Labels[i]]
		}
		return x, y
	}
	trainX, trainY := flat(train.Slice(0, *nTrain))
	testX, testY := flat(test)
	fmt.Fprintf(stdout, "split learning 784-128-640 | 640-1 on MNIST digits %s against the rest, defence %s\n", *positive, d)
	res, err := attack.SplitLabelLeak(trainX, trainY, testX, testY, attack.SplitConfig{
		Epochs: *epochs, Batch: *batch, LR: *lr, Defence: d, NoiseScale: *scale, Seed: *seed,
		OnEpoch: func(epoch int, loss, normAUC, cosAUC float64) {
			fmt.Fprintf(stdout, "epoch %d: loss %.4f, leak AUC norm %.3f, cosine %.3f\n", epoch, loss, normAUC, cosAUC)
		},
	})
	if err != nil {
		if errors.Is(err, attack.ErrConfig) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	fmt.Fprintf(stdout, "leak AUC: norm %.3f, cosine %.3f; test accuracy %.4f\n", res.NormAUC, res.CosineAUC, res.TestAccuracy)
	return nil
}
