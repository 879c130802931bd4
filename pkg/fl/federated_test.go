package fl

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestGradientAveragesOwnBatches checks that Gradient is the mean of the batch
// gradients of the data it is given, so two parties get different gradients.
func TestGradientAveragesOwnBatches(t *testing.T) {
	m := randomModel(4, 1)
	a, b := separable(32, 4, 2), separable(32, 4, 3)
	got := Gradient(m, a.X, a.Y, 16)
	want := Average([]Grad{
		BatchGradient(m, a.X[:16], a.Y[:16]),
		BatchGradient(m, a.X[16:], a.Y[16:]),
	})
	assertClose(t, "Gradient", got, want, 1e-15)
	if other := Gradient(m, b.X, b.Y, 16); other.B == got.B {
		t.Errorf("two parties with different data got the same bias gradient %v", got.B)
	}
	assertClose(t, "Gradient with bs 0", Gradient(m, a.X, a.Y, 0), BatchGradient(m, a.X, a.Y), 0)
}

func TestAverage(t *testing.T) {
	grads := []Grad{{W: []float64{1, 2}, B: 3}, {W: []float64{3, -2}, B: 5}}
	assertClose(t, "Average", Average(grads), Grad{W: []float64{2, 0}, B: 4}, 0)
	assertClose(t, "WeightedAverage", WeightedAverage(grads, []float64{3, 1}),
		Grad{W: []float64{1.5, 1}, B: 3.5}, 1e-15)
}

func TestVectorRoundTrip(t *testing.T) {
	g := Grad{W: []float64{1, 2, 3}, B: 4}
	v := g.Vector()
	if !slices.Equal(v, []float64{1, 2, 3, 4}) {
		t.Fatalf("Vector = %v", v)
	}
	v[0] = 100
	if g.W[0] != 1 {
		t.Errorf("Vector shares storage with the gradient")
	}
	assertClose(t, "GradFromVector", GradFromVector(g.Vector()), g, 0)
}

// TestMaskedAggregateEqualsUnmasked checks the point of the masks: each
// masked gradient is far from the party's gradient, yet the average of the
// masked gradients is the average of the plain ones up to float rounding.
func TestMaskedAggregateEqualsUnmasked(t *testing.T) {
	const parties, features = 10, 20
	m := randomModel(features, 1)
	data := make([]Dataset, parties)
	plain := make([]Grad, parties)
	for i := range data {
		data[i] = separable(32, features, uint64(10+i))
		plain[i] = Gradient(m, data[i].X, data[i].Y, 16)
	}
	secrets, err := PairSecrets(parties, 7)
	if err != nil {
		t.Fatal(err)
	}
	masked := make([]Grad, parties)
	for i := range data {
		masked[i] = MaskedGradient(m, data[i].X, data[i].Y, 16, i, Partner(i, parties), secrets[i])
		if d := maxDiff(masked[i], plain[i]); d < 1 {
			t.Errorf("party %d: masked gradient within %v of the plain one: the mask hides nothing", i, d)
		}
	}
	// The masks are up to MaskScale: they cancel up to a few ulps of it.
	assertClose(t, "average of masked gradients", Average(masked), Average(plain), 1e-12*MaskScale)

	if _, err := PairSecrets(9, 1); err == nil || !strings.Contains(err.Error(), "even") {
		t.Errorf("PairSecrets among 9 parties: error %v, want one saying the number must be even", err)
	}
}

// TestPairMasks checks where the secret lives: the two parties of a pair
// derive the same mask from their secret, other pairs get other masks, and
// the masks are spread over [-MaskScale, MaskScale).
func TestPairMasks(t *testing.T) {
	secrets, err := PairSecrets(10, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if p := Partner(i, 10); secrets[i] != secrets[p] || Partner(p, 10) != i {
			t.Errorf("party %d and its partner %d do not share a secret", i, p)
		}
	}
	if secrets[0] == secrets[1] {
		t.Error("two pairs share a secret")
	}
	a, b := PairMask(secrets[0], 785), PairMask(secrets[0], 785)
	if !slices.Equal(a, b) {
		t.Error("PairMask is not deterministic in the secret")
	}
	if slices.Equal(a, PairMask(secrets[1], 785)) {
		t.Error("two secrets give the same mask")
	}
	lo, hi := slices.Min(a), slices.Max(a)
	if lo < -MaskScale || hi >= MaskScale || hi-lo < MaskScale {
		t.Errorf("mask entries in [%g, %g], want spread over [-%g, %g)", lo, hi, MaskScale, MaskScale)
	}
}

func maxDiff(a, b Grad) float64 {
	d := math.Abs(a.B - b.B)
	for j := range a.W {
		d = max(d, math.Abs(a.W[j]-b.W[j]))
	}
	return d
}

func TestSampleClients(t *testing.T) {
	tests := []struct {
		n        int
		fraction float64
		want     int
	}{
		{10, 0, 10},
		{10, 1, 10},
		{100, 0.1, 10},
		{10, 0.01, 1},
		{10, 0.25, 3}, // round(2.5) = 3
		{7, 0.5, 4},
	}
	for _, tt := range tests {
		rng := rand.New(rand.NewPCG(1, 2))
		got := SampleClients(tt.n, tt.fraction, rng)
		if len(got) != tt.want {
			t.Errorf("SampleClients(%d, %v) gave %d clients, want %d", tt.n, tt.fraction, len(got), tt.want)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) || got[0] < 0 || got[len(got)-1] >= tt.n {
			t.Errorf("SampleClients(%d, %v) = %v: want distinct sorted ids in [0, %d)", tt.n, tt.fraction, got, tt.n)
		}
		again := SampleClients(tt.n, tt.fraction, rand.New(rand.NewPCG(1, 2)))
		if !slices.Equal(got, again) {
			t.Errorf("SampleClients(%d, %v) not deterministic: %v then %v", tt.n, tt.fraction, got, again)
		}
	}
}

// parties returns n parties of perParty examples of the same separable task,
// and a test set.
func parties(n, perParty, features int) ([]Dataset, Dataset) {
	data := make([]Dataset, n)
	for i := range data {
		data[i] = separable(perParty, features, uint64(100+i))
	}
	return data, separable(200, features, 99)
}

func TestFedSGD(t *testing.T) {
	data, test := parties(10, 32, 8)
	var rounds []RoundMetrics
	m, err := FedSGD(NewPerceptron(8), data, test, FedConfig{Rounds: 40, BatchSize: 16, LR: 1, Fraction: 0.5, Seed: 3,
		OnRound: func(r RoundMetrics) { rounds = append(rounds, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 40 {
		t.Fatalf("OnRound called %d times, want 40", len(rounds))
	}
	seen := map[int]bool{}
	for i, r := range rounds {
		if r.Round != i || len(r.Clients) != 5 {
			t.Fatalf("round %d: metrics %+v, want round %d with 5 clients", i, r, i)
		}
		for _, c := range r.Clients {
			seen[c] = true
		}
	}
	if len(seen) != 10 {
		t.Errorf("only clients %v took part in 40 rounds of 5 out of 10", seen)
	}
	last := rounds[len(rounds)-1]
	if !(last.TrainLoss < rounds[0].TrainLoss) || last.TestAcc < 0.9 {
		t.Errorf("after 40 rounds: train loss %v (first round %v), test accuracy %v", last.TrainLoss, rounds[0].TrainLoss, last.TestAcc)
	}
	if _, acc := Evaluate(m, test); acc != last.TestAcc {
		t.Errorf("returned model's test accuracy %v, last round's %v", acc, last.TestAcc)
	}
}

// TestFedSGDOneRound checks one round by hand: the server's step with the
// average of every party's Gradient.
func TestFedSGDOneRound(t *testing.T) {
	data, _ := parties(4, 20, 5)
	m0 := randomModel(5, 1)
	got, err := FedSGD(m0, data, Dataset{}, FedConfig{Rounds: 1, BatchSize: 8, LR: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	var grads []Grad
	for _, d := range data {
		grads = append(grads, Gradient(m0, d.X, d.Y, 8))
	}
	assertClose(t, "FedSGD round", Grad(got), Grad(Step(m0, Average(grads), 0.3)), 0)
}

func TestMaskedFedSGDMatchesFedSGD(t *testing.T) {
	data, test := parties(10, 32, 8)
	cfg := FedConfig{Rounds: 10, BatchSize: 16, LR: 0.5, Seed: 4}
	plain, err := FedSGD(NewPerceptron(8), data, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	masked, err := MaskedFedSGD(NewPerceptron(8), data, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "masked FedSGD model", Grad(masked), Grad(plain), 1e-10)

	if _, err := MaskedFedSGD(NewPerceptron(8), data[:9], test, cfg); err == nil || !strings.Contains(err.Error(), "even") {
		t.Errorf("masked FedSGD with 9 parties: error %v, want one about an even number", err)
	}
	cfg.Fraction = 0.5
	if _, err := MaskedFedSGD(NewPerceptron(8), data, test, cfg); err == nil || !strings.Contains(err.Error(), "fraction") {
		t.Errorf("masked FedSGD with fraction 0.5: error %v, want one about the fraction", err)
	}
}

// TestFedAvgWeightsByExamples checks one round by hand: two clients of 10 and
// 30 examples train locally, and the server takes 1/4 of the first model and
// 3/4 of the second.
func TestFedAvgWeightsByExamples(t *testing.T) {
	data := []Dataset{separable(10, 5, 1), separable(30, 5, 2)}
	m0 := randomModel(5, 3)
	got, err := FedAvg(m0, data, Dataset{}, FedConfig{Rounds: 1, BatchSize: 4, LR: 0.2, LocalEpochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	local := TrainConfig{Epochs: 3, BatchSize: 4, LR: 0.2}
	a, _ := Train(m0, data[0], Dataset{}, local)
	b, _ := Train(m0, data[1], Dataset{}, local)
	want := WeightedAverage([]Grad{Grad(a), Grad(b)}, []float64{10, 30})
	assertClose(t, "FedAvg model", Grad(got), want, 1e-14)
}

func TestFedAvgOneClientIsTrain(t *testing.T) {
	data, test := parties(1, 50, 6)
	fed, err := FedAvg(NewPerceptron(6), data, test, FedConfig{Rounds: 4, BatchSize: 10, LR: 0.5, LocalEpochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Train(NewPerceptron(6), data[0], test, TrainConfig{Epochs: 8, BatchSize: 10, LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "FedAvg of one client", Grad(fed), Grad(alone), 1e-12)
}

func TestFederatedErrors(t *testing.T) {
	data, test := parties(4, 8, 3)
	ok := FedConfig{Rounds: 1, BatchSize: 4, LR: 0.1, LocalEpochs: 1}
	with := func(f func(*FedConfig)) FedConfig { c := ok; f(&c); return c }
	tests := []struct {
		name    string
		parties []Dataset
		test    Dataset
		cfg     FedConfig
		want    string
	}{
		{"rounds", data, test, with(func(c *FedConfig) { c.Rounds = -1 }), "rounds"},
		{"batch", data, test, with(func(c *FedConfig) { c.BatchSize = -1 }), "batch size"},
		{"lr", data, test, with(func(c *FedConfig) { c.LR = math.Inf(1) }), "learning rate"},
		{"fraction", data, test, with(func(c *FedConfig) { c.Fraction = 1.5 }), "fraction"},
		{"no parties", nil, test, ok, "no parties"},
		{"empty party", []Dataset{data[0], {}}, test, ok, "party 1 has no examples"},
		{"bad party", []Dataset{data[0], {X: [][]float64{{1}}, Y: []float64{0}}}, test, ok, "party 1: row 0 has 1 features"},
		{"bad test", data, Dataset{X: [][]float64{{1, 2, 3}}, Y: []float64{2}}, ok, "test set: label 0 is 2"},
	}
	algorithms := map[string]func(Perceptron, []Dataset, Dataset, FedConfig) (Perceptron, error){
		"FedSGD": FedSGD, "MaskedFedSGD": MaskedFedSGD, "FedAvg": FedAvg,
	}
	for _, tt := range tests {
		for name, run := range algorithms {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				_, err := run(NewPerceptron(3), tt.parties, tt.test, tt.cfg)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v, want one containing %q", err, tt.want)
				}
			})
		}
	}
	if _, err := FedAvg(NewPerceptron(3), data, test, with(func(c *FedConfig) { c.LocalEpochs = 0 })); err == nil ||
		!strings.Contains(err.Error(), "local epoch") {
		t.Errorf("FedAvg with 0 local epochs: error %v", err)
	}
}
