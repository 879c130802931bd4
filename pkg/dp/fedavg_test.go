package dp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClipL2(t *testing.T) {
	for _, tc := range []struct {
		v       []float64
		c       float64
		norm    float64
		clipped bool
		want    []float64
	}{
		{[]float64{3, 4}, 1, 5, true, []float64{0.6, 0.8}},
		{[]float64{3, 4}, 5, 5, false, []float64{3, 4}},
		{[]float64{3, 4}, 10, 5, false, []float64{3, 4}},
		{[]float64{0, 0}, 1, 0, false, []float64{0, 0}},
	} {
		v := append([]float64(nil), tc.v...)
		norm, clipped, err := ClipL2(v, tc.c)
		if err != nil || norm != tc.norm || clipped != tc.clipped {
			t.Errorf("ClipL2(%v, %v) = %v, %v, %v; want %v, %v", tc.v, tc.c, norm, clipped, err, tc.norm, tc.clipped)
		}
		for i := range v {
			if math.Abs(v[i]-tc.want[i]) > 1e-15 {
				t.Errorf("ClipL2(%v, %v) left %v, want %v", tc.v, tc.c, v, tc.want)
				break
			}
		}
	}
	v32 := []float32{30, 40}
	if _, clipped, _ := ClipL2(v32, 5); !clipped || math.Abs(L2Norm(v32)-5) > 1e-5 {
		t.Errorf("float32 clip: %v", v32)
	}
	for _, c := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, _, err := ClipL2([]float64{1}, c); err == nil {
			t.Errorf("ClipL2 with c = %v: no error", c)
		}
	}
	if _, _, err := ClipL2([]float64{math.NaN()}, 1); err == nil {
		t.Error("ClipL2 of NaN: no error")
	}
}

// TestAddGaussianNoise checks the noise's mean and standard deviation z·c over
// many coordinates, and that a seed reproduces it.
func TestAddGaussianNoise(t *testing.T) {
	const n = 200000
	z, c := 1.5, 2.0
	v := make([]float64, n)
	if err := AddGaussianNoise(v, z, c, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	var mean, sq float64
	for _, x := range v {
		mean += x
		sq += x * x
	}
	mean /= n
	std := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean) > 0.03 || math.Abs(std-z*c) > 0.03 {
		t.Errorf("noise mean %.4f std %.4f, want 0 and %v", mean, std, z*c)
	}
	w := make([]float64, n)
	AddGaussianNoise(w, z, c, rand.New(rand.NewPCG(1, 2)))
	if w[123] != v[123] {
		t.Error("the same seed gave different noise")
	}
	u := make([]float32, 4)
	if err := AddGaussianNoise(u, 1, 1, NewCryptoRand()); err != nil || u[0] == 0 && u[1] == 0 {
		t.Errorf("crypto noise: %v, %v", u, err)
	}
	if err := AddGaussianNoise(u, -1, 1, NewCryptoRand()); err == nil {
		t.Error("negative z: no error")
	}
	if err := AddGaussianNoise(u, 1, 1, nil); err == nil {
		t.Error("nil source: no error")
	}
}

func TestSampleClients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	total := 0
	const rounds, n, q = 2000, 100, 0.1
	for range rounds {
		ids, err := SampleClients(n, q, r)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] || ids[i] >= n {
				t.Fatalf("sample %v not increasing ids below %d", ids, n)
			}
		}
		total += len(ids)
	}
	// Mean qn = 10 per round; the mean of 2000 rounds has std 0.067.
	if m := float64(total) / rounds; math.Abs(m-q*n) > 0.4 {
		t.Errorf("mean clients per round %.3f, want %v", m, q*n)
	}
	if ids, _ := SampleClients(5, 1, r); len(ids) != 5 {
		t.Errorf("q = 1 sampled %v", ids)
	}
	if ids, _ := SampleClients(5, 0, r); len(ids) != 0 {
		t.Errorf("q = 0 sampled %v", ids)
	}
	if _, err := SampleClients(5, 1.5, r); err == nil {
		t.Error("q = 1.5: no error")
	}
}

func TestNoisyMean(t *testing.T) {
	m, err := NoisyMean([]float64{10, 20}, 0.1, 50)
	if err != nil || m[0] != 2 || m[1] != 4 {
		t.Errorf("NoisyMean = %v, %v; want [2 4]", m, err)
	}
	if _, err := NoisyMean([]float64{1}, 0, 50); err == nil {
		t.Error("q = 0: no error")
	}
}
