// Command parity trains the course's split network with pkg/split exactly
// as `ppml split train --seed S` does (784-128-640 ReLU on alice, 640-10
// log-softmax on bob, in-process workers, NLL, SGD, Kaiming-uniform
// initialisation and shuffling seeded by S) and writes what PyTorch needs to
// replay the same training (bench/split/split_torch.py --replay DIR), and
// what to compare it with, into DIR:
//
//   - init.f32: the initial weights, flat in pkg/nn's layout (for each
//     Dense layer its kernel [in, units] row-major, then its biases);
//   - order.i32: for every epoch the order in which it takes the training
//     rows (FitOptions.OnOrder), 60000 indices per epoch;
//   - go-loss.f64: the loss of every training step (before its update);
//   - go-final.f32: the weights after training.
//
// All files are little-endian. It prints one line per epoch and the test
// accuracy, as `ppml split train` does. bench/split/parity.sh runs it.
//
// Usage: go run ./bench/split/parity -out DIR [-seed 0] [-epochs 5] [-batch 64] [-lr 0.03]
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
	"github.com/ppml-go/ppml/pkg/split"
)

func main() {
	out := flag.String("out", "", "directory for the weights, orders and losses (required)")
	seed := flag.Uint64("seed", 0, "seed of the initial weights and the shuffling")
	epochs := flag.Int("epochs", 5, "training epochs")
	batch := flag.Int("batch", 64, "batch size")
	lr := flag.Float64("lr", 0.03, "SGD learning rate of both segments")
	flag.Parse()
	if *out == "" || *epochs <= 0 || *batch <= 0 || *lr <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *seed, *epochs, *batch, *lr); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, seed uint64, epochs, batch int, lr float64) error {
	train, test, err := mnistio.LoadData()
	if err != nil {
		return err
	}
	cfg := split.Config{
		InputDim: train.Features(),
		Layers:   []nn.Layer{nn.Dense(128, nn.ReLU), nn.Dense(640, nn.ReLU), nn.Dense(10, nn.LogSoftmax)},
		Loss:     nn.NLL, LearningRate: lr, Init: nn.KaimingUniform, Seed: seed,
	}
	net, err := split.NewNetwork(cfg,
		split.Segment{Worker: split.NewVirtualWorker("alice"), Layers: 2},
		split.Segment{Worker: split.NewVirtualWorker("bob"), Layers: 1})
	if err != nil {
		return err
	}
	init, err := net.Weights()
	if err != nil {
		return err
	}
	if err := write(filepath.Join(dir, "init.f32"), init); err != nil {
		return err
	}
	orders, err := os.Create(filepath.Join(dir, "order.i32"))
	if err != nil {
		return err
	}
	defer orders.Close()
	var (
		losses   []float64
		prevSum  float64
		orderErr error
		total    time.Duration
	)
	x, y := train.Float32(0.5, 0.5), train.LabelsInt32()
	_, err = net.Fit(x, y, split.FitOptions{
		Epochs: epochs, BatchSize: batch, Shuffle: true, Seed: seed,
		OnOrder: func(_ int, rows []int) {
			idx := make([]int32, len(rows))
			for i, r := range rows {
				idx[i] = int32(r)
			}
			if err := binary.Write(orders, binary.LittleEndian, idx); err != nil && orderErr == nil {
				orderErr = err
			}
		},
		// Progress reports the epoch's running mean: recover each step's loss.
		Progress: func(p split.Progress) {
			if p.Batch == 1 {
				prevSum = 0
			}
			sum := p.Train.Loss * float64(p.Train.Count)
			rows := min(batch, len(y)-(p.Batch-1)*batch)
			losses = append(losses, (sum-prevSum)/float64(rows))
			prevSum = sum
		},
		OnEpoch: func(r split.EpochResult) {
			total += r.Duration
			fmt.Printf("epoch %d - training loss: %.4f - %.2f s\n", r.Epoch, r.Train.Loss, r.Duration.Seconds())
		},
	})
	if err != nil {
		return err
	}
	if orderErr != nil {
		return orderErr
	}
	if err := orders.Close(); err != nil {
		return err
	}
	if err := write(filepath.Join(dir, "go-loss.f64"), losses); err != nil {
		return err
	}
	final, err := net.Weights()
	if err != nil {
		return err
	}
	if err := write(filepath.Join(dir, "go-final.f32"), final); err != nil {
		return err
	}
	res, err := net.Evaluate(test.Float32(0.5, 0.5), test.LabelsInt32(), 1000)
	if err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f (loss %.4f) - %.3f s/epoch\n", res.Accuracy, res.Loss, total.Seconds()/float64(epochs))
	return nil
}

// write stores data little-endian in a new file.
func write[T float32 | float64](path string, data []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
