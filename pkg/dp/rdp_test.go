package dp

import (
	"math"
	"testing"
)

// TestPublishedEpsilons checks the accountant against values published by TF
// Privacy, dp_accounting and Opacus for the same inputs.
func TestPublishedEpsilons(t *testing.T) {
	tests := []struct {
		name       string
		q, z       float64
		steps      int
		delta      float64
		eps, order float64
	}{
		// MNIST DP-SGD tutorial: batch 150 of 60000, 15 epochs.
		{"mnist", 150.0 / 60000, 1.3, 6000, 1e-5, 0.7242234026109595, 19},
		// batch 100 of 100000, 30 epochs.
		{"large", 100.0 / 100000, 1.0, 30000, 1e-7, 1.4154988495444842, 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps, order, err := EpsilonForTraining(tc.q, tc.z, tc.steps, tc.delta)
			if err != nil {
				t.Fatal(err)
			}
			if rel := math.Abs(eps-tc.eps) / tc.eps; rel > 1e-9 || order != tc.order {
				t.Errorf("epsilon %.16g at order %v, want %.16g at order %v (relative error %.2g)", eps, order, tc.eps, tc.order, rel)
			}
		})
	}
}

func TestStepsForEpochs(t *testing.T) {
	for _, tc := range []struct {
		n, b   int
		epochs float64
		want   int
	}{{60000, 150, 15, 6000}, {100000, 100, 30, 30000}, {10, 3, 1, 4}, {10, 3, 0.5, 2}} {
		got, err := StepsForEpochs(tc.n, tc.b, tc.epochs)
		if err != nil || got != tc.want {
			t.Errorf("StepsForEpochs(%d, %d, %v) = %d, %v; want %d", tc.n, tc.b, tc.epochs, got, err, tc.want)
		}
	}
	if _, err := StepsForEpochs(10, 0, 1); err == nil {
		t.Error("batch 0: no error")
	}
}

// TestRDPOfTenSteps is the RDP of q = 0.1, z = 2 at order 5 over 10 steps
// (Mironov, Talwar and Zhang 2019; TF Privacy's test): 0.07737.
func TestRDPOfTenSteps(t *testing.T) {
	a := Accountant{Orders: []float64{5}}
	if err := a.Step(0.1, 2, 10); err != nil {
		t.Fatal(err)
	}
	if got := a.RDP()[0]; math.Abs(got-0.07737) > 0.5e-5 {
		t.Errorf("RDP %.6f, want 0.07737", got)
	}
}

// TestEpsilonOfConstantRDP converts an RDP of 1.1 at every order 2..32 with
// δ = 1e-5 (dp_accounting's test): 1.32783806176 at order 32.
func TestEpsilonOfConstantRDP(t *testing.T) {
	var orders, r []float64
	for a := 2; a <= 32; a++ {
		orders, r = append(orders, float64(a)), append(r, 1.1)
	}
	eps, order, err := Epsilon(orders, r, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(eps-1.32783806176) / 1.32783806176; rel > 1e-9 || order != 32 {
		t.Errorf("epsilon %.12g at order %v, want 1.32783806176 at 32", eps, order)
	}
}

func TestSampledGaussianRDPSpecialCases(t *testing.T) {
	for _, tc := range []struct {
		q, z, a, want float64
	}{
		{0, 1, 2, 0},
		{1, 2, 3, 3.0 / 8},
		{0.5, 0, 2, math.Inf(1)},
		{0.1, 1, math.Inf(1), math.Inf(1)},
	} {
		got, err := SampledGaussianRDP(tc.q, tc.z, tc.a)
		if err != nil || got != tc.want {
			t.Errorf("SampledGaussianRDP(%v, %v, %v) = %v, %v; want %v", tc.q, tc.z, tc.a, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ q, z, a float64 }{{-0.1, 1, 2}, {1.1, 1, 2}, {0.1, -1, 2}, {0.1, 1, 1}, {math.NaN(), 1, 2}} {
		if _, err := SampledGaussianRDP(tc.q, tc.z, tc.a); err == nil {
			t.Errorf("SampledGaussianRDP(%v, %v, %v): no error", tc.q, tc.z, tc.a)
		}
	}
}

// TestFractionalOrdersInterpolate checks the series of the fractional orders
// against the binomial expansion of their integer neighbours: RDP grows with
// the order, and at q = 1 both give α/(2z²).
func TestFractionalOrdersInterpolate(t *testing.T) {
	for _, q := range []float64{0.001, 0.01, 0.1, 0.5} {
		for _, z := range []float64{0.7, 1, 2, 5} {
			prev := 0.0
			for _, a := range []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6} {
				r, err := SampledGaussianRDP(q, z, a)
				if err != nil {
					t.Fatalf("q %v z %v order %v: %v", q, z, a, err)
				}
				if r < prev*(1-1e-9) || r > a/(2*z*z) {
					t.Errorf("q %v z %v order %v: RDP %v after %v (Gaussian bound %v)", q, z, a, r, prev, a/(2*z*z))
				}
				prev = r
			}
		}
	}
}

func TestEpsilonErrors(t *testing.T) {
	for _, tc := range []struct {
		orders, r []float64
		delta     float64
	}{
		{[]float64{2}, []float64{1, 2}, 1e-5},
		{nil, nil, 1e-5},
		{[]float64{2}, []float64{1}, 0},
		{[]float64{2}, []float64{-1}, 1e-5},
		{[]float64{0.5}, []float64{1}, 1e-5},
	} {
		if _, _, err := Epsilon(tc.orders, tc.r, tc.delta); err == nil {
			t.Errorf("Epsilon(%v, %v, %v): no error", tc.orders, tc.r, tc.delta)
		}
	}
	// An RDP so small that δ² + expm1(-r) >= 0 gives ε = 0.
	if eps, _, err := Epsilon([]float64{2}, []float64{1e-12}, 1e-5); err != nil || eps != 0 {
		t.Errorf("tiny RDP: epsilon %v, %v; want 0", eps, err)
	}
}
