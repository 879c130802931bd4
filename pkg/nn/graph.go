package nn

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	G "github.com/gomlx/gomlx/core/graph"
)

// clipEpsilon is Keras' backend epsilon, used to clip probabilities before
// taking their logarithm.
const clipEpsilon = 1e-7

// forwardTrace is what a forward pass keeps for the backward pass: each
// layer's input and output, and the pre-activation of a normalising head.
type forwardTrace struct {
	inputs  []*G.Node // inputs[i] is layer i's input
	outputs []*G.Node // outputs[i] is layer i's output (after activation)
	logits  *G.Node   // pre-activation of the last layer if it normalises, else nil
}

// fusedDense reports whether the backend has the fused dense kernels used for
// the forward and backward passes of element-wise activations.
func fusedDense(g *G.Graph) bool {
	caps := g.Backend().Capabilities().Operations
	return caps[compute.OpTypeFusedDense] && caps[compute.OpTypeFusedDenseVJP]
}

// backendConfig maps the element-wise activations to the backend's fused ones;
// ok is false for the normalising ones.
func (a Activation) backendConfig() (cfg compute.DenseConfig, ok bool) {
	cfg.WeightLayout = compute.DenseLayoutInputOutputs
	switch a {
	case Linear:
		cfg.Activation.Type = compute.ActivationNone
	case ReLU:
		cfg.Activation.Type = compute.ActivationRelu
	case Sigmoid:
		cfg.Activation.Type = compute.ActivationSigmoid
	case Tanh:
		cfg.Activation.Type = compute.ActivationTanh
	default:
		return cfg, false
	}
	return cfg, true
}

// dense is x·W + b followed by the element-wise activation act.
func dense(x, w, b *G.Node, act Activation) *G.Node {
	cfg, ok := act.backendConfig()
	if !ok {
		panic(fmt.Sprintf("nn: dense called with normalising activation %v", act))
	}
	if fusedDense(x.Graph()) {
		return G.BackendFusedDense(x, w, b, cfg)
	}
	y := G.Add(G.MatMul(x, w), G.ExpandAxes(b, 0))
	switch act {
	case ReLU:
		y = G.Max(y, G.ZerosLike(y))
	case Sigmoid:
		y = G.Sigmoid(y)
	case Tanh:
		y = G.Tanh(y)
	}
	return y
}

// forward builds the model's forward pass over x ([batch, inputDim]).
func (m *Model) forward(params []*G.Node, x *G.Node) (out *G.Node, tr forwardTrace) {
	h := x
	for i, l := range m.layers {
		w, b := params[2*i], params[2*i+1]
		tr.inputs = append(tr.inputs, h)
		if l.Activation.normalizes() {
			z := dense(h, w, b, Linear)
			tr.logits = z
			if l.Activation == Softmax {
				h = G.Softmax(z, -1)
			} else {
				h = G.LogSoftmax(z, -1)
			}
		} else {
			h = dense(h, w, b, l.Activation)
		}
		tr.outputs = append(tr.outputs, h)
	}
	return h, tr
}

// activationVJP maps the gradient at a layer's output y to the gradient at
// its pre-activation, for the element-wise activations.
func activationVJP(act Activation, y, dy *G.Node) *G.Node {
	switch act {
	case ReLU:
		return G.Where(G.GreaterThan(y, G.ZerosLike(y)), dy, G.ZerosLike(dy))
	case Sigmoid:
		return G.Mul(dy, G.Mul(y, G.OneMinus(y)))
	case Tanh:
		return G.Mul(dy, G.OneMinus(G.Square(y)))
	}
	return dy
}

// normalizingVJP maps the gradient at a softmax or log-softmax output y to
// the gradient at its logits.
func normalizingVJP(act Activation, y, dy *G.Node) *G.Node {
	if act == Softmax {
		// dz = y * (dy - sum(dy*y))
		return G.Mul(y, G.Sub(dy, G.ReduceAndKeep(G.Mul(dy, y), G.ReduceSum, -1)))
	}
	// log-softmax: dz = dy - softmax * sum(dy)
	return G.Sub(dy, G.Mul(G.Exp(y), G.ReduceAndKeep(dy, G.ReduceSum, -1)))
}

// denseVJP is the backward pass of one dense layer with an element-wise
// activation, given its input x, output y and the gradient dy at y. dx is nil
// when needDx is false.
func denseVJP(act Activation, x, w, b, y, dy *G.Node, needDx bool) (dx, dw, db *G.Node) {
	cfg, _ := act.backendConfig()
	if needDx && fusedDense(x.Graph()) {
		return G.BackendFusedDenseVJP(x, w, b, y, dy, cfg)
	}
	dz := activationVJP(act, y, dy)
	dw = G.DotGeneral(x, []int{0}, nil, dz, []int{0}, nil) // [in, units]
	db = G.ReduceSum(dz, 0)
	if needDx {
		dx = G.DotGeneral(dz, []int{1}, nil, w, []int{1}, nil) // [batch, in]
	}
	return dx, dw, db
}

// backward builds the backward pass from the gradient at the model's output
// (dOut) or, if dLogits is not nil, from the gradient at the logits of a
// normalising head. It returns the gradient at the input (nil unless needDx)
// and the parameter gradients in the order of the parameters.
func (m *Model) backward(params []*G.Node, tr forwardTrace, dOut, dLogits *G.Node, needDx bool) (dx *G.Node, grads []*G.Node) {
	grads = make([]*G.Node, len(params))
	last := len(m.layers) - 1
	dy := dOut
	for i := last; i >= 0; i-- {
		l := m.layers[i]
		w, b := params[2*i], params[2*i+1]
		x, y := tr.inputs[i], tr.outputs[i]
		needX := needDx || i > 0
		act := l.Activation
		if act.normalizes() {
			if dLogits == nil {
				dLogits = normalizingVJP(act, y, dy)
			}
			dy, y, act = dLogits, tr.logits, Linear
		}
		dx, grads[2*i], grads[2*i+1] = denseVJP(act, x, w, b, y, dy, needX)
		dy = dx
	}
	return dy, grads
}

// lossAndGrad builds the mean loss over the batch, the count of correct
// predictions, and the gradient that starts the backward pass: either at the
// output (dOut) or at the logits of a matching normalising head (dLogits).
func (m *Model) lossAndGrad(out *G.Node, tr forwardTrace, labels *G.Node) (loss, correct, dOut, dLogits *G.Node) {
	g := out.Graph()
	batch := out.Shape().Dimensions[0]
	classes := out.Shape().Dimensions[1]
	oneHot := G.OneHot(labels, classes, out.DType())
	invBatch := G.Scalar(g, out.DType(), 1/float64(batch))
	correct = m.correct(out, labels)
	head := m.layers[len(m.layers)-1].Activation
	switch {
	case (m.loss == SparseCategoricalCrossentropy && head == Softmax) || (m.loss == NLL && head == LogSoftmax):
		// Both are -mean(log softmax(z)[label]); the gradient at z is
		// (softmax(z) - onehot)/batch.
		var logp, p *G.Node
		if head == LogSoftmax {
			logp, p = out, G.Exp(out)
		} else {
			logp, p = G.LogSoftmax(tr.logits, -1), out
		}
		loss = G.Neg(G.Mul(G.ReduceAllSum(G.Mul(oneHot, logp)), invBatch))
		dLogits = G.Mul(G.Sub(p, oneHot), invBatch)
	case m.loss == NLL:
		loss = G.Neg(G.Mul(G.ReduceAllSum(G.Mul(oneHot, out)), invBatch))
		dOut = G.Neg(G.Mul(oneHot, invBatch))
	default: // cross-entropy on probabilities from some other head
		lo, hi := G.Scalar(g, out.DType(), clipEpsilon), G.Scalar(g, out.DType(), 1-clipEpsilon)
		p := G.Clamp(lo, out, hi)
		loss = G.Neg(G.Mul(G.ReduceAllSum(G.Mul(oneHot, G.Log(p))), invBatch))
		inRange := G.And(G.GreaterThan(out, lo), G.LessThan(out, hi))
		dOut = G.Where(inRange, G.Neg(G.Mul(G.Div(oneHot, p), invBatch)), G.ZerosLike(out))
	}
	return loss, correct, dOut, dLogits
}

// evalLoss builds the summed loss over the batch (for averaging over a data
// set) and the count of correct predictions.
func (m *Model) evalLoss(out *G.Node, tr forwardTrace, labels *G.Node) (lossSum, correct *G.Node) {
	g := out.Graph()
	oneHot := G.OneHot(labels, out.Shape().Dimensions[1], out.DType())
	head := m.layers[len(m.layers)-1].Activation
	var logp *G.Node
	switch {
	case m.loss == NLL:
		logp = out
	case head == Softmax:
		logp = G.LogSoftmax(tr.logits, -1)
	default:
		logp = G.Log(G.Clamp(G.Scalar(g, out.DType(), clipEpsilon), out, G.Scalar(g, out.DType(), 1-clipEpsilon)))
	}
	return G.Neg(G.ReduceAllSum(G.Mul(oneHot, logp))), m.correct(out, labels)
}

// correct counts the rows whose arg-max is the label, as a float32 scalar.
func (m *Model) correct(out, labels *G.Node) *G.Node {
	pred := G.ArgMax(out, -1, labels.DType())
	return G.ReduceAllSum(G.ConvertDType(G.Equal(pred, labels), dtypes.Float32))
}

// sgd returns params - lr*grads.
func sgd(params, grads []*G.Node, lr *G.Node) []*G.Node {
	out := make([]*G.Node, len(params))
	for i, p := range params {
		out[i] = G.Sub(p, G.Mul(grads[i], lr))
	}
	return out
}
