package fl

import (
	"fmt"
	"math"
)

// Perceptron is a logistic perceptron: it predicts P(y = 1 | x) = σ(W·x + B)
// for an input x with len(W) features.
type Perceptron struct {
	W []float64 // one weight per feature
	B float64   // bias (intercept)
}

// Grad is a gradient of the loss with respect to a Perceptron's parameters,
// or any update of the same shape (a difference of two models, a masked
// gradient): W has one entry per feature and B is the bias's entry.
type Grad struct {
	W []float64
	B float64
}

// NewPerceptron returns a perceptron for inputs of the given number of
// features, with all weights and the bias at zero: the loss of a logistic
// model is convex, so zero is as good a start as any and keeps runs
// reproducible.
func NewPerceptron(features int) Perceptron {
	return Perceptron{W: make([]float64, features)}
}

// Sigmoid returns the logistic function 1 / (1 + e^-z), which maps a score to
// a probability in (0, 1).
func Sigmoid(z float64) float64 {
	return 1 / (1 + math.Exp(-z))
}

// Forward returns the score (logit) W·x + B of each row x of the batch.
// Every row must have len(m.W) features.
func Forward(m Perceptron, x [][]float64) []float64 {
	scores := make([]float64, len(x))
	for i, row := range x {
		scores[i] = dot(m.W, row) + m.B
	}
	return scores
}

// dot returns Σ a[j]·b[j] over the entries of a; b must be at least as long.
// It keeps four partial sums, which lets the processor overlap the additions.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	for ; j < len(a); j++ {
		s0 += a[j] * b[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// Probabilities returns σ(W·x + B), the predicted probability of label 1, for
// each row x of the batch.
func Probabilities(m Perceptron, x [][]float64) []float64 {
	p := Forward(m, x)
	for i := range p {
		p[i] = Sigmoid(p[i])
	}
	return p
}

// Predict returns the predicted label of each row of the batch: 1 where the
// probability of label 1 is at least 0.5 (a score of at least 0), else 0.
func Predict(m Perceptron, x [][]float64) []float64 {
	return Threshold(Forward(m, x), 0)
}

// Threshold returns 1 for each value at least t, and 0 for the others: the
// labels that probabilities give with t = 0.5, or that scores give with t = 0.
func Threshold(v []float64, t float64) []float64 {
	labels := make([]float64, len(v))
	for i, x := range v {
		if x >= t {
			labels[i] = 1
		}
	}
	return labels
}

// Accuracy returns the fraction of predictions equal to their label; it is 0
// for an empty batch. pred and y must have the same length.
func Accuracy(pred, y []float64) float64 {
	if len(y) == 0 {
		return 0
	}
	right := 0
	for i := range y {
		if pred[i] == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(y))
}

// BatchGradient returns the gradient of the binary cross-entropy loss,
// averaged over the batch (x, y), with respect to the weights and the bias.
// With p = σ(W·x + B), the error of a row is p - y, and
//
//	dW = Σ (p_i - y_i) x_i / n,  dB = Σ (p_i - y_i) / n.
//
// x and y must have the same, non-zero, length.
func BatchGradient(m Perceptron, x [][]float64, y []float64) Grad {
	p := Probabilities(m, x)
	n := float64(len(x))
	g := Grad{W: make([]float64, len(m.W))}
	for i, row := range x {
		e := (p[i] - y[i]) / n // this row's error, with its share of the mean
		row = row[:len(g.W)]
		for j := range g.W {
			g.W[j] += e * row[j]
		}
		g.B += e
	}
	return g
}

// Step returns the model after one step of gradient descent: W - lr·dW and
// B - lr·dB. m is left unchanged.
func Step(m Perceptron, g Grad, lr float64) Perceptron {
	next := Perceptron{W: make([]float64, len(m.W)), B: m.B - lr*g.B}
	for j := range m.W {
		next.W[j] = m.W[j] - lr*g.W[j]
	}
	return next
}

// TrainStep does one step of mini-batch SGD on the batch (x, y): forward pass,
// sigmoid, error, gradient and update. It returns the updated model and the
// accuracy on the batch of the model before the update.
func TrainStep(m Perceptron, x [][]float64, y []float64, lr float64) (Perceptron, float64) {
	acc := Accuracy(Predict(m, x), y)
	return Step(m, BatchGradient(m, x, y), lr), acc
}

// Loss returns the binary cross-entropy of the model on (x, y), averaged over
// the rows: -Σ [y log p + (1-y) log(1-p)] / n. It is computed from the scores,
// so it stays finite when p rounds to 0 or 1. It is 0 for an empty batch.
func Loss(m Perceptron, x [][]float64, y []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var sum float64
	for i, z := range Forward(m, x) {
		// -log σ(z) = log(1 + e^-z) and -log(1 - σ(z)) = log(1 + e^z).
		if y[i] == 1 {
			sum += softplus(-z)
		} else {
			sum += softplus(z)
		}
	}
	return sum / float64(len(x))
}

// softplus returns log(1 + e^z) without overflow for large z.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// Evaluate returns the model's mean loss and accuracy on the data set; both
// are NaN for an empty data set.
func Evaluate(m Perceptron, d Dataset) (loss, acc float64) {
	if d.Len() == 0 {
		return math.NaN(), math.NaN()
	}
	return Loss(m, d.X, d.Y), Accuracy(Predict(m, d.X), d.Y)
}

// EpochMetrics are the measures Train reports after each epoch.
type EpochMetrics struct {
	Epoch    int     // from 0
	Loss     float64 // mean training loss over the epoch's batches, each measured before its update
	TrainAcc float64 // mean training accuracy over the epoch's batches, each measured before its update
	TestAcc  float64 // accuracy on the test set after the epoch; NaN without a test set
}

// TrainConfig sets how Train runs.
type TrainConfig struct {
	Epochs    int     // passes over the training data
	BatchSize int     // rows per mini-batch, the last one possibly shorter; 0 for the whole data as one batch
	LR        float64 // learning rate
	// OnEpoch, if not nil, is called after every epoch.
	OnEpoch func(EpochMetrics)
	// Steps are the functions the training is made of; the zero value is
	// this package's.
	Steps Steps
}

func (c TrainConfig) check() error {
	if c.Epochs < 0 {
		return fmt.Errorf("fl: %d epochs: must be at least 0", c.Epochs)
	}
	return checkSGD(c.BatchSize, c.LR)
}

// checkSGD checks the batch size and learning rate of a training
// configuration.
func checkSGD(batchSize int, lr float64) error {
	switch {
	case batchSize < 0:
		return fmt.Errorf("fl: batch size %d: must be at least 0 (0: the whole data)", batchSize)
	case !(lr > 0) || math.IsInf(lr, 1):
		return fmt.Errorf("fl: learning rate %v: must be positive and finite", lr)
	}
	return nil
}

// Train trains the model by mini-batch SGD on one party's data, in the data's
// order (shuffle it first), and returns the trained model; m is left
// unchanged. test may be empty. After each epoch it calls cfg.OnEpoch.
func Train(m Perceptron, train, test Dataset, cfg TrainConfig) (Perceptron, error) {
	if err := cfg.check(); err != nil {
		return m, err
	}
	if err := train.check(len(m.W)); err != nil {
		return m, fmt.Errorf("fl: training set: %w", err)
	}
	if train.Len() == 0 {
		return m, fmt.Errorf("fl: training set is empty")
	}
	if err := test.check(len(m.W)); err != nil {
		return m, fmt.Errorf("fl: test set: %w", err)
	}
	return trainEpochs(m, train, test, cfg), nil
}

// trainEpochs is Train on checked arguments.
func trainEpochs(m Perceptron, train, test Dataset, cfg TrainConfig) Perceptron {
	batchGradient, step := cfg.Steps.batchGradient(), cfg.Steps.step()
	for e := range cfg.Epochs {
		var loss, acc float64
		batches := train.Batches(cfg.BatchSize)
		for _, b := range batches {
			if cfg.OnEpoch != nil { // measured before the step, as TrainStep does
				loss += Loss(m, b.X, b.Y)
				acc += Accuracy(Predict(m, b.X), b.Y)
			}
			m = step(m, batchGradient(m, b.X, b.Y), cfg.LR)
		}
		if cfg.OnEpoch != nil {
			_, testAcc := Evaluate(m, test)
			n := float64(len(batches))
			cfg.OnEpoch(EpochMetrics{Epoch: e, Loss: loss / n, TrainAcc: acc / n, TestAcc: testAcc})
		}
	}
	return m
}
