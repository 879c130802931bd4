package split

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

// TestTrainStepEqualsFit checks that TrainStep, batch by batch, trains the
// network as Fit does, bottom layers included.
func TestTrainStepEqualsFit(t *testing.T) {
	cfg := Config{InputDim: 5, Loss: nn.NLL, LearningRate: 0.1, Init: nn.KaimingUniform, Seed: 2,
		Layers: []nn.Layer{nn.Dense(8, nn.ReLU), nn.Dense(3, nn.LogSoftmax)}}
	const rows = 40
	x, y := randomRows(3, rows, 5, 3)
	newNet := func() (*Network, Worker, Worker) {
		alice, bob := NewVirtualWorker("alice"), NewVirtualWorker("bob")
		net, err := NewNetwork(cfg, Segment{alice, 1}, Segment{bob, 1})
		if err != nil {
			t.Fatal(err)
		}
		return net, alice, bob
	}
	fit, _, _ := newNet()
	if _, err := fit.Fit(x, y, FitOptions{Epochs: 1, BatchSize: 16}); err != nil {
		t.Fatal(err)
	}
	want, _ := fit.Weights()

	net, alice, bob := newNet()
	before, _ := net.Segments()[0].Weights()
	segs := net.Segments()
	for start := 0; start < rows; start += 16 {
		end := min(start+16, rows)
		xp, err := Send(tensors.FromFlatDataAndDimensions(x[start*5:end*5], end-start, 5), alice)
		if err != nil {
			t.Fatal(err)
		}
		yp, err := Send(tensors.FromFlatDataAndDimensions(y[start:end], end-start), bob)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := TrainStep(segs[0], segs[1], xp, yp); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := net.Weights()
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("weight %d: TrainStep %v, Fit %v", i, got[i], want[i])
		}
	}
	after, _ := segs[0].Weights()
	if slices.Equal(before, after) {
		t.Error("the bottom segment did not train")
	}
}
