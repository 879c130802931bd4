package fl

import (
	"math/rand/v2"
	"testing"
)

// mnistLike returns parties of perParty random 784-pixel examples, the shape
// of the notebook's data, so the benchmarks need no MNIST files.
func mnistLike(parties, perParty int) []Dataset {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]Dataset, parties)
	for p := range data {
		d := Dataset{X: make([][]float64, perParty), Y: make([]float64, perParty)}
		for i := range d.X {
			d.X[i] = make([]float64, 784)
			for j := range d.X[i] {
				d.X[i][j] = rng.Float64()
			}
			d.Y[i] = float64(rng.IntN(2))
		}
		data[p] = d
	}
	return data
}

// benchRound times one round of a federated algorithm, without metrics: it
// runs b.N rounds in one call, so the one-time check of the data is spread
// over the rounds as in a real run.
func benchRound(b *testing.B, run func(Perceptron, []Dataset, Dataset, FedConfig) (Perceptron, error), parties []Dataset, cfg FedConfig) {
	cfg.Rounds = b.N
	b.ResetTimer()
	if _, err := run(NewPerceptron(784), parties, Dataset{}, cfg); err != nil {
		b.Fatal(err)
	}
}

// The notebook's round: 10 parties of 32 examples, batch 16.
func BenchmarkFedSGDRound(b *testing.B) {
	benchRound(b, FedSGD, mnistLike(10, 32), FedConfig{BatchSize: 16, LR: 0.1})
}

func BenchmarkMaskedFedSGDRound(b *testing.B) {
	benchRound(b, MaskedFedSGD, mnistLike(10, 32), FedConfig{BatchSize: 16, LR: 0.1})
}

func BenchmarkFedAvgRound(b *testing.B) {
	benchRound(b, FedAvg, mnistLike(10, 32), FedConfig{BatchSize: 16, LR: 0.1, LocalEpochs: 1})
}

// McMahan et al.'s IID MNIST round at C = 0.1: 10 of 100 clients of 600
// examples, FedAvg with E = 1, B = 10.
func BenchmarkFedAvgRoundMcMahan(b *testing.B) {
	benchRound(b, FedAvg, mnistLike(100, 600), FedConfig{BatchSize: 10, LR: 0.1, LocalEpochs: 1, Fraction: 0.1})
}
