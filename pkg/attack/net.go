package attack

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Kind is the architecture of a [Net].
type Kind int

const (
	// Perceptron is the course's logistic perceptron (package fl): one Dense
	// unit with a bias, a sigmoid and the binary cross-entropy, labels 0 and 1.
	Perceptron Kind = iota
	// MLP is the course's federated model (package fl/fedavg's DenseModel):
	// Dense(hidden) with a bias and ReLU, then Dense(classes) with a bias,
	// softmax and the cross-entropy.
	MLP
)

// String returns "perceptron" or "mlp".
func (k Kind) String() string {
	switch k {
	case Perceptron:
		return "perceptron"
	case MLP:
		return "mlp"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "perceptron" or "mlp".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "perceptron":
		return Perceptron, nil
	case "mlp":
		return MLP, nil
	}
	return 0, fmt.Errorf("attack: model %q, want perceptron or mlp", s)
}

// backend is the process-wide pure-Go GoMLX backend.
var backend = sync.OnceValue(gobackend.GetBackend)

// Net is the network a client trains and whose gradient an attacker sees: a
// GoMLX model function of its own ([Net.Logits]) with its parameters in a
// model.Store, one Dense layer per scope "layer0", "layer1" (variables
// "dense/weights" of shape [inputs, outputs] and "dense/biases").
//
// The layers are written with graph.DotProduct rather than ml/layers.Dense:
// in GoMLX v0.28.16, layers.Dense on the pure-Go backend becomes a fused
// FusedDense node whose gradient is a FusedDenseVJP node, and FusedDenseVJP
// has no gradient ("no gradient is defined yet, cannot generate graph
// gradient"), so the gradient of a gradient that DLG needs fails. With the
// primitives, graph.Gradient of graph.Gradient works.
type Net struct {
	Kind    Kind
	Inputs  int          // features of an example
	Hidden  int          // hidden units of an MLP (0 for a perceptron)
	Classes int          // 2 for a perceptron (one logit), the classes of an MLP
	DType   dtypes.DType // Float32 or Float64

	store    *model.Store
	vars     []*model.Variable // layer0 weights, layer0 biases, layer1 weights, layer1 biases
	gradExec *model.Exec
	dlgExecs map[int]*model.Exec // by batch size
	probExec *model.Exec
}

// NewNet returns a network of the given kind with weights drawn from seed by
// Glorot's uniform initialisation and zero biases (Keras' defaults, as the
// course's models): the model of a federated round's first step.
func NewNet(kind Kind, inputs, hidden, classes int, dtype dtypes.DType, seed uint64) (*Net, error) {
	if inputs <= 0 {
		return nil, fmt.Errorf("attack: %d inputs, want > 0", inputs)
	}
	if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		return nil, fmt.Errorf("attack: dtype %s, want Float32 or Float64", dtype)
	}
	var dims [][2]int
	switch kind {
	case Perceptron:
		hidden, classes = 0, 2
		dims = [][2]int{{inputs, 1}}
	case MLP:
		if hidden <= 0 || classes < 2 {
			return nil, fmt.Errorf("attack: MLP with %d hidden units and %d classes, want > 0 and >= 2", hidden, classes)
		}
		dims = [][2]int{{inputs, hidden}, {hidden, classes}}
	default:
		return nil, fmt.Errorf("attack: unknown model kind %d", int(kind))
	}
	n := &Net{Kind: kind, Inputs: inputs, Hidden: hidden, Classes: classes, DType: dtype,
		store: model.NewStore(), dlgExecs: map[int]*model.Exec{}}
	r := rand.New(rand.NewPCG(seed, 0x617474616b))
	for l, d := range dims {
		vars, err := newDense(n.store.RootScope().In("layer%d", l), d[0], d[1], dtype, r)
		if err != nil {
			return nil, err
		}
		n.vars = append(n.vars, vars...)
	}
	return n, nil
}

// newDense creates the variables of a Dense layer with a bias in scope
// (those of [dense]): weights drawn by Glorot's uniform initialisation from
// r, zero biases.
func newDense(scope *model.Scope, in, out int, dtype dtypes.DType, r *rand.Rand) ([]*model.Variable, error) {
	limit := math.Sqrt(6 / float64(in+out))
	w := make([]float64, in*out)
	for i := range w {
		w[i] = (2*r.Float64() - 1) * limit
	}
	scope = scope.In("dense")
	wv, err := scope.CreateVariable("weights", tensorOf(dtype, w, in, out))
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	bv, err := scope.CreateVariable("biases", tensorOf(dtype, make([]float64, out), out))
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	return []*model.Variable{wv, bv}, nil
}

// tensorOf returns the values v as a tensor of the given dtype and dimensions.
func tensorOf(dtype dtypes.DType, v []float64, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float32 {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), v...), dims...)
}

// float64s returns the values of a float tensor as float64.
func float64s(t *tensors.Tensor) ([]float64, error) {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.CopyFlatData[float64](t)
	case dtypes.Float32:
		f, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		v := make([]float64, len(f))
		for i, x := range f {
			v[i] = float64(x)
		}
		return v, nil
	}
	return nil, fmt.Errorf("attack: tensor of dtype %s, want a float", t.DType())
}

// ParamShapes returns the shape (rows, columns) of each parameter in the
// order of a [Gradients]: the weights [inputs, outputs] and biases [1,
// outputs] of each layer.
func (n *Net) ParamShapes() [][2]int {
	s := make([][2]int, len(n.vars))
	for i, v := range n.vars {
		d := v.Shape().Dimensions
		if len(d) == 2 {
			s[i] = [2]int{d[0], d[1]}
		} else {
			s[i] = [2]int{1, d[0]}
		}
	}
	return s
}

// Logits is the model function: the logits of a batch x of shape [B,
// inputs], [B, 1] for a perceptron and [B, classes] for an MLP.
func (n *Net) Logits(scope *model.Scope, x *G.Node) *G.Node {
	y := dense(scope.In("layer0"), x, n.vars[0].Shape().Dimensions[1])
	if n.Kind == Perceptron {
		return y
	}
	h := G.Max(y, G.ZerosLike(y)) // ReLU
	return dense(scope.In("layer1"), h, n.Classes)
}

// dense is a Dense layer with a bias, x·W + b, in the variables of
// ml/layers.Dense ("dense/weights" [in, out] and "dense/biases" [out]).
func dense(scope *model.Scope, x *G.Node, out int) *G.Node {
	scope = scope.In("dense")
	in := x.Shape().Dimensions[1]
	w := scope.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(x.Graph())
	b := scope.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(x.Graph())
	return G.Add(G.DotProduct(x, w), G.InsertAxes(b, 0))
}

// Loss is the mean loss of the batch: the binary cross-entropy of the
// logits for a perceptron (labels 0 or 1), the softmax cross-entropy for an
// MLP. labels has shape [B] (int32).
func (n *Net) Loss(scope *model.Scope, x, labels *G.Node) *G.Node {
	z := n.Logits(scope, x)
	if n.Kind == Perceptron {
		z = G.Reshape(z, z.Shape().Dimensions[0])
		y := G.ConvertDType(labels, z.DType())
		// softplus(z) - y·z, written stably as max(z,0) + log1p(exp(-|z|)) - y·z.
		return G.ReduceAllMean(G.Sub(G.Add(G.Max(z, G.ZerosLike(z)), G.Log1p(G.Exp(G.Neg(G.Abs(z))))), G.Mul(y, z)))
	}
	logp := G.Sub(z, G.Add(G.ReduceAndKeep(z, G.ReduceMax, -1), G.Log(G.ReduceAndKeep(G.Exp(G.Sub(z, G.ReduceAndKeep(z, G.ReduceMax, -1))), G.ReduceSum, -1))))
	onehot := G.OneHot(labels, n.Classes, z.DType())
	return G.Neg(G.ReduceAllMean(G.ReduceSum(G.Mul(onehot, logp), -1)))
}

// params returns the parameter nodes of graph g, in the order of
// [Gradients].
func (n *Net) params(g *G.Graph) []*G.Node { return nodeValues(n.vars, g) }

// Gradients is a gradient of a [Net]'s loss: one flat slice per parameter in
// the order of [Net.ParamShapes] (layer 0's weights, row-major [inputs,
// outputs], and biases, then layer 1's), in float64 whatever the network's
// dtype.
type Gradients [][]float64

// Clone returns a deep copy of g.
func (g Gradients) Clone() Gradients {
	c := make(Gradients, len(g))
	for i := range g {
		c[i] = append([]float64(nil), g[i]...)
	}
	return c
}

// Add adds h to g, parameter by parameter: the sum a secure-aggregation
// server learns.
func (g Gradients) Add(h Gradients) error {
	if len(g) != len(h) {
		return fmt.Errorf("attack: adding gradients of %d and %d parameters", len(g), len(h))
	}
	for i := range g {
		if len(g[i]) != len(h[i]) {
			return fmt.Errorf("attack: adding gradients of parameter %d with %d and %d entries", i, len(g[i]), len(h[i]))
		}
		for j := range g[i] {
			g[i][j] += h[i][j]
		}
	}
	return nil
}

// Flat returns views of all entries of g as one vector (a copy).
func (g Gradients) Flat() []float64 {
	var f []float64
	for _, p := range g {
		f = append(f, p...)
	}
	return f
}

// SetFlat copies f, in the order of [Gradients.Flat], into g.
func (g Gradients) SetFlat(f []float64) {
	for _, p := range g {
		f = f[copy(p, f):]
	}
}

// checkBatch checks a batch of B examples: x has B·Inputs pixels and labels
// are valid classes.
func (n *Net) checkBatch(x []float64, labels []int) error {
	if len(labels) == 0 {
		return errors.New("attack: empty batch")
	}
	if len(x) != len(labels)*n.Inputs {
		return fmt.Errorf("attack: batch of %d labels needs %d inputs, got %d", len(labels), len(labels)*n.Inputs, len(x))
	}
	for i, y := range labels {
		if y < 0 || y >= n.Classes {
			return fmt.Errorf("attack: label %d of example %d, want 0 to %d", y, i, n.Classes-1)
		}
	}
	return nil
}

func int32s(labels []int) []int32 {
	l := make([]int32, len(labels))
	for i, y := range labels {
		l[i] = int32(y)
	}
	return l
}

// Gradient returns the gradient of the mean loss of the batch (x, labels)
// with respect to the parameters: what a federated client sends after one
// step (FedSGD), computed by graph.Gradient in the network's dtype. x holds
// the B examples one after the other.
func (n *Net) Gradient(x []float64, labels []int) (Gradients, error) {
	if err := n.checkBatch(x, labels); err != nil {
		return nil, err
	}
	if n.gradExec == nil {
		e, err := model.NewExec(backend(), n.store, func(scope *model.Scope, x, y *G.Node) []*G.Node {
			return G.Gradient(n.Loss(scope, x, y), n.params(x.Graph())...)
		})
		if err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		n.gradExec = e
	}
	out, err := n.gradExec.Exec(tensorOf(n.DType, x, len(labels), n.Inputs), tensors.FromValue(int32s(labels)))
	if err != nil {
		return nil, fmt.Errorf("attack: gradient: %w", err)
	}
	g := make(Gradients, len(out))
	for i, t := range out {
		if g[i], err = float64s(t); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// MeanProbabilities returns the mean over the images of the MLP's softmax
// probabilities, one per class.
func (n *Net) MeanProbabilities(images [][]float64) ([]float64, error) {
	if n.Kind != MLP {
		return nil, fmt.Errorf("attack: class probabilities of a %s", n.Kind)
	}
	var flat []float64
	for _, x := range images {
		flat = append(flat, x...)
	}
	if len(images) == 0 || len(flat) != len(images)*n.Inputs {
		return nil, fmt.Errorf("attack: %d images of %d pixels, want %d each", len(images), len(flat), n.Inputs)
	}
	if n.probExec == nil {
		e, err := model.NewExec(backend(), n.store, func(scope *model.Scope, x *G.Node) *G.Node {
			z := n.Logits(scope, x)
			z = G.Sub(z, G.ReduceAndKeep(z, G.ReduceMax, -1))
			p := G.Div(G.Exp(z), G.ReduceAndKeep(G.Exp(z), G.ReduceSum, -1))
			return G.ReduceMean(p, 0)
		})
		if err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		n.probExec = e
	}
	out, err := n.probExec.Exec(tensorOf(n.DType, flat, len(images), n.Inputs))
	if err != nil {
		return nil, fmt.Errorf("attack: probabilities: %w", err)
	}
	return float64s(out[0])
}
