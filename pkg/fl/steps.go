package fl

import "github.com/ppml-go/ppml/pkg/dp"

// Steps are the functions the training loops are made of. The course's
// students write their own versions of them, and the loops of this package
// run whichever they are given, so that a student's code, right or wrong, is
// what trains the model. A nil field stands for this package's function of
// the same name.
//
// The methods of Steps ([Steps.TrainLocal], [Steps.FedSGD],
// [Steps.MaskedRound]) are the reference solutions of the notebook's loop
// exercises, with the exercises' signatures. Like the functions they are
// made of, they expect arguments of matching sizes and panic otherwise;
// [Train], [FedSGD] and [MaskedFedSGD] are the same loops for library users,
// with their arguments checked and per-round metrics.
type Steps struct {
	// BatchGradient is the gradient of the loss averaged over a batch.
	BatchGradient func(m Perceptron, x [][]float64, y []float64) Grad
	// Step is one step of gradient descent; it must not modify m.
	Step func(m Perceptron, g Grad, lr float64) Perceptron
	// Gradient is what a party sends in federated SGD: the average of its
	// batch gradients.
	Gradient func(m Perceptron, x [][]float64, y []float64, bs int) Grad
	// MaskedGradient is a party's Gradient masked with the mask of the
	// pair it forms with partner, derived from the secret the two share.
	MaskedGradient func(m Perceptron, x [][]float64, y []float64, bs, id, partner int, secret uint64) Grad
	// ClipL2 scales a client's update v in place to L2 norm at most c and
	// returns its norm before clipping and whether it was scaled: the
	// clipping of DPFedSGD. Nil stands for package dp's [dp.ClipL2].
	ClipL2 func(v []float64, c float64) (norm float64, clipped bool, err error)
}

func (s Steps) batchGradient() func(Perceptron, [][]float64, []float64) Grad {
	if s.BatchGradient != nil {
		return s.BatchGradient
	}
	return BatchGradient
}

func (s Steps) step() func(Perceptron, Grad, float64) Perceptron {
	if s.Step != nil {
		return s.Step
	}
	return Step
}

func (s Steps) clipL2() func([]float64, float64) (float64, bool, error) {
	if s.ClipL2 != nil {
		return s.ClipL2
	}
	return dp.ClipL2[float64]
}

// gradient returns s.Gradient, or the reference Gradient made of s's
// BatchGradient.
func (s Steps) gradient() func(Perceptron, [][]float64, []float64, int) Grad {
	if s.Gradient != nil {
		return s.Gradient
	}
	return func(m Perceptron, x [][]float64, y []float64, bs int) Grad {
		return gradient(s.batchGradient(), m, x, y, bs)
	}
}

// maskedGradient returns s.MaskedGradient, or the reference MaskedGradient
// made of s's Gradient.
func (s Steps) maskedGradient() func(Perceptron, [][]float64, []float64, int, int, int, uint64) Grad {
	if s.MaskedGradient != nil {
		return s.MaskedGradient
	}
	return func(m Perceptron, x [][]float64, y []float64, bs, id, partner int, secret uint64) Grad {
		return mask(s.gradient()(m, x, y, bs), id, partner, secret)
	}
}

// TrainLocal trains m on one party's data d for the given number of epochs of
// mini-batch SGD (batches of bs examples, in order; the last one may be
// shorter) with s's BatchGradient and Step, and returns the trained model.
// After each epoch it calls onEpoch, if not nil, with the epoch (from 0) and
// the model after it. It is the reference of the course's exercise on one
// party's training loop.
func (s Steps) TrainLocal(m Perceptron, d Dataset, epochs, bs int, lr float64, onEpoch func(epoch int, m Perceptron)) Perceptron {
	for e := range epochs {
		m = trainEpochs(m, d, Dataset{}, TrainConfig{Epochs: 1, BatchSize: bs, LR: lr, Steps: s})
		if onEpoch != nil {
			onEpoch(e, m)
		}
	}
	return m
}

// FedSGD runs rounds of federated SGD from the server's model m: in each
// round every party computes s's Gradient on its own data at the server's
// model, and the server makes one Step with their Average. After each round
// it calls onRound, if not nil, with the round (from 0) and the server's
// model. It is the reference of the course's exercise on the server's round
// loop.
func (s Steps) FedSGD(m Perceptron, parties []Dataset, rounds, bs int, lr float64, onRound func(round int, m Perceptron)) Perceptron {
	all := make([]int, len(parties))
	for i := range all {
		all[i] = i
	}
	for r := range rounds {
		m = s.sgdRound(m, parties, all, bs, lr)
		if onRound != nil {
			onRound(r, m)
		}
	}
	return m
}

// sgdRound is one round of federated SGD among the given clients.
func (s Steps) sgdRound(m Perceptron, parties []Dataset, clients []int, bs int, lr float64) Perceptron {
	grads := make([]Grad, len(clients))
	for k, c := range clients {
		grads[k] = s.gradient()(m, parties[c].X, parties[c].Y, bs)
	}
	return s.step()(m, Average(grads), lr)
}

// MaskedRound is one round of masked federated SGD among an even number of
// parties: party i sends its MaskedGradient, masked with the secret
// secrets[i] it shares with its Partner (so secrets[i] ==
// secrets[Partner(i, n)]); the server, which receives only the masked
// vectors, makes one Step with their Average. It returns the server's new
// model and what it received, party by party. It is the reference of the
// course's exercise on the masked round.
func (s Steps) MaskedRound(m Perceptron, parties []Dataset, bs int, lr float64, secrets []uint64) (Perceptron, []Grad) {
	n := len(parties)
	received := make([]Grad, n)
	for id, p := range parties {
		received[id] = s.maskedGradient()(m, p.X, p.Y, bs, id, Partner(id, n), secrets[id])
	}
	return s.step()(m, Average(received), lr), received
}
