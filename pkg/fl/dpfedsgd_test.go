package fl

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ppml-go/ppml/pkg/dp"
)

// dpConfig returns a DP-FedSGD configuration with a seeded source.
func dpConfig(rounds int, q, c, z float64, seed uint64) DPConfig {
	return DPConfig{Rounds: rounds, BatchSize: 8, LR: 0.5, Sample: q, Clip: c, Noise: z, Delta: 1e-5,
		Rand: rand.New(rand.NewPCG(seed, 7))}
}

// TestDPFedSGDWithoutNoiseIsFedSGD: with every client in every round, no
// noise and a clipping norm nothing reaches, DP-FedSGD is federated SGD.
func TestDPFedSGDWithoutNoiseIsFedSGD(t *testing.T) {
	data, test := parties(6, 16, 5)
	var rounds []DPRoundMetrics
	cfg := dpConfig(8, 1, 1e9, 0, 1)
	cfg.OnRound = func(r DPRoundMetrics) { rounds = append(rounds, r) }
	got, err := DPFedSGD(NewPerceptron(5), data, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := FedSGD(NewPerceptron(5), data, test, FedConfig{Rounds: 8, BatchSize: 8, LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "DP-FedSGD without noise or clipping", Grad(got), Grad(want), 1e-12)
	if len(rounds) != 8 {
		t.Fatalf("OnRound called %d times, want 8", len(rounds))
	}
	for i, r := range rounds {
		if r.Round != i || len(r.Clients) != 6 || r.Clipped != 0 || !math.IsInf(r.Epsilon, 1) {
			t.Errorf("round %d: metrics %+v, want round %d, 6 clients, none clipped, epsilon +Inf", i, r, i)
		}
	}
	if _, acc := Evaluate(got, test); acc != rounds[7].TestAcc {
		t.Errorf("returned model's test accuracy %v, last round's %v", acc, rounds[7].TestAcc)
	}
}

// TestDPFedSGDOneRoundByHand checks one round without noise: the server's
// step with the sum of the clipped gradients divided by q·N.
func TestDPFedSGDOneRoundByHand(t *testing.T) {
	data, _ := parties(4, 10, 3)
	m0 := randomModel(3, 1)
	const c = 0.05 // below every gradient's norm
	var r0 DPRoundMetrics
	cfg := dpConfig(1, 1, c, 0, 2)
	cfg.OnRound = func(r DPRoundMetrics) { r0 = r }
	got, err := DPFedSGD(m0, data, Dataset{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum := make([]float64, 4)
	for _, d := range data {
		u := Gradient(m0, d.X, d.Y, 8).Vector()
		if _, clipped, _ := dp.ClipL2(u, c); !clipped {
			t.Fatalf("gradient %v within C = %v: pick a smaller C", u, c)
		}
		for j := range u {
			sum[j] += u[j] / 4
		}
	}
	assertClose(t, "DP-FedSGD round", Grad(got), Grad(Step(m0, GradFromVector(sum), 0.5)), 1e-15)
	if r0.Clipped != 4 {
		t.Errorf("round 0 clipped %d updates, want 4", r0.Clipped)
	}
}

// TestDPFedSGDBoundsOneClient attacks the promise of clipping: replacing one
// client's data with anything, here huge features and flipped labels, moves
// the server's model by at most lr·2C/(qN) before the noise (which the same
// seed makes the same in both runs).
func TestDPFedSGDBoundsOneClient(t *testing.T) {
	data, _ := parties(10, 8, 4)
	evil := slices.Clone(data)
	evil[3] = Dataset{X: make([][]float64, 8), Y: make([]float64, 8)}
	for i, row := range data[3].X {
		evil[3].X[i] = []float64{1e6 * row[0], -1e6, 1e6, -1e6 * row[3]}
		evil[3].Y[i] = 1 - data[3].Y[i]
	}
	const q, c, lr = 1, 0.1, 0.5
	cfg := dpConfig(1, q, c, 1, 3)
	honest, err := DPFedSGD(NewPerceptron(4), data, Dataset{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rand = rand.New(rand.NewPCG(3, 7))
	attacked, err := DPFedSGD(NewPerceptron(4), evil, Dataset{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	moved := dp.L2Norm(difference(honest, attacked).Vector())
	if bound := lr * 2 * c / (q * 10); moved > bound*(1+1e-9) || moved == 0 {
		t.Errorf("one client's data moved the model by %v, want (0, %v]", moved, bound)
	}
}

// TestDPFedSGDNoise measures the noise: with a huge z, the server's step is
// the noise, of standard deviation z·C/(qN) on every coordinate.
func TestDPFedSGDNoise(t *testing.T) {
	data, _ := parties(10, 8, 784)
	const q, c, z, lr = 0.5, 0.5, 100, 1
	cfg := dpConfig(1, q, c, z, 4)
	cfg.LR = lr
	m, err := DPFedSGD(NewPerceptron(784), data, Dataset{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := Grad(m).Vector()
	var mean, sq float64
	for _, x := range v {
		mean += x / float64(len(v))
		sq += x * x / float64(len(v))
	}
	std, want := math.Sqrt(sq-mean*mean), lr*z*c/(q*10)
	if math.Abs(std/want-1) > 0.1 || math.Abs(mean) > 4*want/math.Sqrt(float64(len(v))) {
		t.Errorf("step of mean %v and standard deviation %v, want mean 0 and standard deviation %v", mean, std, want)
	}
}

func TestDPFedSGDEpsilonAndSampling(t *testing.T) {
	data, test := parties(20, 8, 3)
	const q, z = 0.3, 1.5
	var rounds []DPRoundMetrics
	cfg := dpConfig(12, q, 0.5, z, 5)
	cfg.OnRound = func(r DPRoundMetrics) { rounds = append(rounds, r) }
	first, err := DPFedSGD(NewPerceptron(3), data, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]bool{}
	for i, r := range rounds {
		want, _, err := dp.EpsilonForTraining(q, z, i+1, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.Epsilon-want) > 1e-9*want {
			t.Errorf("round %d: epsilon %v, want %v", i, r.Epsilon, want)
		}
		if i > 0 && !(r.Epsilon > rounds[i-1].Epsilon) {
			t.Errorf("round %d: epsilon %v did not grow from %v", i, r.Epsilon, rounds[i-1].Epsilon)
		}
		if !slices.IsSorted(r.Clients) || r.Clipped > len(r.Clients) {
			t.Errorf("round %d: clients %v, %d clipped", i, r.Clients, r.Clipped)
		}
		sizes[len(r.Clients)] = true
	}
	if len(sizes) < 2 {
		t.Errorf("every round sampled the same number of clients %v: want Poisson sampling", sizes)
	}
	cfg.Rand, cfg.OnRound = rand.New(rand.NewPCG(5, 7)), nil
	again, err := DPFedSGD(NewPerceptron(3), data, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "DP-FedSGD with the same seed", Grad(again), Grad(first), 0)
	cfg.Rand = nil // crypto/rand
	if _, err := DPFedSGD(NewPerceptron(3), data, test, cfg); err != nil {
		t.Errorf("DP-FedSGD drawing from crypto/rand: %v", err)
	}
}

// TestDPFedSGDUsesSteps: the clients' updates go through the given ClipL2
// and Gradient.
func TestDPFedSGDUsesSteps(t *testing.T) {
	data, _ := parties(10, 8, 3)
	calls, sent := 0, 0
	cfg := dpConfig(5, 0.5, 1, 1, 6)
	cfg.Steps = Steps{ClipL2: func(v []float64, c float64) (float64, bool, error) {
		calls++
		return dp.ClipL2(v, c)
	}}
	cfg.OnRound = func(r DPRoundMetrics) { sent += len(r.Clients) }
	if _, err := DPFedSGD(NewPerceptron(3), data, Dataset{}, cfg); err != nil {
		t.Fatal(err)
	}
	if calls != sent || sent == 0 {
		t.Errorf("ClipL2 called %d times for %d updates", calls, sent)
	}
	cfg.OnRound = nil
	cfg.Steps = Steps{Gradient: func(m Perceptron, x [][]float64, y []float64, bs int) Grad {
		return Grad{W: []float64{3, 0, 0}, B: 4} // norm 5
	}}
	cfg.Noise, cfg.Sample, cfg.Rounds = 0, 1, 1
	m, err := DPFedSGD(NewPerceptron(3), data, Dataset{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "model after a step with the clipped given gradient", Grad(m), Grad{W: []float64{-0.3, 0, 0}, B: -0.4}, 1e-15)
}

func TestDPFedSGDErrors(t *testing.T) {
	data, test := parties(4, 8, 3)
	ok := dpConfig(2, 0.5, 1, 1, 1)
	with := func(f func(*DPConfig)) DPConfig { c := ok; f(&c); return c }
	noClip := func(v []float64, c float64) (float64, bool, error) { return dp.L2Norm(v), false, nil }
	broken := errors.New("broken clipping")
	tests := []struct {
		name    string
		parties []Dataset
		test    Dataset
		cfg     DPConfig
		want    string
	}{
		{"rounds", data, test, with(func(c *DPConfig) { c.Rounds = -1 }), "rounds"},
		{"batch", data, test, with(func(c *DPConfig) { c.BatchSize = -1 }), "batch size"},
		{"lr", data, test, with(func(c *DPConfig) { c.LR = 0 }), "learning rate"},
		{"q 0", data, test, with(func(c *DPConfig) { c.Sample = 0 }), "sampling probability"},
		{"q above 1", data, test, with(func(c *DPConfig) { c.Sample = 1.5 }), "sampling probability"},
		{"q NaN", data, test, with(func(c *DPConfig) { c.Sample = math.NaN() }), "sampling probability"},
		{"clip 0", data, test, with(func(c *DPConfig) { c.Clip = 0 }), "clipping norm"},
		{"clip Inf", data, test, with(func(c *DPConfig) { c.Clip = math.Inf(1) }), "clipping norm"},
		{"noise", data, test, with(func(c *DPConfig) { c.Noise = -1 }), "noise multiplier"},
		{"noise Inf", data, test, with(func(c *DPConfig) { c.Noise = math.Inf(1) }), "noise multiplier"},
		{"delta 0", data, test, with(func(c *DPConfig) { c.Delta = 0 }), "delta"},
		{"delta 1", data, test, with(func(c *DPConfig) { c.Delta = 1 }), "delta"},
		{"no parties", nil, test, ok, "no parties"},
		{"empty party", []Dataset{data[0], {}}, test, ok, "party 1 has no examples"},
		{"bad party", []Dataset{data[0], {X: [][]float64{{1}}, Y: []float64{0}}}, test, ok, "party 1: row 0 has 1 features"},
		{"bad test", data, Dataset{X: [][]float64{{1, 2, 3}}, Y: []float64{2}}, ok, "test set: label 0 is 2"},
		{"clipping that does not clip", data, test, with(func(c *DPConfig) { c.Sample, c.Clip, c.Steps.ClipL2 = 1, 1e-3, noClip }), "does not clip"},
		{"clipping error", data, test, with(func(c *DPConfig) {
			c.Sample, c.Steps.ClipL2 = 1, func([]float64, float64) (float64, bool, error) { return 0, false, broken }
		}), "client 0: clipping: broken clipping"},
		{"short update", data, test, with(func(c *DPConfig) {
			c.Sample, c.Steps.Gradient = 1, func(Perceptron, [][]float64, []float64, int) Grad { return Grad{W: []float64{1}} }
		}), "has 2 entries, the model 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Rand = rand.New(rand.NewPCG(1, 7))
			_, err := DPFedSGD(NewPerceptron(3), tt.parties, tt.test, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
