package nn_test

import (
	"fmt"
	"log"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/ppml-go/ppml/pkg/nn"
)

// A Keras-like classifier: Dense 8 tanh, Dense 2 softmax, sparse categorical
// cross-entropy and SGD, trained on XOR.
func ExampleSequential() {
	m, err := nn.Sequential(2, nn.Dense(8, nn.Tanh), nn.Dense(2, nn.Softmax))
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Compile(nn.SparseCategoricalCrossentropy, nn.SGD{LearningRate: 0.5}); err != nil {
		log.Fatal(err)
	}
	x := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	y := []int32{0, 1, 1, 0}
	if _, err := m.Fit(x, y, nn.FitOptions{Epochs: 500, BatchSize: 4, Seed: 1}); err != nil {
		log.Fatal(err)
	}
	res, err := m.Evaluate(x, y, 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	fmt.Printf("accuracy %.2f\n", res.Accuracy)
	// Output:
	// Sequential(2 -> Dense(8, tanh) -> Dense(2, softmax); 42 params)
	// accuracy 1.00
}

// Any GoMLX model function, written as GoMLX's examples write them (layers
// from ml/layers with their variables in the scope), trains the same way:
// its gradients come from graph.Gradient.
func ExampleNew() {
	fn := func(scope *model.Scope, x *graph.Node) *graph.Node {
		h := activation.Apply(activation.TypeTanh, layers.DenseWithBias(scope.In("hidden"), x, 8))
		return layers.DenseWithBias(scope.In("logits"), h, 2)
	}
	m, err := nn.New(fn, nn.Softmax, 2)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Compile(nn.SparseCategoricalCrossentropy, nn.SGD{LearningRate: 0.5}); err != nil {
		log.Fatal(err)
	}
	x := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	y := []int32{0, 1, 1, 0}
	if _, err := m.Fit(x, y, nn.FitOptions{Epochs: 500, BatchSize: 4, Seed: 1}); err != nil {
		log.Fatal(err)
	}
	res, err := m.Evaluate(x, y, 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	fmt.Printf("accuracy %.2f\n", res.Accuracy)
	// Output:
	// Model([2] -> 2, softmax head; 42 params)
	// accuracy 1.00
}

// Averaging two models' weights as flat vectors, as federated averaging does.
func ExampleModel_Weights() {
	a, _ := nn.Sequential(3, nn.Dense(2, nn.Softmax))
	b, _ := nn.Sequential(3, nn.Dense(2, nn.Softmax))
	_ = b.Initialize(nn.GlorotUniform, 1)
	wa, _ := a.Weights()
	wb, _ := b.Weights()
	avg := make([]float32, len(wa))
	for i := range avg {
		avg[i] = (wa[i] + wb[i]) / 2
	}
	if err := a.SetWeights(avg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(avg), a.NumParams())
	// Output: 8 8
}

// Split learning with two segments: the bottom's Forward output goes to the
// top, which computes the loss and returns the gradient at the cut; the
// bottom back-propagates it and steps.
func ExampleModel_BackwardStep() {
	bottom, _ := nn.Sequential(2, nn.Dense(8, nn.ReLU))
	top, _ := nn.Sequential(8, nn.Dense(2, nn.LogSoftmax))
	for _, s := range []*nn.Model{bottom, top} {
		_ = s.Compile(nn.NLL, nn.SGD{LearningRate: 0.1})
	}
	x, err := nn.Batch([]float32{0, 0, 1, 1}, 2, 2)
	if err != nil {
		log.Fatal(err)
	}
	labels := []int32{0, 1}
	cut, err := bottom.Forward(x)
	if err != nil {
		log.Fatal(err)
	}
	gradCut, metrics, err := top.TrainTop(cut, labels)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := bottom.BackwardStep(gradCut, false); err != nil {
		log.Fatal(err)
	}
	fmt.Println(metrics.Count, gradCut.Shape().Dimensions)
	// Output: 2 [2 8]
}
