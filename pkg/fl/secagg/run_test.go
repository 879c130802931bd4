package secagg

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func randomInputs(n, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	vs := make([][]float64, n)
	for i := range vs {
		vs[i] = make([]float64, dim)
		for j := range vs[i] {
			vs[i][j] = rng.NormFloat64() * 2
		}
	}
	return vs
}

// wantSum is the plaintext sum mod 2^32 of the contributors' quantized inputs.
func wantSum(t *testing.T, cfg Config, inputs [][]float64, contributors []int) []uint32 {
	t.Helper()
	sum := make([]uint32, cfg.Dim)
	for _, i := range contributors {
		q, err := cfg.Quantize(i, inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		addVectors(sum, q)
	}
	return sum
}

func TestRunExact(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		dropouts []int
	}{
		{"secagg no dropouts", Config{N: 10, Dim: 100}, nil},
		{"secagg dropouts", Config{N: 10, Dim: 100}, []int{1, 1, 1}},
		{"secagg+ no dropouts", Config{N: 20, Dim: 50, Neighbours: 8, GraphSeed: [32]byte{1}}, nil},
		{"secagg+ dropouts", Config{N: 20, Dim: 50, Neighbours: 8, GraphSeed: [32]byte{1}}, []int{1, 0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inputs := randomInputs(tc.cfg.N, tc.cfg.Dim, 5)
			res, err := Run(tc.cfg, inputs, tc.dropouts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Quantized, wantSum(t, tc.cfg, inputs, res.Contributors)) {
				t.Fatal("secure sum differs from the plaintext sum of the quantized inputs")
			}
			t.Logf("contributors %v dropped %v", res.Contributors, res.Dropped)
		})
	}
}

func TestRunTooFew(t *testing.T) {
	cfg := Config{N: 9, Dim: 10}
	_, err := Run(cfg, randomInputs(9, 10, 1), []int{0, 0, 4})
	if !errors.Is(err, ErrTooFewSurvivors) {
		t.Fatalf("got %v, want ErrTooFewSurvivors", err)
	}
}
