package fl

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// checkPartition fails unless the parts are disjoint sets of indices in
// [0, n), and, if all, cover every index.
func checkPartition(t *testing.T, parts [][]int, n int, all bool) {
	t.Helper()
	seen := make([]bool, n)
	count := 0
	for p, idx := range parts {
		for _, i := range idx {
			if i < 0 || i >= n {
				t.Fatalf("part %d has index %d outside [0, %d)", p, i, n)
			}
			if seen[i] {
				t.Fatalf("index %d is in two parts (the second is %d)", i, p)
			}
			seen[i] = true
			count++
		}
	}
	if all && count != n {
		t.Fatalf("parts hold %d of the %d examples", count, n)
	}
}

// classLabels returns perClass labels of each of the classes, class after
// class.
func classLabels(classes, perClass int) []uint8 {
	labels := make([]uint8, 0, classes*perClass)
	for c := range classes {
		for range perClass {
			labels = append(labels, uint8(c))
		}
	}
	return labels
}

func TestIID(t *testing.T) {
	tests := []struct {
		n, parties, perParty int
		wantSize             int
	}{
		{400, 10, 32, 32}, // the notebook: 320 of 400 dealt
		{400, 10, 0, 40},
		{7, 3, 0, 2},
		{5, 5, 1, 1},
	}
	for _, tt := range tests {
		parts, err := IID(tt.n, tt.parties, tt.perParty, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != tt.parties {
			t.Fatalf("IID(%d, %d, %d): %d parts", tt.n, tt.parties, tt.perParty, len(parts))
		}
		for p, idx := range parts {
			if len(idx) != tt.wantSize {
				t.Errorf("IID(%d, %d, %d): part %d has %d examples, want %d", tt.n, tt.parties, tt.perParty, p, len(idx), tt.wantSize)
			}
		}
		checkPartition(t, parts, tt.n, false)
		again, _ := IID(tt.n, tt.parties, tt.perParty, 1)
		other, _ := IID(tt.n, tt.parties, tt.perParty, 2)
		if !reflect.DeepEqual(parts, again) {
			t.Errorf("IID(%d, %d, %d) not deterministic", tt.n, tt.parties, tt.perParty)
		}
		if tt.n > 5 && reflect.DeepEqual(parts, other) {
			t.Errorf("IID(%d, %d, %d) the same for seeds 1 and 2", tt.n, tt.parties, tt.perParty)
		}
	}
	errs := []struct {
		n, parties, perParty int
		want                 string
	}{
		{400, 0, 32, "0 parties"},
		{400, 10, 41, "need 1 to 40"},
		{400, 10, -1, "need 1 to 40"},
		{5, 10, 0, "need 1 to 0"},
	}
	for _, tt := range errs {
		if _, err := IID(tt.n, tt.parties, tt.perParty, 1); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("IID(%d, %d, %d) error = %v, want one containing %q", tt.n, tt.parties, tt.perParty, err, tt.want)
		}
	}
}

func TestShards(t *testing.T) {
	tests := []struct {
		name                        string
		labels                      []uint8
		parties, shardsPerParty     int
		maxLabels, minSize, maxSize int
	}{
		// McMahan et al.'s setting scaled down 10x: 10 classes of 60, 100 shards of 6.
		{"mcmahan", shuffled(classLabels(10, 60), 5), 50, 2, 2, 12, 12},
		{"one shard each", classLabels(4, 25), 4, 1, 1, 25, 25},
		// 105 examples in 20 shards of 5 or 6, some across two classes: no example is lost.
		{"uneven", shuffled(classLabels(7, 15), 6), 10, 2, 4, 10, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := Shards(tt.labels, tt.parties, tt.shardsPerParty, 1)
			if err != nil {
				t.Fatal(err)
			}
			checkPartition(t, parts, len(tt.labels), true)
			for p, idx := range parts {
				if len(idx) < tt.minSize || len(idx) > tt.maxSize {
					t.Errorf("part %d has %d examples, want %d to %d", p, len(idx), tt.minSize, tt.maxSize)
				}
				if k := len(labelCounts(tt.labels, idx)); k > tt.maxLabels {
					t.Errorf("part %d has %d labels, want at most %d", p, k, tt.maxLabels)
				}
			}
			again, _ := Shards(tt.labels, tt.parties, tt.shardsPerParty, 1)
			if !reflect.DeepEqual(parts, again) {
				t.Errorf("not deterministic")
			}
		})
	}
	if _, err := Shards(classLabels(2, 3), 4, 2, 1); err == nil || !strings.Contains(err.Error(), "more shards than examples") {
		t.Errorf("Shards with 8 shards of 6 examples: error %v", err)
	}
	if _, err := Shards(classLabels(2, 3), 0, 2, 1); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("Shards with 0 parties: error %v", err)
	}
}

// shuffled returns a shuffled copy of the labels.
func shuffled(labels []uint8, seed uint64) []uint8 {
	s := append([]uint8(nil), labels...)
	rand.New(rand.NewPCG(seed, 0)).Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func labelCounts[L Label](labels []L, idx []int) map[L]int {
	counts := map[L]int{}
	for _, i := range idx {
		counts[labels[i]]++
	}
	return counts
}

// skew returns the mean, over the non-empty parts, of the total variation
// distance between a part's label distribution and the whole set's: 0 when
// every party has the global mix, near 1 when each has a single class.
func skew(labels []uint8, parts [][]int, classes int) float64 {
	global := map[uint8]int{}
	for _, l := range labels {
		global[l]++
	}
	var sum float64
	n := 0
	for _, idx := range parts {
		if len(idx) == 0 {
			continue
		}
		local := labelCounts(labels, idx)
		var tv float64
		for c := range classes {
			tv += math.Abs(float64(local[uint8(c)])/float64(len(idx)) - float64(global[uint8(c)])/float64(len(labels)))
		}
		sum += tv / 2
		n++
	}
	return sum / float64(n)
}

func TestDirichlet(t *testing.T) {
	labels := shuffled(classLabels(10, 500), 3)
	prev := math.Inf(1)
	for _, alpha := range []float64{0.01, 0.1, 1, 10, 1000} {
		parts, err := Dirichlet(labels, 20, alpha, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 20 {
			t.Fatalf("alpha %v: %d parts, want 20", alpha, len(parts))
		}
		checkPartition(t, parts, len(labels), true)
		again, _ := Dirichlet(labels, 20, alpha, 1)
		if !reflect.DeepEqual(parts, again) {
			t.Errorf("alpha %v: not deterministic", alpha)
		}
		s := skew(labels, parts, 10)
		t.Logf("alpha %v: skew %.3f", alpha, s)
		if s >= prev {
			t.Errorf("alpha %v: skew %.3f, not below the skew %.3f of the smaller alpha", alpha, s, prev)
		}
		prev = s
		switch {
		case alpha <= 0.1 && s < 0.6:
			t.Errorf("alpha %v: skew %.3f, want >= 0.6 (few classes per party)", alpha, s)
		case alpha >= 1000 && s > 0.1:
			t.Errorf("alpha %v: skew %.3f, want <= 0.1 (nearly the global mix)", alpha, s)
		}
	}
	if _, err := Dirichlet(labels, 0, 1, 1); err == nil || !strings.Contains(err.Error(), "0 parties") {
		t.Errorf("Dirichlet with 0 parties: error %v", err)
	}
	for _, alpha := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := Dirichlet(labels, 4, alpha, 1); err == nil || !strings.Contains(err.Error(), "concentration") {
			t.Errorf("Dirichlet with alpha %v: error %v", alpha, err)
		}
	}
	if _, err := Dirichlet([]float64{0, math.NaN()}, 2, 1, 1); err == nil || !strings.Contains(err.Error(), "label 1 is NaN") {
		t.Errorf("Dirichlet with a NaN label: error %v", err)
	}
}

// TestLogGammaMoments checks the Gamma(shape) sampler's mean and variance
// (both equal to shape) over many draws, for shapes below and above 1.
func TestLogGammaMoments(t *testing.T) {
	const draws = 200000
	for _, shape := range []float64{0.05, 0.3, 1, 2.5, 30} {
		rng := newRand(uint64(shape * 1000))
		var sum, sumSq float64
		for range draws {
			x := math.Exp(logGamma(rng, shape))
			sum += x
			sumSq += x * x
		}
		mean := sum / draws
		variance := sumSq/draws - mean*mean
		// Standard error of the mean: sqrt(shape/draws); allow 5 of them.
		if tol := 5 * math.Sqrt(shape/draws); math.Abs(mean-shape) > tol {
			t.Errorf("Gamma(%v): mean %v, want %v ± %v", shape, mean, shape, tol)
		}
		if math.Abs(variance-shape) > 0.05*shape+5*math.Sqrt(shape/draws) {
			t.Errorf("Gamma(%v): variance %v, want about %v", shape, variance, shape)
		}
	}
	// A tiny shape underflows exp(logGamma) but not logGamma itself.
	if l := logGamma(newRand(1), 1e-4); math.IsInf(l, 0) || math.IsNaN(l) {
		t.Errorf("logGamma(1e-4) = %v, want a finite logarithm", l)
	}
}

func TestDirichletSampleSumsToOne(t *testing.T) {
	rng := newRand(5)
	for _, alpha := range []float64{1e-6, 0.1, 1, 100} {
		q := dirichletSample(rng, alpha, 7)
		var sum float64
		for _, x := range q {
			if !(x >= 0) {
				t.Fatalf("alpha %v: component %v", alpha, x)
			}
			sum += x
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("alpha %v: components sum to %v", alpha, sum)
		}
	}
}
