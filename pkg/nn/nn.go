// Package nn trains GoMLX models on GoMLX's pure-Go backend the way the
// course's Keras and PyTorch code does: a Model is any GoMLX model function
// (a Func, building its layers with variables in a model.Scope, as GoMLX's
// own examples do) with its variables, a classification head, a loss and
// an SGD optimizer. Sequential is a thin Keras-like convenience that builds
// such a function from Dense, Conv2D, MaxPool2D, Flatten and Reshape layers.
// Initialisation is seeded like Keras (Glorot uniform) or PyTorch (Kaiming
// uniform).
//
// Every gradient comes from GoMLX's automatic differentiation
// (graph.Gradient): there is no hand-written backward pass. Executables
// run their graphs in training mode, so that variables stay graph
// parameters on the pure-Go backend (which otherwise embeds them as
// constants): layers that behave differently in training, like dropout,
// do so in prediction too. A training step
// is one compiled executable (forward, loss, gradient and SGD update) run by
// a model.Exec, which donates the old variable buffers and stores the new
// ones. Executables are compiled once per input shape, so a data set whose
// last batch is shorter costs one extra compilation.
//
// For split learning a Model is a segment: Forward keeps its input and the
// forward values its gradient reads (residual.go), Backward computes the
// vector-Jacobian product for a gradient dy arriving at the segment's
// output (the gradient of sum(y * stop_gradient(dy)), built by
// graph.Gradient and run on the kept values, without recomputing the
// forward pass) and returns the gradient at its input, and Step applies SGD
// to the accumulated parameter gradients. BackwardStep fuses the two, and TrainTop trains a segment that
// carries the loss and returns the gradient at its input.
//
// A Model is not safe for concurrent use; distinct models may train
// concurrently.
package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Backend returns the process-wide GoMLX backend used by every model: the
// pure-Go backend (with SIMD matrix products when built with
// GOEXPERIMENT=simd), running each execution on the calling goroutine
// (sequentialBackend).
func Backend() compute.Backend { return backend() }

var backend = sync.OnceValue(func() compute.Backend {
	b, err := gobackend.New("")
	if err != nil {
		panic(fmt.Sprintf("nn: creating the pure-Go backend: %v", err))
	}
	sequentialBackend(b)
	return b
})

// sequentialBackend turns off the pure-Go backend's parallelism within an
// execution (its "parallelism=0" setting, which gobackend.New would also
// print to standard output). At the course's sizes (batch 64, layers of at
// most 784x640) splitting a matrix product or the graph's independent
// operations across goroutines costs more than it saves: with 2 threads a
// split-learning step took 1.5 ms of CPU against 1.15 ms with 1, and
// longer in wall time, while sequential executions cost the same CPU at 1
// and 2 threads. Models trained concurrently (FedAvg's clients, split
// learning's workers) still run in parallel. The setting is reached by
// reflection, as gobackend exposes it only through its configuration
// string; if its Workers pool ever changes, the backend keeps its default.
func sequentialBackend(b compute.Backend) {
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	w := v.Elem().FieldByName("Workers")
	if w.Kind() != reflect.Pointer || w.IsNil() {
		return
	}
	set := w.MethodByName("SetMaxParallelism")
	if set.IsValid() && set.Type().NumIn() == 1 && set.Type().In(0).Kind() == reflect.Int {
		set.Call([]reflect.Value{reflect.ValueOf(0)})
	}
}

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

// Func is a GoMLX model function, the form GoMLX's own examples use: it
// builds the output for a batch x ([batch, example dims...]) with layers
// (package github.com/gomlx/gomlx/ml/layers and friends) whose variables
// live in scope. Any such function can be trained, averaged by federated
// learning and cut into split-learning segments: gradients come from
// graph.Gradient.
type Func func(scope *model.Scope, x *graph.Node) *graph.Node

// Model is a GoMLX model function with its variables (a model.Store), a
// classification head, a loss and an SGD optimizer. The variables live on
// the backend between steps.
type Model struct {
	fn       Func
	head     Activation // Linear, Softmax or LogSoftmax, applied to fn's output
	inShape  []int      // one example
	outShape []int      // one example
	layers   []Layer    // the layers of a Sequential model, nil otherwise

	store *model.Store
	vars  []*model.Variable // the trainable variables, in creation order

	loss Loss
	opt  SGD
	lr   *tensors.Tensor // scalar learning rate fed to the step executables

	execs map[execKind]*model.Exec

	saved      *tensors.Tensor // the input of the last Forward, for Backward; nil if none
	savedBatch int
	grads      []*tensors.Tensor // gradients accumulated by Backward; nil if none

	// The gradient planned by the forward executables (residual.go).
	plans       map[planKey]*vjpPlan
	residuals   []*tensors.Tensor // the residuals of the last Forward; nil if none
	residualsDx bool              // they allow the input gradient
	wantDx      bool              // the last backward pass wanted the input gradient (true at first)
	recompute   bool              // cloning the gradient failed: recompute the forward pass
}

// ErrNoForward is returned by Backward and BackwardStep when no Forward
// preceded them (or its saved values were already consumed).
var ErrNoForward = errors.New("nn: backward without a preceding Forward")

// New wraps a GoMLX model function taking examples of the given shape (for
// instance 784 for flat MNIST rows, or 28, 28, 1 for images) into a Model.
// head is applied to fn's output: Linear (none), or Softmax or LogSoftmax,
// which the losses then compute from fn's output as logits. The function is
// traced once to create its variables, which are initialised with
// GlorotUniform and seed 0 (use Initialize to choose). The model trains with
// SparseCategoricalCrossentropy and SGD at learning rate 0.01 until Compile
// says otherwise.
func New(fn Func, head Activation, inputShape ...int) (*Model, error) {
	if fn == nil {
		return nil, errors.New("nn: nil model function")
	}
	if head != Linear && !head.normalizes() {
		return nil, fmt.Errorf("nn: the head must be linear, softmax or log_softmax, got %v", head)
	}
	if len(inputShape) == 0 || slices.Min(inputShape) <= 0 {
		return nil, fmt.Errorf("nn: input shape must have positive dimensions, got %v", inputShape)
	}
	m := &Model{
		fn:      fn,
		head:    head,
		inShape: slices.Clone(inputShape),
		store:   model.NewStore(),
		execs:   map[execKind]*model.Exec{},
		plans:   map[planKey]*vjpPlan{},
		wantDx:  true,
	}
	if err := m.trace(); err != nil {
		return nil, err
	}
	if err := m.Compile(SparseCategoricalCrossentropy, SGD{LearningRate: 0.01}); err != nil {
		return nil, err
	}
	if err := m.Initialize(GlorotUniform, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// Sequential builds a model taking inputDim features through the given
// layers, as a GoMLX model function (each layer in scope "layer_<i>"),
// initialised with GlorotUniform and seed 0; use Initialize to choose
// another initialiser or seed. Softmax and LogSoftmax are only allowed on
// the last layer. The model trains with SparseCategoricalCrossentropy and
// SGD at learning rate 0.01 until Compile says otherwise.
func Sequential(inputDim int, layers ...Layer) (*Model, error) {
	if inputDim <= 0 {
		return nil, fmt.Errorf("nn: input dimension must be positive, got %d", inputDim)
	}
	if len(layers) == 0 {
		return nil, errors.New("nn: a model needs at least one layer")
	}
	shape := []int{inputDim}
	head := Linear
	for i, l := range layers {
		var err error
		if shape, err = l.outputShape(shape); err != nil {
			return nil, fmt.Errorf("nn: layer %d: %w", i, err)
		}
		if l.hasActivation() && l.Activation.normalizes() {
			if i != len(layers)-1 {
				return nil, fmt.Errorf("nn: layer %d: %v is only supported on the last layer", i, l.Activation)
			}
			head = l.Activation
		}
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("nn: the last layer gives examples shaped %v, want vectors (add Flatten)", shape)
	}
	m, err := New(sequentialFunc(slices.Clone(layers)), head, inputDim)
	if err != nil {
		return nil, err
	}
	m.layers = slices.Clone(layers)
	return m, nil
}

// trace builds the forward graph once for a batch of one example: it
// creates the variables and finds the output shape.
func (m *Model) trace() error {
	e, err := m.exec(execPredict)
	if err != nil {
		return err
	}
	if _, err := e.Compile(shapes.Make(dtypes.Float32, append([]int{1}, m.inShape...)...)); err != nil {
		return fmt.Errorf("nn: building the model: %w", err)
	}
	if len(m.outShape) != 1 {
		return fmt.Errorf("nn: the model gives outputs shaped %v per example, want vectors of class scores", m.outShape)
	}
	for v := range m.store.IterVariables() {
		if v.Trainable {
			m.vars = append(m.vars, v)
		}
	}
	return nil
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

// InputDim is the number of input features of one example.
func (m *Model) InputDim() int { return size(m.inShape) }

// InputShape is the shape of one input example.
func (m *Model) InputShape() []int { return slices.Clone(m.inShape) }

// OutputDim is the number of outputs per example (classes of a classifier).
func (m *Model) OutputDim() int { return m.outShape[0] }

// Layers returns a copy of the layers of a Sequential model (nil for a
// model built by New).
func (m *Model) Layers() []Layer { return slices.Clone(m.layers) }

// Store is the GoMLX model store holding the model's variables.
func (m *Model) Store() *model.Store { return m.store }

// NumParams is the number of trainable parameters, the length of Weights.
func (m *Model) NumParams() int {
	n := 0
	for _, v := range m.vars {
		n += v.Shape().Size()
	}
	return n
}

// String describes the model like Keras' summary line: input, layers, and
// parameter count.
func (m *Model) String() string {
	if m.layers != nil {
		return fmt.Sprintf("Sequential(%d%s; %d params)", m.InputDim(), describeLayers(m.layers), m.NumParams())
	}
	return fmt.Sprintf("Model(%v -> %d, %v head; %d params)", m.inShape, m.OutputDim(), m.head, m.NumParams())
}

// Initialize draws fresh parameters with the given initialiser from a
// generator seeded with seed; the same seed gives the same parameters on any
// machine. Variables are drawn in creation order: a variable of rank 2 or
// more is a kernel whose fan-in is the product of all but its last
// dimension (its fan-out the product of all but the second-to-last); a
// vector is a bias, zero under GlorotUniform and drawn with the preceding
// kernel's fan-in under KaimingUniform. Gradients accumulated by Backward and
// values kept by Forward are dropped.
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
	values := make([]*tensors.Tensor, len(m.vars))
	fanIn := 1
	for i, v := range m.vars {
		dims := v.Shape().Dimensions
		data := make([]float32, v.Shape().Size())
		if len(dims) >= 2 {
			receptive := size(dims[:len(dims)-2])
			fanIn = receptive * dims[len(dims)-2]
			fanOut := receptive * dims[len(dims)-1]
			if init == GlorotUniform {
				uniform(data, math.Sqrt(6/float64(fanIn+fanOut)))
			} else {
				uniform(data, 1/math.Sqrt(float64(fanIn)))
			}
		} else if init == KaimingUniform {
			uniform(data, 1/math.Sqrt(float64(fanIn)))
		}
		values[i] = tensors.FromFlatDataAndDimensions(data, dims...)
	}
	return m.setValues(values)
}

// setValues installs new variable values, dropping the state derived from the old ones.
func (m *Model) setValues(values []*tensors.Tensor) error {
	for i, v := range m.vars {
		if err := v.SetValue(values[i]); err != nil {
			return fmt.Errorf("nn: setting %s: %w", v.Path(), err)
		}
	}
	m.ZeroGrad()
	m.dropSaved()
	return nil
}

// Weights returns all parameters as one flat vector: the trainable
// variables in creation order, each row-major. For a Sequential model that
// is, for each layer with parameters, its kernel (Dense: [in, units]; Conv2D:
// [size, size, in, filters]) followed by its biases. This is the layout
// SetWeights reads, suitable for averaging models.
func (m *Model) Weights() ([]float32, error) {
	flat := make([]float32, 0, m.NumParams())
	for _, v := range m.vars {
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("nn: reading %s: %w", v.Path(), err)
		}
		vals, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("nn: reading %s: %w", v.Path(), err)
		}
		flat = append(flat, vals...)
	}
	return flat, nil
}

// SetWeights replaces all parameters from a flat vector in the layout of
// Weights. A vector of the wrong length is an error and changes nothing.
func (m *Model) SetWeights(flat []float32) error {
	if len(flat) != m.NumParams() {
		return fmt.Errorf("nn: SetWeights got %d values, the model has %d parameters", len(flat), m.NumParams())
	}
	values := make([]*tensors.Tensor, len(m.vars))
	off := 0
	for i, v := range m.vars {
		n := v.Shape().Size()
		values[i] = tensors.FromFlatDataAndDimensions(slices.Clone(flat[off:off+n]), v.Shape().Dimensions...)
		off += n
	}
	return m.setValues(values)
}

// Clone returns an independent copy of the model: same function, loss,
// optimizer and parameter values.
func (m *Model) Clone() (*Model, error) {
	c, err := New(m.fn, m.head, m.inShape...)
	if err != nil {
		return nil, err
	}
	c.layers = m.layers
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
