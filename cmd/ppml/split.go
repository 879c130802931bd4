package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
	"github.com/ppml-go/ppml/pkg/split"
)

func init() {
	register(command{name: "split train", summary: "split learning of the course's MNIST MLP on in-process or remote workers", run: runSplitTrain})
}

// splitLayers is the original notebook's model: 784-128-640-10, ReLU,
// log-softmax head.
var splitLayers = []nn.Layer{nn.Dense(128, nn.ReLU), nn.Dense(640, nn.ReLU), nn.Dense(10, nn.LogSoftmax)}

func runSplitTrain(args []string) error {
	fs := flag.NewFlagSet("split train", flag.ContinueOnError)
	epochs := fs.Int("epochs", 5, "training epochs")
	batch := fs.Int("batch", 64, "batch size")
	lr := fs.Float64("lr", 0.03, "SGD learning rate of every segment")
	workers := fs.String("workers", "local", `"local" for in-process workers alice and bob, or comma-separated addresses of `+"`ppml worker`"+` processes (tcp://host:port,...)`)
	uShaped := fs.Bool("u-shaped", false, "keep the first layer, the head and the labels with the data owner (this process); the middle layer goes to the (first) worker")
	seed := fs.Uint64("seed", 0, "seed of the initial weights and the shuffling")
	timeout := fs.Duration("timeout", split.DefaultTimeout, "how long to wait for a remote worker's reply")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *epochs <= 0 || *batch <= 0 || *lr <= 0 {
		return fmt.Errorf("%w: --epochs, --batch and --lr must be positive", errUsage)
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
	segments, err := splitSegments(ws, *uShaped)
	if err != nil {
		return err
	}
	train, test, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	cfg := split.Config{
		InputDim: train.Features(), Layers: splitLayers, Loss: nn.NLL,
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
	fmt.Printf("split learning: %s; labels with %s\n", strings.Join(where, ", "), segments[len(segments)-1].Worker.ID())
	x, y := train.Float32(0.5, 0.5), train.LabelsInt32()
	var total time.Duration
	_, err = net.Fit(x, y, split.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Shuffle: true, Seed: *seed,
		OnEpoch: func(r split.EpochResult) {
			total += r.Duration
			fmt.Printf("epoch %d - training loss: %.4f - accuracy: %.4f - %.2f s", r.Epoch, r.Train.Loss, r.Train.Accuracy, r.Duration.Seconds())
			for i, c := range r.Cuts {
				fmt.Printf(" - cut %d: %d activations (%.1f MB) forward, %d gradients (%.1f MB) back",
					i, c.ForwardMessages, float64(c.ForwardBytes)/1e6, c.BackwardMessages, float64(c.BackwardBytes)/1e6)
			}
			fmt.Println()
		},
	})
	if err != nil {
		return err
	}
	res, err := net.Evaluate(test.Float32(0.5, 0.5), test.LabelsInt32(), 1000)
	if err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f (loss %.4f) - %.3f s/epoch\n", res.Accuracy, res.Loss, total.Seconds()/float64(*epochs))
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

// splitSegments places the model's three layers. Vanilla: the original cut
// (784-128-640 on the first worker, the head and the labels on the second),
// or one layer per worker with three workers. U-shaped: the first layer and
// the head with the data owner, the middle layer on the first worker.
func splitSegments(ws []split.Worker, uShaped bool) ([]split.Segment, error) {
	if uShaped {
		owner := split.NewVirtualWorker("data-owner")
		return []split.Segment{{Worker: owner, Layers: 1}, {Worker: ws[0], Layers: 1}, {Worker: owner, Layers: 1}}, nil
	}
	switch len(ws) {
	case 2:
		return []split.Segment{{Worker: ws[0], Layers: 2}, {Worker: ws[1], Layers: 1}}, nil
	case 3:
		return []split.Segment{{Worker: ws[0], Layers: 1}, {Worker: ws[1], Layers: 1}, {Worker: ws[2], Layers: 1}}, nil
	}
	return nil, fmt.Errorf("%w: vanilla split learning of this model takes 2 or 3 workers, got %d", errUsage, len(ws))
}
