// Package nn is a small Keras-like layer for dense networks on GoMLX with its
// pure-Go backend: a Sequential stack of Dense layers, seeded initialisation
// like Keras (Glorot uniform) or PyTorch (Kaiming uniform), SGD training on a
// batch, evaluation, and the forward/backward pieces split learning needs.
//
// The parameters of a model live on the backend between steps: a training step
// is one compiled executable (forward, loss, backward and SGD update fused)
// that donates the old parameter buffers and returns the new ones. Executables
// are compiled once per input shape, so a data set whose last batch is shorter
// costs one extra compilation.
//
// For split learning a Model is a segment: Forward keeps what the backward
// pass needs (no recomputation), Backward computes the vector-Jacobian product
// for a gradient arriving at the segment's output and returns the gradient at
// its input, and Step applies SGD to the accumulated parameter gradients.
// BackwardStep fuses the two, and TrainTop trains a segment that carries the
// loss and returns the gradient at its input.
//
// A Model is not safe for concurrent use; distinct models may train
// concurrently.
package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Backend returns the process-wide GoMLX backend used by every model: the
// pure-Go backend (with SIMD matrix products when built with
// GOEXPERIMENT=simd).
func Backend() compute.Backend { return backend() }

var backend = sync.OnceValue(gobackend.GetBackend)

// Activation is the non-linearity applied to a Dense layer's output.
type Activation int

const (
	// Linear applies no activation.
	Linear Activation = iota
	// ReLU is max(x, 0).
	ReLU
	// Sigmoid is 1/(1+exp(-x)).
	Sigmoid
	// Tanh is the hyperbolic tangent.
	Tanh
	// Softmax normalises the last axis into probabilities (a Keras
	// classification head, used with SparseCategoricalCrossentropy).
	Softmax
	// LogSoftmax gives log-probabilities along the last axis (a PyTorch
	// classification head, used with NLL).
	LogSoftmax
)

var activationNames = [...]string{"linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax"}

// String returns the Keras name of the activation.
func (a Activation) String() string {
	if a < 0 || int(a) >= len(activationNames) {
		return fmt.Sprintf("Activation(%d)", int(a))
	}
	return activationNames[a]
}

func (a Activation) valid() bool { return a >= Linear && a <= LogSoftmax }

// normalizes reports whether the activation couples the units of a row
// (softmax and log-softmax), so its backward pass needs the whole row.
func (a Activation) normalizes() bool { return a == Softmax || a == LogSoftmax }

// Init selects how weights are initialised.
type Init int

const (
	// GlorotUniform draws weights from U(-l, l) with l = sqrt(6/(in+out)) and
	// sets biases to zero, as Keras' Dense does.
	GlorotUniform Init = iota
	// KaimingUniform draws weights and biases from U(-1/sqrt(in), 1/sqrt(in)),
	// as PyTorch's nn.Linear does.
	KaimingUniform
)

// String names the initialiser.
func (i Init) String() string {
	switch i {
	case GlorotUniform:
		return "glorot_uniform"
	case KaimingUniform:
		return "kaiming_uniform"
	}
	return fmt.Sprintf("Init(%d)", int(i))
}

// Loss selects the training loss of a model whose last layer is a
// classification head; labels are class indices.
type Loss int

const (
	// SparseCategoricalCrossentropy is Keras' loss on probabilities:
	// -mean(log p[label]). With a Softmax head it is computed from the logits,
	// which is exact and stable; otherwise probabilities are clipped to
	// [1e-7, 1-1e-7] as Keras does.
	SparseCategoricalCrossentropy Loss = iota
	// NLL is PyTorch's negative log-likelihood on log-probabilities:
	// -mean(out[label]), used after a LogSoftmax head.
	NLL
)

// String names the loss.
func (l Loss) String() string {
	switch l {
	case SparseCategoricalCrossentropy:
		return "sparse_categorical_crossentropy"
	case NLL:
		return "nll"
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// SGD is plain stochastic gradient descent: p -= LearningRate * grad.
type SGD struct {
	LearningRate float64
}

// Layer describes one layer of a Sequential model.
type Layer struct {
	Units      int
	Activation Activation
}

// Dense is a fully connected layer with the given number of output units and
// activation: out = activation(x·W + b), with W of shape [in, units].
func Dense(units int, activation Activation) Layer {
	return Layer{Units: units, Activation: activation}
}

// Model is a stack of Dense layers whose parameters live on the backend.
type Model struct {
	inputDim int
	layers   []Layer
	params   []*tensors.Tensor // W0, b0, W1, b1, ... on the backend
	loss     Loss
	opt      SGD
	lr       *tensors.Tensor // scalar learning rate fed to the step executables

	execs map[execKind]*graph.Exec

	saved      []*tensors.Tensor // what Forward kept for Backward; nil if none
	savedBatch int
	grads      []*tensors.Tensor // gradients accumulated by Backward; nil if none
}

// ErrNoForward is returned by Backward and BackwardStep when no Forward
// preceded them (or its saved values were already consumed).
var ErrNoForward = errors.New("nn: backward without a preceding Forward")

// Sequential builds a model taking inputDim features through the given
// layers, initialised with GlorotUniform and seed 0; use Initialize to choose
// another initialiser or seed. The model trains with
// SparseCategoricalCrossentropy and SGD at learning rate 0.01 until Compile
// says otherwise.
func Sequential(inputDim int, layers ...Layer) (*Model, error) {
	if inputDim <= 0 {
		return nil, fmt.Errorf("nn: input dimension must be positive, got %d", inputDim)
	}
	if len(layers) == 0 {
		return nil, errors.New("nn: a model needs at least one layer")
	}
	for i, l := range layers {
		if l.Units <= 0 {
			return nil, fmt.Errorf("nn: layer %d has %d units, want a positive number", i, l.Units)
		}
		if !l.Activation.valid() {
			return nil, fmt.Errorf("nn: layer %d has unknown activation %v", i, l.Activation)
		}
		if l.Activation.normalizes() && i != len(layers)-1 {
			return nil, fmt.Errorf("nn: layer %d: %v is only supported on the last layer", i, l.Activation)
		}
	}
	m := &Model{
		inputDim: inputDim,
		layers:   append([]Layer(nil), layers...),
		execs:    map[execKind]*graph.Exec{},
	}
	if err := m.Compile(SparseCategoricalCrossentropy, SGD{LearningRate: 0.01}); err != nil {
		return nil, err
	}
	if err := m.Initialize(GlorotUniform, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// Compile sets the loss and the optimizer used by TrainBatch, Fit, TrainTop,
// Step and BackwardStep. Changing the learning rate does not recompile
// anything.
func (m *Model) Compile(loss Loss, opt SGD) error {
	if loss != SparseCategoricalCrossentropy && loss != NLL {
		return fmt.Errorf("nn: unknown loss %v", loss)
	}
	if math.IsNaN(opt.LearningRate) || math.IsInf(opt.LearningRate, 0) || opt.LearningRate < 0 {
		return fmt.Errorf("nn: learning rate must be a finite non-negative number, got %v", opt.LearningRate)
	}
	if loss != m.loss {
		delete(m.execs, execTrain)
		delete(m.execs, execTrainTop)
		delete(m.execs, execEval)
	}
	m.loss, m.opt = loss, opt
	m.lr = tensors.FromScalar(float32(opt.LearningRate))
	return nil
}

// Loss returns the model's training loss.
func (m *Model) Loss() Loss { return m.loss }

// Optimizer returns the model's optimizer.
func (m *Model) Optimizer() SGD { return m.opt }

// InputDim is the number of input features.
func (m *Model) InputDim() int { return m.inputDim }

// OutputDim is the number of units of the last layer.
func (m *Model) OutputDim() int { return m.layers[len(m.layers)-1].Units }

// Layers returns a copy of the model's layer descriptions.
func (m *Model) Layers() []Layer { return append([]Layer(nil), m.layers...) }

// layerIn is the input width of layer i.
func (m *Model) layerIn(i int) int {
	if i == 0 {
		return m.inputDim
	}
	return m.layers[i-1].Units
}

// NumParams is the number of trainable parameters, the length of Weights.
func (m *Model) NumParams() int {
	n := 0
	for i, l := range m.layers {
		n += (m.layerIn(i) + 1) * l.Units
	}
	return n
}

// String describes the model like Keras' summary line: input, layers, and
// parameter count.
func (m *Model) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sequential(%d", m.inputDim)
	for _, l := range m.layers {
		fmt.Fprintf(&b, " -> Dense(%d, %v)", l.Units, l.Activation)
	}
	fmt.Fprintf(&b, "; %d params)", m.NumParams())
	return b.String()
}

// Initialize draws fresh parameters with the given initialiser from a
// generator seeded with seed; the same seed gives the same parameters on any
// machine. Gradients accumulated by Backward and values kept by Forward are
// dropped.
func (m *Model) Initialize(init Init, seed uint64) error {
	if init != GlorotUniform && init != KaimingUniform {
		return fmt.Errorf("nn: unknown initialiser %v", init)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	uniform := func(dst []float32, limit float64) {
		for i := range dst {
			dst[i] = float32((2*rng.Float64() - 1) * limit)
		}
	}
	params := make([]*tensors.Tensor, 0, 2*len(m.layers))
	for i, l := range m.layers {
		in := m.layerIn(i)
		w := make([]float32, in*l.Units)
		b := make([]float32, l.Units)
		switch init {
		case GlorotUniform:
			uniform(w, math.Sqrt(6/float64(in+l.Units)))
		case KaimingUniform:
			bound := 1 / math.Sqrt(float64(in))
			uniform(w, bound)
			uniform(b, bound)
		}
		params = append(params,
			tensors.FromFlatDataAndDimensions(w, in, l.Units),
			tensors.FromFlatDataAndDimensions(b, l.Units))
	}
	m.replaceParams(params)
	return nil
}

// replaceParams installs new parameter tensors, releasing the old ones and any
// state derived from them.
func (m *Model) replaceParams(params []*tensors.Tensor) {
	for _, p := range m.params {
		finalize(p)
	}
	m.params = params
	m.ZeroGrad()
	m.dropSaved()
}

// Weights returns all parameters as one flat vector: for each layer its
// weight matrix W ([in, units], row-major) followed by its bias b ([units]).
// This is the layout SetWeights reads, suitable for averaging models.
func (m *Model) Weights() ([]float32, error) {
	flat := make([]float32, 0, m.NumParams())
	for i, p := range m.params {
		v, err := tensors.CopyFlatData[float32](p)
		if err != nil {
			return nil, fmt.Errorf("nn: reading parameter %d: %w", i, err)
		}
		flat = append(flat, v...)
	}
	return flat, nil
}

// SetWeights replaces all parameters from a flat vector in the layout of
// Weights. A vector of the wrong length is an error and changes nothing.
func (m *Model) SetWeights(flat []float32) error {
	if len(flat) != m.NumParams() {
		return fmt.Errorf("nn: SetWeights got %d values, the model has %d parameters", len(flat), m.NumParams())
	}
	params := make([]*tensors.Tensor, 0, len(m.params))
	off := 0
	for i, l := range m.layers {
		in := m.layerIn(i)
		w := append([]float32(nil), flat[off:off+in*l.Units]...)
		off += in * l.Units
		b := append([]float32(nil), flat[off:off+l.Units]...)
		off += l.Units
		params = append(params,
			tensors.FromFlatDataAndDimensions(w, in, l.Units),
			tensors.FromFlatDataAndDimensions(b, l.Units))
	}
	m.replaceParams(params)
	return nil
}

// LayerWeights returns layer i's weight matrix ([in, units], row-major) and
// bias.
func (m *Model) LayerWeights(i int) (w, b []float32, err error) {
	if i < 0 || i >= len(m.layers) {
		return nil, nil, fmt.Errorf("nn: layer %d out of range [0, %d)", i, len(m.layers))
	}
	if w, err = tensors.CopyFlatData[float32](m.params[2*i]); err != nil {
		return nil, nil, fmt.Errorf("nn: reading layer %d weights: %w", i, err)
	}
	if b, err = tensors.CopyFlatData[float32](m.params[2*i+1]); err != nil {
		return nil, nil, fmt.Errorf("nn: reading layer %d bias: %w", i, err)
	}
	return w, b, nil
}

// SetLayerWeights replaces layer i's weight matrix ([in, units], row-major)
// and bias. Wrong lengths are an error and change nothing.
func (m *Model) SetLayerWeights(i int, w, b []float32) error {
	if i < 0 || i >= len(m.layers) {
		return fmt.Errorf("nn: layer %d out of range [0, %d)", i, len(m.layers))
	}
	in, units := m.layerIn(i), m.layers[i].Units
	if len(w) != in*units || len(b) != units {
		return fmt.Errorf("nn: layer %d wants %d weights and %d biases, got %d and %d", i, in*units, units, len(w), len(b))
	}
	params := append([]*tensors.Tensor(nil), m.params...)
	params[2*i] = tensors.FromFlatDataAndDimensions(append([]float32(nil), w...), in, units)
	params[2*i+1] = tensors.FromFlatDataAndDimensions(append([]float32(nil), b...), units)
	finalize(m.params[2*i])
	finalize(m.params[2*i+1])
	m.params = params
	m.ZeroGrad()
	m.dropSaved()
	return nil
}

// Clone returns an independent copy of the model: same layers, loss,
// optimizer and parameter values.
func (m *Model) Clone() (*Model, error) {
	c, err := Sequential(m.inputDim, m.layers...)
	if err != nil {
		return nil, err
	}
	if err := c.Compile(m.loss, m.opt); err != nil {
		return nil, err
	}
	w, err := m.Weights()
	if err != nil {
		return nil, err
	}
	return c, c.SetWeights(w)
}

// finalize frees a tensor's storage now instead of waiting for the garbage
// collector; nil and already finalized tensors are ignored.
func finalize(t *tensors.Tensor) {
	if t != nil && t.Ok() {
		_ = t.FinalizeAll()
	}
}
