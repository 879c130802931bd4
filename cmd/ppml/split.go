package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
	"github.com/ppml-go/ppml/pkg/split"
)

// splitModel is a model of `split train` and where it may be cut.
type splitModel struct {
	layers []nn.Layer
	// vanilla2, vanilla3 and uShaped are the layers of each segment: on two
	// workers, on three, and U-shaped (data owner, worker, data owner).
	vanilla2, vanilla3, uShaped []int
}

// splitModels are the models of --model. "mlp" is the original notebook's
// model: 784-128-640-10, ReLU, log-softmax head; "cnn" keeps its
// convolutions with the first worker (the data owner's side).
var splitModels = map[string]splitModel{
	"mlp": {
		layers:   []nn.Layer{nn.Dense(128, nn.ReLU), nn.Dense(640, nn.ReLU), nn.Dense(10, nn.LogSoftmax)},
		vanilla2: []int{2, 1}, vanilla3: []int{1, 1, 1}, uShaped: []int{1, 1, 1},
	},
	"cnn": {
		layers:   nn.MNISTCNN(10, nn.LogSoftmax),
		vanilla2: []int{8, 1}, vanilla3: []int{4, 4, 1}, uShaped: []int{4, 4, 1},
	},
}

func runSplitTrain(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("split train", stderr)
	epochs := fs.Int("epochs", 5, "training epochs")
	batch := fs.Int("batch", 64, "batch size")
	lr := fs.Float64("lr", 0.03, "SGD learning rate of every segment")
	workers := fs.String("workers", "local", `"local" for in-process workers alice and bob, or comma-separated addresses of `+"`ppml worker`"+` processes (tcp://host:port,...)`)
	uShaped := fs.Bool("u-shaped", false, "keep the first layer, the head and the labels with the data owner (this process); the middle layer goes to the (first) worker")
	seed := fs.Uint64("seed", 0, "seed of the initial weights and the shuffling")
	timeout := fs.Duration("timeout", split.DefaultTimeout, "how long to wait for a remote worker's reply")
	modelName := fs.String("model", "mlp", modelUsage)
	gcPercent := fs.Int("gc-percent", 25, "garbage collector target (GOGC) of this process")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	// This process holds the data set (MNIST: 188 MB of floats, which the
	// collector need not scan) and every step leaves about 1.5 MB of
	// tensors behind. With GOGC=100 the heap grows by the data set's size
	// between collections, all of it fresh pages whose first touch is a
	// page fault; a low target reuses memory instead: an epoch of the MLP
	// took 6% less CPU with GOGC=25 (bench/split).
	setGCPercent(*gcPercent)
	if *epochs <= 0 || *batch <= 0 || *lr <= 0 {
		return fmt.Errorf("%w: --epochs, --batch and --lr must be positive", errUsage)
	}
	sm, ok := splitModels[*modelName]
	if !ok {
		return fmt.Errorf("%w: --model %q: want mlp or cnn", errUsage, *modelName)
	}
	ws, err := splitWorkers(*workers, *timeout)
	if err != nil {
		return err
	}
	defer func() {
		for _, w := range ws {
			_ = w.Close()
		}
	}()
	segments, err := splitSegments(ws, *uShaped, sm)
	if err != nil {
		return err
	}
	train, test, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	cfg := split.Config{
		InputDim: train.Features(), Layers: sm.layers, Loss: nn.NLL,
		LearningRate: *lr, Init: nn.KaimingUniform, Seed: *seed,
	}
	net, err := split.NewNetwork(cfg, segments...)
	if err != nil {
		return err
	}
	var where []string
	for i, s := range segments {
		where = append(where, fmt.Sprintf("segment %d (%d layers) on %s", i, s.Layers, s.Worker.ID()))
	}
	fmt.Fprintf(stdout, "split learning: %s; labels with %s\n", strings.Join(where, ", "), segments[len(segments)-1].Worker.ID())
	x, y := train.Float32(0.5, 0.5), train.LabelsInt32()
	var total time.Duration
	_, err = net.Fit(x, y, split.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Shuffle: true, Seed: *seed,
		OnEpoch: func(r split.EpochResult) {
			total += r.Duration
			fmt.Fprintf(stdout, "epoch %d - training loss: %.4f - accuracy: %.4f - %.2f s", r.Epoch, r.Train.Loss, r.Train.Accuracy, r.Duration.Seconds())
			for i, c := range r.Cuts {
				fmt.Fprintf(stdout, " - cut %d: %d activations (%.1f MB) forward, %d gradients (%.1f MB) back",
					i, c.ForwardMessages, float64(c.ForwardBytes)/1e6, c.BackwardMessages, float64(c.BackwardBytes)/1e6)
			}
			fmt.Fprintln(stdout)
		},
	})
	if err != nil {
		return err
	}
	res, err := net.Evaluate(test.Float32(0.5, 0.5), test.LabelsInt32(), 1000)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test accuracy %.4f (loss %.4f) - %.3f s/epoch\n", res.Accuracy, res.Loss, total.Seconds()/float64(*epochs))
	return nil
}

// splitWorkers returns the in-process workers alice and bob for "local", or
// connects to the listed worker addresses.
func splitWorkers(spec string, timeout time.Duration) ([]split.Worker, error) {
	if spec == "local" {
		return []split.Worker{split.NewVirtualWorker("alice"), split.NewVirtualWorker("bob")}, nil
	}
	var ws []split.Worker
	for _, addr := range strings.Split(spec, ",") {
		addr = strings.TrimSpace(addr)
		if !strings.Contains(addr, "://") {
			return nil, fmt.Errorf("%w: --workers %q: want \"local\" or addresses like tcp://127.0.0.1:5555", errUsage, spec)
		}
		w, err := split.Dial(addr, split.DialOptions{Timeout: timeout})
		if err != nil {
			for _, w := range ws {
				_ = w.Close()
			}
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// splitSegments places the model's layers. Vanilla: on two workers (the
// head and the labels on the second) or three; U-shaped: the first and last
// segments with the data owner (this process), the middle one on the
// (first) worker.
func splitSegments(ws []split.Worker, uShaped bool, sm splitModel) ([]split.Segment, error) {
	place := func(layers []int, workers ...split.Worker) []split.Segment {
		segs := make([]split.Segment, len(layers))
		for i, n := range layers {
			segs[i] = split.Segment{Worker: workers[i], Layers: n}
		}
		return segs
	}
	if uShaped {
		owner := split.NewVirtualWorker("data-owner")
		return place(sm.uShaped, owner, ws[0], owner), nil
	}
	switch len(ws) {
	case 2:
		return place(sm.vanilla2, ws...), nil
	case 3:
		return place(sm.vanilla3, ws...), nil
	}
	return nil, fmt.Errorf("%w: vanilla split learning of this model takes 2 or 3 workers, got %d", errUsage, len(ws))
}
