package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// execKind names one of the compiled executables of a model. Each is a
// graph.Exec, which compiles once per input shape and caches the result.
type execKind int

const (
	execTrain            execKind = iota // params, x, labels, lr -> params', loss, correct
	execTrainTop                         // params, x, labels, lr -> params', loss, correct, dx
	execTrainTopNoDx                     // like execTrainTop without dx (the whole model)
	execEval                             // params, x, labels -> loss sum, correct
	execPredict                          // params, x -> out
	execForward                          // params, x -> saved (outputs of every layer, logits)
	execBackward                         // params, x, saved, dOut -> dx, grads
	execBackwardNoDx                     // params, x, saved, dOut -> grads
	execBackwardStep                     // params, x, saved, dOut, lr -> dx, params'
	execBackwardStepNoDx                 // params, x, saved, dOut, lr -> params'
	execAccumulate                       // grads, more grads -> sums
	execStep                             // params, grads, lr -> params'
)

// numSaved is how many tensors Forward keeps: every layer's output, plus the
// logits of a normalising head.
func (m *Model) numSaved() int {
	n := len(m.layers)
	if m.layers[n-1].Activation.normalizes() {
		n++
	}
	return n
}

// traceFromSaved rebuilds a forward trace from the model input and the
// tensors Forward kept.
func (m *Model) traceFromSaved(x *graph.Node, saved []*graph.Node) forwardTrace {
	l := len(m.layers)
	tr := forwardTrace{outputs: saved[:l]}
	tr.inputs = append([]*graph.Node{x}, saved[:l-1]...)
	if len(saved) > l {
		tr.logits = saved[l]
	}
	return tr
}

// exec returns (building on first use) the executable of the given kind.
func (m *Model) exec(kind execKind) (*graph.Exec, error) {
	if e := m.execs[kind]; e != nil {
		return e, nil
	}
	np := len(m.layers) * 2
	ns := m.numSaved()
	var fn func(g *graph.Graph, in []*graph.Node) []*graph.Node
	switch kind {
	case execTrain, execTrainTop, execTrainTopNoDx:
		needDx := kind == execTrainTop
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			params, x, labels, lr := in[:np], in[np], in[np+1], in[np+2]
			out, tr := m.forward(params, x)
			loss, correct, dOut, dLogits := m.lossAndGrad(out, tr, labels)
			dx, grads := m.backward(params, tr, dOut, dLogits, needDx)
			res := append(sgd(params, grads, lr), loss, correct)
			if needDx {
				res = append(res, dx)
			}
			return res
		}
	case execEval:
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			out, tr := m.forward(in[:np], in[np])
			lossSum, correct := m.evalLoss(out, tr, in[np+1])
			return []*graph.Node{lossSum, correct}
		}
	case execPredict:
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			out, _ := m.forward(in[:np], in[np])
			return []*graph.Node{out}
		}
	case execForward:
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			_, tr := m.forward(in[:np], in[np])
			saved := append([]*graph.Node(nil), tr.outputs...)
			if tr.logits != nil {
				saved = append(saved, tr.logits)
			}
			return saved
		}
	case execBackward, execBackwardNoDx, execBackwardStep, execBackwardStepNoDx:
		needDx := kind == execBackward || kind == execBackwardStep
		step := kind == execBackwardStep || kind == execBackwardStepNoDx
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			params, x, saved, dOut := in[:np], in[np], in[np+1:np+1+ns], in[np+1+ns]
			dx, grads := m.backward(params, m.traceFromSaved(x, saved), dOut, nil, needDx)
			if step {
				grads = sgd(params, grads, in[np+2+ns])
			}
			if needDx {
				return append([]*graph.Node{dx}, grads...)
			}
			return grads
		}
	case execAccumulate:
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			out := make([]*graph.Node, np)
			for i := range out {
				out[i] = graph.Add(in[i], in[np+i])
			}
			return out
		}
	case execStep:
		fn = func(g *graph.Graph, in []*graph.Node) []*graph.Node {
			return sgd(in[:np], in[np:2*np], in[2*np])
		}
	default:
		return nil, fmt.Errorf("nn: internal error: unknown executable kind %d", kind)
	}
	e, err := graph.NewExec(backend(), fn)
	if err != nil {
		return nil, fmt.Errorf("nn: building executable: %w", err)
	}
	m.execs[kind] = e.WithName(fmt.Sprintf("nn.%d", kind))
	return m.execs[kind], nil
}

// run executes the executable of the given kind on args.
func (m *Model) run(kind execKind, args ...any) ([]*tensors.Tensor, error) {
	e, err := m.exec(kind)
	if err != nil {
		return nil, err
	}
	out, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("nn: executing: %w", err)
	}
	return out, nil
}

// donated wraps the tensors so that an execution may reuse their buffers for
// its outputs; the tensors must not be used afterwards.
func donated(ts []*tensors.Tensor) ([]any, error) {
	args := make([]any, len(ts))
	for i, t := range ts {
		d, err := graph.DonateTensorBuffer(t, backend(), 0)
		if err != nil {
			return nil, fmt.Errorf("nn: donating parameter %d: %w", i, err)
		}
		args[i] = d
	}
	return args, nil
}

// asArgs converts tensors to executable arguments without donating them.
func asArgs(ts []*tensors.Tensor) []any {
	args := make([]any, len(ts))
	for i, t := range ts {
		args[i] = t
	}
	return args
}

// scalar reads a float32 scalar tensor and frees it.
func scalar(t *tensors.Tensor) float64 {
	v := tensors.ToScalar[float32](t)
	finalize(t)
	return float64(v)
}
