package main

import (
	"errors"
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

// gradientAttack is the configuration of `ppml attack gradient`, its lists
// parsed.
type gradientAttack struct {
	kind    attack.Kind
	batches []int
	clients []int
	noises  []float64
	clip    float64
	method  attack.Method
	dlg     attack.DLGOptions
	peel    bool
	images  int
	hidden  int
	dtype   dtypes.DType
	seed    uint64
}

// runAttackGradient attacks the gradients of --images MNIST images in every
// setting of the lists --batch, --secagg-clients and --dp-noise, printing a
// line per setting, and a last line over every image of every setting.
func runAttackGradient(stdout, stderr io.Writer, args []string) error {
	a, err := parseGradientAttack(stderr, args)
	if err != nil {
		return err
	}
	net, x, y, err := a.data()
	if err != nil {
		return err
	}
	var all attack.Report
	for _, b := range a.batches {
		for _, k := range a.clients {
			for _, z := range a.noises {
				rep, err := a.run(stdout, net, x, y, b, k, z)
				if err != nil {
					return err
				}
				all.PSNR, all.MSE = append(all.PSNR, rep.PSNR...), append(all.MSE, rep.MSE...)
				all.LabelsRight, all.Labels = all.LabelsRight+rep.LabelsRight, all.Labels+rep.Labels
			}
		}
	}
	fmt.Fprintf(stdout, "reconstruction: median PSNR %.1f dB, median MSE %.4g, labels %d of %d\n", all.MedianPSNR(), all.MedianMSE(), all.LabelsRight, all.Labels)
	return nil
}

// parseGradientAttack parses and checks the flags of `ppml attack gradient`.
func parseGradientAttack(stderr io.Writer, args []string) (*gradientAttack, error) {
	fs := newFlagSet("attack gradient", stderr)
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
		return nil, err
	}
	a := &gradientAttack{clip: *clip, peel: *peel, images: *images, hidden: *hidden, seed: *seed,
		dlg: attack.DLGOptions{Iterations: *iters, Restarts: *restarts, LR: *lr, Seed: *seed, Peel: *peel}}
	var err error
	if a.kind, err = attack.ParseKind(*modelName); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if a.batches, err = parseList[int]("batch", *batches); err != nil {
		return nil, err
	}
	if a.clients, err = parseList[int]("secagg-clients", *clients); err != nil {
		return nil, err
	}
	if a.noises, err = parseList[float64]("dp-noise", *noises); err != nil {
		return nil, err
	}
	switch *method {
	case "auto":
		a.method = attack.Auto
	case "analytic":
		a.method = attack.Analytic
	case "dlg":
		a.method = attack.DLGMethod
	default:
		return nil, fmt.Errorf("%w: --method %q, want auto, analytic or dlg", errUsage, *method)
	}
	switch *dtypeName {
	case "float32":
		a.dtype = dtypes.Float32
	case "float64":
		a.dtype = dtypes.Float64
	default:
		return nil, fmt.Errorf("%w: --dtype %q, want float32 or float64", errUsage, *dtypeName)
	}
	for _, b := range a.batches {
		if b <= 0 || a.images <= 0 || a.images%b != 0 {
			return nil, fmt.Errorf("%w: --images %d is not a positive multiple of --batch %d", errUsage, a.images, b)
		}
		if a.method == attack.Analytic && b != 1 && !a.peel {
			return nil, fmt.Errorf("%w: --method analytic recovers one image: use --batch 1 (or --peel)", errUsage)
		}
	}
	for _, k := range a.clients {
		if k <= 0 {
			return nil, fmt.Errorf("%w: --secagg-clients %d, want >= 1", errUsage, k)
		}
	}
	for _, z := range a.noises {
		if z < 0 || math.IsNaN(z) {
			return nil, fmt.Errorf("%w: --dp-noise %v, want >= 0", errUsage, z)
		}
	}
	return a, nil
}

// others is how many images, besides the attacked ones, the other clients
// of a secure aggregation sum train on.
const others = 2000

// data loads the attacked images and the other clients' (x and y, the
// attacked first) and builds the attacked network.
func (a *gradientAttack) data() (net *attack.Net, x [][]float64, y []int, err error) {
	train, _, err := mnistio.LoadData()
	if err != nil {
		return nil, nil, nil, err
	}
	classes := 10
	if a.kind == attack.Perceptron {
		train, classes = train.Digits(train.Len(), 0, 1), 2
	}
	train = train.Shuffle(int64(a.seed))
	if train.Len() < a.images+others {
		return nil, nil, nil, fmt.Errorf("%w: --images %d: only %d images besides the other clients' %d", errUsage, a.images, train.Len()-others, others)
	}
	train = train.Slice(0, a.images+others) // only what is attacked: 784 float64 per image
	x = train.Float64()
	y = make([]int, train.Len())
	for i, l := range train.Labels {
		y[i] = int(l)
	}
	net, err = attack.NewNet(a.kind, train.Features(), a.hidden, classes, a.dtype, a.seed)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return net, x, y, nil
}

// run attacks the setting of batch size b, k clients and noise multiplier z
// and prints its line.
func (a *gradientAttack) run(w io.Writer, net *attack.Net, x [][]float64, y []int, b, k int, z float64) (attack.Report, error) {
	n := a.images
	s := attack.Setting{Batch: b, Clients: k, DPNoise: z, DPClip: a.clip, Method: a.method, Batches: n / b, Seed: a.seed, DLG: a.dlg}
	start := time.Now()
	rep, err := attack.AttackGradients(net, x[:n], y[:n], x[n:n+others], y[n:n+others], s)
	if err != nil {
		return rep, err
	}
	how := "dlg"
	switch {
	case a.peel:
		how = fmt.Sprintf("peeling then dlg, all %d images of the sum", b*k)
	case a.method == attack.Analytic || a.method == attack.Auto && b == 1:
		how = "analytic"
	}
	fmt.Fprintf(w, "%s batch %d, %d client(s), dp noise %g: median PSNR %.1f dB, median MSE %.4g, max abs pixel error %.2g, exact %d of %d, labels %d of %d (%s; mean-image baseline %.1f dB; %.1f s)\n",
		a.kind, b, k, z, rep.MedianPSNR(), rep.MedianMSE(), rep.MaxAbsError, rep.Exact, len(rep.MSE), rep.LabelsRight, rep.Labels, how, rep.BaselinePSNR, time.Since(start).Seconds())
	return rep, nil
}

// runAttackSplitLabels trains the split network with the cut gradient,
// attacks the cut gradients every epoch, and prints the last epoch's leak
// AUCs with the test accuracy.
func runAttackSplitLabels(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("attack split-labels", stderr)
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
