package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

// Metrics are the loss and accuracy over a number of examples.
type Metrics struct {
	Loss     float64 // mean loss per example
	Accuracy float64 // fraction of examples whose arg-max output is the label
	Count    int     // number of examples
}

// String formats the metrics like Keras' progress line.
func (mt Metrics) String() string {
	return fmt.Sprintf("loss: %.4f - accuracy: %.4f (%d examples)", mt.Loss, mt.Accuracy, mt.Count)
}

// add accumulates other into mt, weighting by example counts.
func (mt *Metrics) add(other Metrics) {
	n := mt.Count + other.Count
	if n == 0 {
		return
	}
	mt.Loss = (mt.Loss*float64(mt.Count) + other.Loss*float64(other.Count)) / float64(n)
	mt.Accuracy = (mt.Accuracy*float64(mt.Count) + other.Accuracy*float64(other.Count)) / float64(n)
	mt.Count = n
}

// checkLabels verifies that labels index the model's output units.
func (m *Model) checkLabels(labels []int32) error {
	classes := int32(m.OutputDim())
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("nn: label %d at row %d is outside [0, %d)", l, i, classes)
		}
	}
	return nil
}

// batchOf checks a flat batch of inputs and labels and returns its number of
// rows.
func (m *Model) batchOf(x []float32, labels []int32) (int, error) {
	if len(labels) == 0 {
		return 0, errors.New("nn: empty batch")
	}
	if d := m.InputDim(); len(x) != len(labels)*d {
		return 0, fmt.Errorf("nn: %d input values for %d labels, want %d (%d features each)",
			len(x), len(labels), len(labels)*d, d)
	}
	return len(labels), m.checkLabels(labels)
}

// checkInput verifies that x is a float32 batch [rows, example...] and
// returns the number of rows.
func checkInput(x *tensors.Tensor, example []int) (int, error) {
	if x == nil || !x.Ok() {
		return 0, errors.New("nn: input tensor is nil or already freed")
	}
	s := x.Shape()
	if s.DType != dtypes.Float32 || s.Rank() != len(example)+1 || !slices.Equal(s.Dimensions[1:], example) || s.Dimensions[0] == 0 {
		return 0, fmt.Errorf("nn: input has shape %s, want (Float32)[rows>0 %v]", s, example)
	}
	return s.Dimensions[0], nil
}

// batchTensor wraps rows of flat examples as a batch of the model's input
// shape.
func (m *Model) batchTensor(x []float32, rows int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(x, append([]int{rows}, m.inShape...)...)
}

// TrainBatch runs one SGD step of the whole model on a batch: x holds
// len(labels) rows of InputDim features, row-major. It returns the batch's
// mean loss and accuracy before the update, as Keras and PyTorch report them.
func (m *Model) TrainBatch(x []float32, labels []int32) (Metrics, error) {
	n, err := m.batchOf(x, labels)
	if err != nil {
		return Metrics{}, err
	}
	xt := m.batchTensor(x, n)
	defer finalize(xt)
	mt, _, err := m.trainStep(execTrain, xt, labels)
	return mt, err
}

// trainStep runs one fused training step of the given kind.
func (m *Model) trainStep(kind execKind, x *tensors.Tensor, labels []int32) (Metrics, *tensors.Tensor, error) {
	yt := tensors.FromFlatDataAndDimensions(labels, len(labels))
	defer finalize(yt)
	m.dropSaved()
	out, err := m.run(kind, x, yt, m.lr)
	if err != nil {
		return Metrics{}, nil, err
	}
	mt := Metrics{Loss: scalar(out[0]), Count: len(labels)}
	mt.Accuracy = scalar(out[1]) / float64(len(labels))
	var dx *tensors.Tensor
	if len(out) > 2 {
		dx = out[2]
	}
	return mt, dx, nil
}

// TrainTop runs one SGD step of a top segment that carries the loss: x is
// the activation arriving at its input ([rows, InputDim]) and labels the
// rows' classes. It returns the gradient of the batch's mean loss with
// respect to x, to be sent back to the segment below, and the batch metrics
// before the update.
func (m *Model) TrainTop(x *tensors.Tensor, labels []int32) (*tensors.Tensor, Metrics, error) {
	n, err := checkInput(x, m.inShape)
	if err != nil {
		return nil, Metrics{}, err
	}
	if n != len(labels) {
		return nil, Metrics{}, fmt.Errorf("nn: %d input rows for %d labels", n, len(labels))
	}
	if err := m.checkLabels(labels); err != nil {
		return nil, Metrics{}, err
	}
	mt, dx, err := m.trainStep(execTrainTop, x, labels)
	return dx, mt, err
}

// Evaluate returns the mean loss and accuracy over a data set given as
// len(labels) rows of x, computed in batches of batchSize rows.
func (m *Model) Evaluate(x []float32, labels []int32, batchSize int) (Metrics, error) {
	if batchSize <= 0 {
		return Metrics{}, fmt.Errorf("nn: batch size must be positive, got %d", batchSize)
	}
	if _, err := m.batchOf(x, labels); err != nil {
		return Metrics{}, err
	}
	var lossSum, correct float64
	for start := 0; start < len(labels); start += batchSize {
		end := min(start+batchSize, len(labels))
		d := m.InputDim()
		xt := m.batchTensor(x[start*d:end*d], end-start)
		yt := tensors.FromFlatDataAndDimensions(labels[start:end], end-start)
		out, err := m.run(execEval, xt, yt)
		finalize(xt)
		finalize(yt)
		if err != nil {
			return Metrics{}, err
		}
		lossSum += scalar(out[0])
		correct += scalar(out[1])
	}
	n := float64(len(labels))
	return Metrics{Loss: lossSum / n, Accuracy: correct / n, Count: len(labels)}, nil
}

// Predict returns the model's outputs for the rows of x (len(x)/InputDim
// rows), row-major with OutputDim values per row.
func (m *Model) Predict(x []float32) ([]float32, error) {
	d := m.InputDim()
	if len(x) == 0 || len(x)%d != 0 {
		return nil, fmt.Errorf("nn: %d input values is not a positive multiple of %d features", len(x), d)
	}
	xt := m.batchTensor(x, len(x)/d)
	defer finalize(xt)
	out, err := m.run(execPredict, xt)
	if err != nil {
		return nil, err
	}
	defer finalize(out[0])
	return tensors.CopyFlatData[float32](out[0])
}

// FitOptions configure Fit.
type FitOptions struct {
	Epochs    int  // passes over the data (at least 1)
	BatchSize int  // rows per step; the last batch of an epoch may be shorter
	Shuffle   bool // reshuffle the rows before every epoch
	Seed      uint64
	// OnEpoch, if set, is called after every epoch with its 0-based index and
	// the training metrics averaged over the epoch's batches.
	OnEpoch func(epoch int, train Metrics)
}

// Fit trains the whole model like Keras' model.fit: Epochs passes over the
// rows of x in batches, reshuffled every epoch if asked (with a generator
// seeded by Seed). It returns each epoch's training metrics.
func (m *Model) Fit(x []float32, labels []int32, opt FitOptions) ([]Metrics, error) {
	if opt.Epochs <= 0 || opt.BatchSize <= 0 {
		return nil, fmt.Errorf("nn: Fit needs positive epochs and batch size, got %d and %d", opt.Epochs, opt.BatchSize)
	}
	if _, err := m.batchOf(x, labels); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6a09e667f3bcc908))
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	d := m.InputDim()
	bx := make([]float32, 0, opt.BatchSize*d)
	by := make([]int32, 0, opt.BatchSize)
	history := make([]Metrics, 0, opt.Epochs)
	for epoch := range opt.Epochs {
		if opt.Shuffle {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		var em Metrics
		for start := 0; start < len(order); start += opt.BatchSize {
			bx, by = bx[:0], by[:0]
			for _, r := range order[start:min(start+opt.BatchSize, len(order))] {
				bx = append(bx, x[r*d:(r+1)*d]...)
				by = append(by, labels[r])
			}
			bm, err := m.TrainBatch(bx, by)
			if err != nil {
				return history, fmt.Errorf("nn: epoch %d, batch at row %d: %w", epoch, start, err)
			}
			em.add(bm)
		}
		history = append(history, em)
		if opt.OnEpoch != nil {
			opt.OnEpoch(epoch, em)
		}
	}
	return history, nil
}
