package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// mnistShaped is the split-learning course model, 784-128-640-10.
func mnistShaped(b *testing.B) (*Model, []float32, []int32) {
	m, err := Sequential(784, Dense(128, ReLU), Dense(640, ReLU), Dense(10, LogSoftmax))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Compile(NLL, SGD{LearningRate: 0.03}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 64*784)
	y := make([]int32, 64)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	return m, x, y
}

// BenchmarkTrainBatchMNIST is one fused SGD step of the whole model on a
// batch of 64.
func BenchmarkTrainBatchMNIST(b *testing.B) {
	m, x, y := mnistShaped(b)
	for b.Loop() {
		if _, err := m.TrainBatch(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitStepMNIST is one step of the same model split after the
// 640-unit layer: bottom Forward, top TrainTop, bottom BackwardStep.
func BenchmarkSplitStepMNIST(b *testing.B) {
	bottom, err := Sequential(784, Dense(128, ReLU), Dense(640, ReLU))
	if err != nil {
		b.Fatal(err)
	}
	top, err := Sequential(640, Dense(10, LogSoftmax))
	if err != nil {
		b.Fatal(err)
	}
	_ = top.Compile(NLL, SGD{LearningRate: 0.03})
	_ = bottom.Compile(NLL, SGD{LearningRate: 0.03})
	_, x, y := mnistShaped(b)
	for b.Loop() {
		xt := tensors.FromFlatDataAndDimensions(x, 64, 784)
		a, err := bottom.Forward(xt)
		if err != nil {
			b.Fatal(err)
		}
		g, _, err := top.TrainTop(a, y)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bottom.BackwardStep(g, false); err != nil {
			b.Fatal(err)
		}
	}
}
