package attack_test

import (
	"fmt"
	"log"

	"github.com/gomlx/compute/dtypes"
	"github.com/ppml-go/ppml/pkg/attack"
	"github.com/ppml-go/ppml/pkg/fl"
)

// A client sends the gradient of the course's perceptron on one image; the
// server divides the weight gradient by the bias gradient and gets the image
// back, and the sign of the bias gradient gives the label.
func ExampleInvertPerceptron() {
	m := fl.Perceptron{W: []float64{0.1, -0.2, 0.3, 0.05}, B: 0.1}
	image := [][]float64{{0.1, 0.5, 1, 0.25}}
	g := fl.BatchGradient(m, image, []float64{1})
	x, label, err := attack.InvertPerceptron(g)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("recovered %.2f, label %d\n", x, label)
	// Output: recovered [0.10 0.50 1.00 0.25], label 1
}

// The first Dense layer of an MLP gives its input back the same way, and the
// last layer's bias gradient has one negative entry: the label.
func ExampleInvertDense() {
	net, err := attack.NewNet(attack.MLP, 6, 8, 3, dtypes.Float64, 1)
	if err != nil {
		log.Fatal(err)
	}
	image := []float64{0.9, 0.2, 0.3, 0.6, 0.05, 1}
	g, err := net.Gradient(image, []int{2})
	if err != nil {
		log.Fatal(err)
	}
	x, _, err := attack.InvertDense(g[0], g[1])
	if err != nil {
		log.Fatal(err)
	}
	labels, err := attack.Labels(g[3], 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("recovered %.3f, label %d\n", x, labels[0])
	// Output: recovered [0.900 0.200 0.300 0.600 0.050 1.000], label 2
}

// The norm attack on four cut gradients: the two positives, on which the
// model errs more, have the larger gradients.
func ExampleAUC() {
	grads := []float64{
		0.9, 0.3, // positive
		0.1, 0.0, // negative
		-0.8, 0.6, // positive
		0.0, -0.2, // negative
	}
	positive := []bool{true, false, true, false}
	auc, err := attack.AUC(attack.NormScores(grads, 2), positive)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("leak AUC of the norm attack: %.2f\n", auc)
	// Output: leak AUC of the norm attack: 1.00
}
