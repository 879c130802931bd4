package fl

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ppml-go/ppml/pkg/dp"
)

// DPConfig sets how DPFedSGD runs.
type DPConfig struct {
	Rounds int // rounds of communication
	// BatchSize is the number of examples per mini-batch of a client's
	// Gradient; 0 makes each client's whole data one batch.
	BatchSize int
	LR        float64 // learning rate of the server's step
	// Sample is q, the probability with which each client takes part in a
	// round, in (0, 1].
	Sample float64
	// Clip is C, the L2 norm each client's update is clipped to.
	Clip float64
	// Noise is the noise multiplier z: the noise added to the sum of the
	// clipped updates has standard deviation z·C. Zero adds none, and gives
	// no privacy (ε is +Inf).
	Noise float64
	// Delta is the δ, in (0, 1), of the (ε, δ)-DP reported after each round;
	// it should be well below 1 over the number of clients.
	Delta float64
	// Rand draws the sampling of the clients and the noise. Nil draws them
	// from crypto/rand ([dp.NewCryptoRand]); a seeded source makes a run
	// reproducible, for tests and teaching, and lets anyone who knows the
	// seed subtract the noise.
	Rand *rand.Rand
	// Steps are the functions the rounds are made of: the clients'
	// Gradient and ClipL2 and the server's Step. The zero value is this
	// package's and package dp's.
	Steps Steps
	// OnRound, if not nil, is called after every round.
	OnRound func(DPRoundMetrics)
}

// DPRoundMetrics are what DPFedSGD reports after each round: the metrics of
// the other federated algorithms, the round's clipping and the privacy spent
// so far.
type DPRoundMetrics struct {
	RoundMetrics
	// Clipped is the number of the round's clients whose update the
	// clipping scaled down.
	Clipped int
	// Epsilon is the ε of (ε, Delta)-DP of the rounds so far, by the RDP
	// accountant of package dp; +Inf when Noise is 0.
	Epsilon float64
}

// DPFedSGD trains the model by DP-FedSGD, the federated SGD of DP-FedAvg with
// user-level differential privacy (McMahan, Ramage, Talwar and Zhang,
// "Learning Differentially Private Recurrent Language Models", ICLR 2018,
// Algorithm 1 with the FedSGD user update), and returns the server's final
// model; m is left unchanged. In each round:
//
//  1. every client takes part independently with probability cfg.Sample
//     (q; [dp.SampleClients], the Poisson sampling the accountant assumes);
//  2. each sampled client computes cfg.Steps's Gradient at the server's
//     model on its own data and clips it to L2 norm cfg.Clip (C) with
//     cfg.Steps's ClipL2, the paper's ClipFn;
//  3. the server adds Gaussian noise of standard deviation z·C, z being
//     cfg.Noise, to each coordinate of the sum of the clipped updates
//     ([dp.AddGaussianNoise]) and divides it by the expected number of
//     clients qN, not by the number that came, which would itself depend
//     on who took part ([dp.NoisyMean]; every client weighs the same);
//  4. the server makes one Step of learning rate cfg.LR with that mean.
//
// Each round is one step of the sampled Gaussian mechanism at the level of
// clients, which the [dp.Accountant] adds up into the ε reported to
// cfg.OnRound: the ε covers everything a client holds, provided the clipping
// clips (DPFedSGD checks every clipped update's norm and returns an error if
// one exceeds C). The training and test metrics of DPRoundMetrics are
// computed without noise for teaching; a deployment would not publish them.
// test may be empty.
func DPFedSGD(m Perceptron, parties []Dataset, test Dataset, cfg DPConfig) (Perceptron, error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	rng := cfg.Rand
	if rng == nil {
		rng = dp.NewCryptoRand()
	}
	var (
		acc     dp.Accountant
		clipped int
		eps     float64
	)
	sample := func() ([]int, error) {
		clients, err := dp.SampleClients(len(parties), cfg.Sample, rng)
		if err != nil {
			return nil, fmt.Errorf("fl: DP-FedSGD: %w", err)
		}
		return clients, nil
	}
	update := func(m Perceptron, clients []int, round int) (Perceptron, error) {
		next, n, err := cfg.Steps.dpRound(m, parties, clients, cfg, rng)
		if err != nil {
			return m, fmt.Errorf("fl: DP-FedSGD round %d: %w", round, err)
		}
		if err := acc.Step(cfg.Sample, cfg.Noise, 1); err != nil {
			return m, fmt.Errorf("fl: DP-FedSGD round %d: %w", round, err)
		}
		if eps, _, err = acc.Epsilon(cfg.Delta); err != nil {
			return m, fmt.Errorf("fl: DP-FedSGD round %d: %w", round, err)
		}
		clipped = n
		return next, nil
	}
	var onRound func(RoundMetrics)
	if cfg.OnRound != nil {
		onRound = func(r RoundMetrics) {
			cfg.OnRound(DPRoundMetrics{RoundMetrics: r, Clipped: clipped, Epsilon: eps})
		}
	}
	return loopRounds(m, parties, test, cfg.Rounds, sample, update, onRound)
}

// clipSlack is the relative excess over C that DPFedSGD tolerates in the norm
// of a clipped update: the rounding of the scaling.
const clipSlack = 1e-9

// dpRound is one round of DP-FedSGD among the sampled clients, drawing the
// noise from rng. It returns the server's next model and the number of
// updates the clipping scaled down.
func (s Steps) dpRound(m Perceptron, parties []Dataset, clients []int, cfg DPConfig, rng *rand.Rand) (Perceptron, int, error) {
	sum := make([]float64, len(m.W)+1)
	clipped := 0
	for _, c := range clients {
		u := s.gradient()(m, parties[c].X, parties[c].Y, cfg.BatchSize).Vector()
		if len(u) != len(sum) {
			return m, 0, fmt.Errorf("client %d's update has %d entries, the model %d", c, len(u), len(sum))
		}
		_, wasClipped, err := s.clipL2()(u, cfg.Clip)
		if err != nil {
			return m, 0, fmt.Errorf("client %d: clipping: %w", c, err)
		}
		if norm := dp.L2Norm(u); !(norm <= cfg.Clip*(1+clipSlack)) {
			return m, 0, fmt.Errorf("client %d's update has norm %v after clipping, above C = %v: the clipping does not clip, and the ε would be false", c, norm, cfg.Clip)
		}
		if wasClipped {
			clipped++
		}
		for j, v := range u {
			sum[j] += v
		}
	}
	if err := dp.AddGaussianNoise(sum, cfg.Noise, cfg.Clip, rng); err != nil {
		return m, 0, err
	}
	mean, err := dp.NoisyMean(sum, cfg.Sample, len(parties))
	if err != nil {
		return m, 0, err
	}
	return s.step()(m, GradFromVector(mean), cfg.LR), clipped, nil
}

func (c DPConfig) check() error {
	if c.Rounds < 0 {
		return fmt.Errorf("fl: %d rounds: must be at least 0", c.Rounds)
	}
	if err := checkSGD(c.BatchSize, c.LR); err != nil {
		return err
	}
	switch {
	case !(c.Sample > 0 && c.Sample <= 1):
		return fmt.Errorf("fl: DP sampling probability q = %v: must be in (0, 1]", c.Sample)
	case !(c.Clip > 0) || math.IsInf(c.Clip, 1):
		return fmt.Errorf("fl: DP clipping norm C = %v: must be positive and finite", c.Clip)
	case !(c.Noise >= 0) || math.IsInf(c.Noise, 1):
		return fmt.Errorf("fl: DP noise multiplier z = %v: must be at least 0 and finite", c.Noise)
	case !(c.Delta > 0 && c.Delta < 1):
		return fmt.Errorf("fl: DP delta %v: must be in (0, 1)", c.Delta)
	}
	return nil
}
