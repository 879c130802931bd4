package fl

import (
	"math"
	"math/rand/v2"
	"testing"
)

// separable returns n examples of the given number of features, uniform in
// [0, 1), labelled by a fixed hyperplane: linearly separable data.
func separable(n, features int, seed uint64) Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := Dataset{X: make([][]float64, n), Y: make([]float64, n)}
	for i := range d.X {
		d.X[i] = make([]float64, features)
		var z float64
		for j := range d.X[i] {
			d.X[i][j] = rng.Float64()
			if j%2 == 0 {
				z += d.X[i][j]
			} else {
				z -= d.X[i][j]
			}
		}
		if z > 0 {
			d.Y[i] = 1
		}
	}
	return d
}

// randomModel returns a perceptron with weights and bias in [-1, 1).
func randomModel(features int, seed uint64) Perceptron {
	rng := rand.New(rand.NewPCG(seed, 2))
	m := Perceptron{W: make([]float64, features), B: 2*rng.Float64() - 1}
	for j := range m.W {
		m.W[j] = 2*rng.Float64() - 1
	}
	return m
}

// assertClose fails unless |got - want| <= tol for every entry of the two
// gradients.
func assertClose(t *testing.T, what string, got, want Grad, tol float64) {
	t.Helper()
	if len(got.W) != len(want.W) {
		t.Fatalf("%s: %d weights, want %d", what, len(got.W), len(want.W))
	}
	for j := range got.W {
		if math.Abs(got.W[j]-want.W[j]) > tol {
			t.Fatalf("%s: W[%d] = %v, want %v (tolerance %g)", what, j, got.W[j], want.W[j], tol)
		}
	}
	if math.Abs(got.B-want.B) > tol {
		t.Fatalf("%s: B = %v, want %v (tolerance %g)", what, got.B, want.B, tol)
	}
}
