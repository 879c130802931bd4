package fl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Gradient returns what one party sends the server in federated SGD: the
// average, over the batches of bs examples of the party's own data (x, y), of
// the batch gradients at the server's model m. A bs of 0 or less makes the
// whole data one batch.
func Gradient(m Perceptron, x [][]float64, y []float64, bs int) Grad {
	return gradient(BatchGradient, m, x, y, bs)
}

// gradient is Gradient with the given BatchGradient.
func gradient(batchGradient func(Perceptron, [][]float64, []float64) Grad, m Perceptron, x [][]float64, y []float64, bs int) Grad {
	batches := Dataset{X: x, Y: y}.Batches(bs)
	grads := make([]Grad, len(batches))
	for i, b := range batches {
		grads[i] = batchGradient(m, b.X, b.Y)
	}
	return Average(grads)
}

// Average returns the entrywise mean of the gradients, of which there must be
// at least one, all of the same length; the server averages the parties'
// gradients with it.
func Average(grads []Grad) Grad {
	n := float64(len(grads))
	avg := Grad{W: make([]float64, len(grads[0].W))}
	for _, g := range grads {
		for j, w := range g.W {
			avg.W[j] += w / n
		}
		avg.B += g.B / n
	}
	return avg
}

// WeightedAverage returns Σ weights[k]·grads[k] / Σ weights[k], for at least
// one gradient and weights of positive sum: federated averaging weighs each
// client's update by its number of examples.
func WeightedAverage(grads []Grad, weights []float64) Grad {
	var total float64
	for _, w := range weights {
		total += w
	}
	avg := Grad{W: make([]float64, len(grads[0].W))}
	for k, g := range grads {
		f := weights[k] / total
		for j, w := range g.W {
			avg.W[j] += f * w
		}
		avg.B += f * g.B
	}
	return avg
}

// Vector returns the gradient as one vector, the weights followed by the bias:
// the form secure aggregation masks.
func (g Grad) Vector() []float64 {
	return append(slices.Clone(g.W), g.B)
}

// GradFromVector is the inverse of Grad.Vector: the last entry of v is the
// bias, the others the weights. v must not be empty.
func GradFromVector(v []float64) Grad {
	n := len(v) - 1
	return Grad{W: slices.Clone(v[:n]), B: v[n]}
}

// MaskScale bounds the teaching protocol's float masks: PairMask draws each
// entry uniformly in [-MaskScale, MaskScale).
const MaskScale = 100.0

// Partner returns the party that party id shares a mask with among n parties
// (n even), as in the original notebook: party p < n/2 pairs with p + n/2.
func Partner(id, n int) int { return (id + n/2) % n }

// PairMask returns the mask that the two parties of a pair derive from the
// secret they share: dim entries uniform in [-MaskScale, MaskScale), drawn
// from a generator seeded with the secret, so both parties get the same mask
// and nobody without the secret can compute it. It is the notebook's teaching
// protocol: a statistical generator and float masks, where real secure
// aggregation (pkg/fl/secagg) expands a key agreed by X25519 with AES-CTR
// into masks modulo 2^32.
func PairMask(secret uint64, dim int) []float64 {
	rng := rand.New(rand.NewPCG(secret, 0x5ec7e7))
	mask := make([]float64, dim)
	for j := range mask {
		mask[j] = (float64(2*rng.Float64()) - 1) * MaskScale // float64(): no fused multiply-add, the same mask everywhere
	}
	return mask
}

// PairSecrets simulates the key agreement of n parties (n even, at least 2)
// paired by Partner: it returns one secret per party, secrets[i] being the
// one party i shares with its partner, drawn from seed. In a real protocol
// each pair agrees on its secret out of the server's sight (Diffie-Hellman);
// here one process plays every party.
func PairSecrets(n int, seed uint64) ([]uint64, error) {
	if n < 2 || n%2 != 0 {
		return nil, fmt.Errorf("fl: pairing needs a positive even number of parties, got %d", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9a125))
	secrets := make([]uint64, n)
	for p := range n / 2 {
		secrets[p] = rng.Uint64()
		secrets[p+n/2] = secrets[p]
	}
	return secrets, nil
}

// MaskedGradient returns party id's Gradient masked with the notebook's
// teaching protocol: the party adds the PairMask of the secret it shares with
// its partner if it has the smaller id of the two, and subtracts it
// otherwise, so the pair's masks cancel in the server's sum. The mask's last
// entry goes to the bias.
func MaskedGradient(m Perceptron, x [][]float64, y []float64, bs, id, partner int, secret uint64) Grad {
	return mask(Gradient(m, x, y, bs), id, partner, secret)
}

// mask adds or subtracts the pair's mask to g, in place, and returns g.
func mask(g Grad, id, partner int, secret uint64) Grad {
	sign := 1.0
	if id > partner {
		sign = -1
	}
	r := PairMask(secret, len(g.W)+1)
	for j := range g.W {
		g.W[j] += sign * r[j]
	}
	g.B += sign * r[len(g.W)]
	return g
}

// SampleClients returns, in increasing order, the clients of one round: a
// random max(1, round(fraction·n)) of the n clients, or all of them when
// fraction is 0 or at least 1.
func SampleClients(n int, fraction float64, rng *rand.Rand) []int {
	k := n
	if fraction > 0 && fraction < 1 {
		k = max(1, int(math.Round(fraction*float64(n))))
	}
	clients := rng.Perm(n)[:k]
	slices.Sort(clients)
	return clients
}

// RoundMetrics are the measures the federated algorithms report after each
// round, with the model the server holds after the round's update.
type RoundMetrics struct {
	Round     int     // from 0
	Clients   []int   // the clients that took part in the round
	TrainLoss float64 // mean loss on every party's training data
	TrainAcc  float64 // accuracy on every party's training data
	TestLoss  float64 // mean loss on the test set; NaN without one
	TestAcc   float64 // accuracy on the test set; NaN without one
}

// FedConfig sets how FedSGD, MaskedFedSGD and FedAvg run.
type FedConfig struct {
	Rounds int // rounds of communication
	// BatchSize is the number of examples per mini-batch (B); 0 makes each
	// party's whole data one batch.
	BatchSize int
	LR        float64 // learning rate: of the server's step in FedSGD, of the clients' steps in FedAvg
	// Fraction is the fraction C of the clients that take part in each round,
	// sampled anew every round; 0 means every client (C = 1).
	Fraction float64
	// LocalEpochs is the number of epochs E each client trains per round in
	// FedAvg. FedSGD ignores it.
	LocalEpochs int
	// Seed makes the client sampling, and MaskedFedSGD's masks, reproducible.
	Seed uint64
	// Steps are the functions the rounds are made of; the zero value is this
	// package's.
	Steps Steps
	// OnRound, if not nil, is called after every round.
	OnRound func(RoundMetrics)
}

// FedSGD trains the model by federated SGD and returns the server's final
// model; m is left unchanged. In each round the sampled parties compute their
// Gradient at the server's model on their own data, the server takes the
// Average of those gradients, each party counting the same as in the original
// notebook, and makes one Step with it. test may be empty.
func FedSGD(m Perceptron, parties []Dataset, test Dataset, cfg FedConfig) (Perceptron, error) {
	return runRounds(m, parties, test, cfg, func(m Perceptron, clients []int, _ int) (Perceptron, error) {
		return cfg.Steps.sgdRound(m, parties, clients, cfg.BatchSize, cfg.LR), nil
	})
}

// MaskedFedSGD is FedSGD in which every party sends its MaskedGradient, so the
// server sees only masked vectors and their average, which is FedSGD's up to
// float rounding. Each pair's secret is drawn anew each round from cfg.Seed
// (PairSecrets). The teaching protocol cancels masks only when both parties
// of every pair report, so every party takes part in every round: the number
// of parties must be even and cfg.Fraction 0 or 1.
func MaskedFedSGD(m Perceptron, parties []Dataset, test Dataset, cfg FedConfig) (Perceptron, error) {
	if cfg.Fraction > 0 && cfg.Fraction < 1 {
		return m, fmt.Errorf("fl: masked FedSGD needs every party in every round (fraction 1), got fraction %v", cfg.Fraction)
	}
	n := len(parties)
	return runRounds(m, parties, test, cfg, func(m Perceptron, clients []int, round int) (Perceptron, error) {
		secrets, err := PairSecrets(n, roundSeed(cfg.Seed, round))
		if err != nil {
			return m, fmt.Errorf("fl: masked FedSGD: %w", err)
		}
		next, _ := cfg.Steps.MaskedRound(m, parties, cfg.BatchSize, cfg.LR, secrets)
		return next, nil
	})
}

// roundSeed derives the seed of a round's secrets from the run's seed.
func roundSeed(seed uint64, round int) uint64 {
	return seed ^ (uint64(round+1) * 0x9e3779b97f4a7c15)
}

// FedAvg trains the model by federated averaging (McMahan et al. 2017) and
// returns the server's final model; m is left unchanged. In each round every
// sampled client trains the server's model on its own data for
// cfg.LocalEpochs epochs of mini-batch SGD and sends the difference to the
// server's model; the server averages the differences weighted by the
// clients' numbers of examples and applies the average with a step of
// learning rate 1, which gives the weighted average of the clients' models.
// test may be empty.
func FedAvg(m Perceptron, parties []Dataset, test Dataset, cfg FedConfig) (Perceptron, error) {
	if cfg.LocalEpochs < 1 {
		return m, fmt.Errorf("fl: FedAvg needs at least 1 local epoch, got %d", cfg.LocalEpochs)
	}
	local := TrainConfig{Epochs: cfg.LocalEpochs, BatchSize: cfg.BatchSize, LR: cfg.LR, Steps: cfg.Steps}
	return runRounds(m, parties, test, cfg, func(m Perceptron, clients []int, _ int) (Perceptron, error) { // runRounds checks the data
		deltas := make([]Grad, len(clients))
		counts := make([]float64, len(clients))
		for k, c := range clients {
			trained := trainEpochs(m, parties[c], Dataset{}, local)
			deltas[k] = difference(m, trained)
			counts[k] = float64(parties[c].Len())
		}
		return Step(m, WeightedAverage(deltas, counts), 1), nil // the server's step, not a student's
	})
}

// difference returns a - b as a Grad: the step that takes b back to a.
func difference(a, b Perceptron) Grad {
	d := Grad{W: make([]float64, len(a.W)), B: a.B - b.B}
	for j := range d.W {
		d.W[j] = a.W[j] - b.W[j]
	}
	return d
}

// runRounds checks cfg, then runs its rounds with its sampling of the
// clients (SampleClients, seeded by cfg.Seed).
func runRounds(m Perceptron, parties []Dataset, test Dataset, cfg FedConfig,
	update func(m Perceptron, clients []int, round int) (Perceptron, error)) (Perceptron, error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc11e7))
	sample := func() ([]int, error) { return SampleClients(len(parties), cfg.Fraction, rng), nil }
	return loopRounds(m, parties, test, cfg.Rounds, sample, update, cfg.OnRound)
}

// loopRounds checks the data shared by the federated algorithms, then runs
// the given number of rounds: it samples the round's clients, lets update
// compute the server's next model, and reports the round's metrics to
// onRound, if not nil.
func loopRounds(m Perceptron, parties []Dataset, test Dataset, rounds int, sample func() ([]int, error),
	update func(m Perceptron, clients []int, round int) (Perceptron, error), onRound func(RoundMetrics)) (Perceptron, error) {
	if len(parties) == 0 {
		return m, fmt.Errorf("fl: no parties")
	}
	for i, p := range parties {
		if err := p.check(len(m.W)); err != nil {
			return m, fmt.Errorf("fl: party %d: %w", i, err)
		}
		if p.Len() == 0 {
			return m, fmt.Errorf("fl: party %d has no examples", i)
		}
	}
	if err := test.check(len(m.W)); err != nil {
		return m, fmt.Errorf("fl: test set: %w", err)
	}
	for r := range rounds {
		clients, err := sample()
		if err != nil {
			return m, err
		}
		next, err := update(m, clients, r)
		if err != nil {
			return m, err
		}
		m = next
		if onRound != nil {
			trainLoss, trainAcc := evaluateAll(m, parties)
			testLoss, testAcc := Evaluate(m, test)
			onRound(RoundMetrics{Round: r, Clients: clients,
				TrainLoss: trainLoss, TrainAcc: trainAcc, TestLoss: testLoss, TestAcc: testAcc})
		}
	}
	return m, nil
}

func (c FedConfig) check() error {
	if c.Rounds < 0 {
		return fmt.Errorf("fl: %d rounds: must be at least 0", c.Rounds)
	}
	if err := checkSGD(c.BatchSize, c.LR); err != nil {
		return err
	}
	if !(c.Fraction >= 0 && c.Fraction <= 1) {
		return fmt.Errorf("fl: client fraction %v: must be in [0, 1]", c.Fraction)
	}
	return nil
}

// evaluateAll returns the model's mean loss and accuracy over the examples of
// all the parties together.
func evaluateAll(m Perceptron, parties []Dataset) (loss, acc float64) {
	n := 0
	for _, p := range parties {
		l, a := Evaluate(m, p)
		loss += l * float64(p.Len())
		acc += a * float64(p.Len())
		n += p.Len()
	}
	return loss / float64(n), acc / float64(n)
}
