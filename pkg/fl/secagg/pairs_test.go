package secagg

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPairOf(t *testing.T) {
	for _, tc := range []struct{ i, n, want int }{
		{0, 10, 5}, {4, 10, 9}, {5, 10, 0}, {9, 10, 4}, {0, 2, 1}, {1, 2, 0},
	} {
		got, err := PairOf(tc.i, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("PairOf(%d, %d) = %d, %v; want %d", tc.i, tc.n, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ i, n int }{{0, 0}, {0, 3}, {-1, 4}, {4, 4}, {0, -2}} {
		if _, err := PairOf(tc.i, tc.n); err == nil {
			t.Errorf("PairOf(%d, %d) did not fail", tc.i, tc.n)
		}
	}
}

func TestNewPairMasks(t *testing.T) {
	a, err := NewPairMasks(6, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPairMasks(6, 4, 1)
	c, _ := NewPairMasks(6, 4, 2)
	if len(a) != 3 || len(a[0]) != 4 {
		t.Fatalf("got %d masks of length %d, want 3 of 4", len(a), len(a[0]))
	}
	for p := range a {
		if !slices.Equal(a[p], b[p]) {
			t.Errorf("mask %d differs for the same seed", p)
		}
		if slices.Equal(a[p], c[p]) {
			t.Errorf("mask %d equal for different seeds", p)
		}
		for _, x := range a[p] {
			if x < -FloatMaskScale || x >= FloatMaskScale {
				t.Errorf("mask entry %g outside [-%g, %g)", x, FloatMaskScale, FloatMaskScale)
			}
		}
	}
	for _, tc := range []struct{ n, dim int }{{5, 3}, {0, 3}, {4, -1}} {
		if _, err := NewPairMasks(tc.n, tc.dim, 0); err == nil {
			t.Errorf("NewPairMasks(%d, %d) did not fail", tc.n, tc.dim)
		}
	}
}

func randomVectors(n, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	vs := make([][]float64, n)
	for i := range vs {
		vs[i] = make([]float64, dim)
		for j := range vs[i] {
			vs[i][j] = rng.NormFloat64() * 1e-3
		}
	}
	return vs
}

// The float masks cancel only up to rounding: the error is small but, in
// general, not zero.
func TestMaskFloatCancelsUpToRounding(t *testing.T) {
	const n, dim = 10, 1000
	vs := randomVectors(n, dim, 7)
	masks, _ := NewPairMasks(n, dim, 7)
	masked := make([][]float64, n)
	for i := range vs {
		var err error
		if masked[i], err = MaskFloat(i, n, vs[i], masks); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(masked[i], vs[i]) {
			t.Fatalf("client %d: masked vector equals the input", i)
		}
	}
	plain, _ := SumFloat(vs)
	sum, _ := SumFloat(masked)
	maxErr, inexact := 0.0, 0
	for j := range sum {
		e := math.Abs(sum[j] - plain[j])
		maxErr = max(maxErr, e)
		if e != 0 {
			inexact++
		}
	}
	if maxErr > 1e-10 {
		t.Errorf("masked sum off by %g", maxErr)
	}
	if inexact == 0 {
		t.Errorf("float masks cancelled exactly on all %d entries; the drift demo needs rounding", dim)
	}
}

func TestMaskFixedCancelsExactly(t *testing.T) {
	const n, dim, bits = 10, 1000, 16
	vs := randomVectors(n, dim, 8)
	masks, _ := NewPairMasksFixed(n, dim, 8)
	fixed := make([][]uint32, n)
	masked := make([][]uint32, n)
	for i := range vs {
		var err error
		if fixed[i], err = ToFixed(vs[i], bits); err != nil {
			t.Fatal(err)
		}
		if masked[i], err = MaskFixed(i, n, fixed[i], masks); err != nil {
			t.Fatal(err)
		}
	}
	plain, _ := SumFixed(fixed)
	sum, _ := SumFixed(masked)
	if !slices.Equal(sum, plain) {
		t.Fatal("fixed-point masked sum differs from the plain fixed-point sum")
	}
}

func TestMaskErrors(t *testing.T) {
	masks, _ := NewPairMasks(4, 3, 0)
	fmasks, _ := NewPairMasksFixed(4, 3, 0)
	if _, err := MaskFloat(4, 4, make([]float64, 3), masks); err == nil {
		t.Error("MaskFloat accepted client 4 of 4")
	}
	if _, err := MaskFloat(0, 4, make([]float64, 2), masks); err == nil {
		t.Error("MaskFloat accepted a vector of the wrong length")
	}
	if _, err := MaskFloat(0, 6, make([]float64, 3), masks); err == nil {
		t.Error("MaskFloat accepted masks for another n")
	}
	if _, err := MaskFixed(0, 4, make([]uint32, 2), fmasks); err == nil {
		t.Error("MaskFixed accepted a vector of the wrong length")
	}
	if _, err := SumFloat([][]float64{{1, 2}, {1}}); err == nil {
		t.Error("SumFloat accepted vectors of different lengths")
	}
	if _, err := SumFixed([][]uint32{{1, 2}, {1}}); err == nil {
		t.Error("SumFixed accepted vectors of different lengths")
	}
	if _, err := ToFixed([]float64{math.NaN()}, 8); err == nil {
		t.Error("ToFixed accepted NaN")
	}
	if _, err := ToFixed([]float64{1 << 24}, 8); err == nil {
		t.Error("ToFixed accepted an overflowing value")
	}
	if _, err := DropoutResidue(4, []int{7}, masks); err == nil {
		t.Error("DropoutResidue accepted client 7 of 4")
	}
}

func TestDropoutResidue(t *testing.T) {
	const n, dim = 6, 5
	vs := randomVectors(n, dim, 3)
	masks, _ := NewPairMasks(n, dim, 3)
	for _, dropped := range [][]int{nil, {0}, {4}, {1, 4}, {0, 3}, {0, 1, 2}} {
		masked := make([][]float64, n)
		plainVs := make([][]float64, n)
		for i := range vs {
			if slices.Contains(dropped, i) {
				continue
			}
			masked[i], _ = MaskFloat(i, n, vs[i], masks)
			plainVs[i] = vs[i]
		}
		sum, _ := SumFloat(masked)
		plain, _ := SumFloat(plainVs)
		res, err := DropoutResidue(n, dropped, masks)
		if err != nil {
			t.Fatal(err)
		}
		for j := range sum {
			if d := sum[j] - plain[j] - res[j]; math.Abs(d) > 1e-9 {
				t.Errorf("dropped %v: sum - plain - residue = %g at %d", dropped, d, j)
			}
		}
	}
}

func TestFixedRoundTrip(t *testing.T) {
	v := []float64{0, 1, -1, 0.5, -0.25, 3.14159, -1000}
	f, err := ToFixed(v, 16)
	if err != nil {
		t.Fatal(err)
	}
	for j, x := range FromFixed(f, 16) {
		if math.Abs(x-v[j]) > 1.0/(1<<17) {
			t.Errorf("round trip of %g gave %g", v[j], x)
		}
	}
}
