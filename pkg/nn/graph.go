package nn

import (
	"github.com/gomlx/compute/dtypes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// clipEpsilon is Keras' backend epsilon, used to clip probabilities before
// taking their logarithm.
const clipEpsilon = 1e-7

// forward builds the model's output for x: the model function, then the
// head. It also returns the function's output (the logits of a normalising
// head).
func (m *Model) forward(scope *model.Scope, x *G.Node) (out, logits *G.Node) {
	logits = m.fn(scope, x)
	switch m.head {
	case Softmax:
		return G.Softmax(logits, -1), logits
	case LogSoftmax:
		return G.LogSoftmax(logits, -1), logits
	}
	return logits, logits
}

// lossSum builds the loss summed over the batch. With a head that matches
// the loss (softmax under cross-entropy, log-softmax under NLL) both are
// -sum(log softmax(logits)[label]), computed from the logits; NLL on another
// head is -sum(out[label]); cross-entropy on another head clips
// probabilities to [1e-7, 1-1e-7] as Keras does.
func (m *Model) lossSum(out, logits, labels *G.Node) *G.Node {
	oneHot := G.OneHot(labels, out.Shape().Dimensions[1], out.DType())
	var logp *G.Node
	switch {
	case (m.loss == SparseCategoricalCrossentropy && m.head == Softmax) || (m.loss == NLL && m.head == LogSoftmax):
		logp = G.LogSoftmax(logits, -1)
	case m.loss == NLL:
		logp = out
	default:
		logp = G.Log(G.ClipScalar(out, clipEpsilon, 1-clipEpsilon))
	}
	return G.Neg(G.ReduceAllSum(G.Mul(oneHot, logp)))
}

// meanLoss is lossSum divided by the batch size.
func (m *Model) meanLoss(out, logits, labels *G.Node) *G.Node {
	batch := out.Shape().Dimensions[0]
	return G.Mul(m.lossSum(out, logits, labels), G.Scalar(out.Graph(), out.DType(), 1/float64(batch)))
}

// correct counts the rows whose arg-max is the label, as a float32 scalar.
func correct(out, labels *G.Node) *G.Node {
	pred := G.ArgMax(out, -1, labels.DType())
	return G.ReduceAllSum(G.ConvertDType(G.Equal(pred, labels), dtypes.Float32))
}

// vjpTarget is the scalar whose gradient is the vector-Jacobian product of
// dy at y: sum(y * stop_gradient(dy)).
func vjpTarget(y, dy *G.Node) *G.Node {
	return G.ReduceAllSum(G.Mul(y, G.StopGradient(dy)))
}

// params returns the graph values of the model's trainable variables.
func (m *Model) params(g *G.Graph) []*G.Node {
	ps := make([]*G.Node, len(m.vars))
	for i, v := range m.vars {
		ps[i] = v.NodeValue(g)
	}
	return ps
}

// sgd sets every variable to params - lr*grads for the executable to store.
func (m *Model) sgd(params, grads []*G.Node, lr *G.Node) {
	for i, v := range m.vars {
		v.SetNodeValue(G.Sub(params[i], scaledGradient(grads[i], lr)))
	}
}

// scaledGradient is lr*g. A weight gradient that is a matrix product (x·dz
// of a Dense layer, laid out by layoutProduct) is scaled through its
// smaller factor instead: the batch's 64x128 dz rather than the 784x128
// gradient of the course's first layer.
func scaledGradient(g, lr *G.Node) *G.Node {
	if a, ca, b, cb, ok := matrixProduct(g, g.Inputs()); ok {
		switch n := g.Shape().Size(); {
		case b.Shape().Size() < n && b.Shape().Size() <= a.Shape().Size():
			return layoutProduct(a, ca, G.Mul(b, lr), cb)
		case a.Shape().Size() < n:
			return layoutProduct(G.Mul(a, lr), ca, b, cb)
		}
	}
	return G.Mul(g, lr)
}
