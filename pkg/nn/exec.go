package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// execKind names one of the compiled executables of a model. Each is a
// model.Exec, which feeds the model's variables, stores the ones the graph
// changes, and compiles once per input shape.
type execKind int

const (
	execTrain            execKind = iota // x, labels, lr -> loss, correct; variables stepped
	execTrainTop                         // x, labels, lr -> loss, correct, dx; variables stepped
	execEval                             // x, labels -> loss sum, correct
	execPredict                          // x -> out
	execBackward                         // x, dy -> dx, grads
	execBackwardNoDx                     // x, dy -> grads
	execBackwardStep                     // x, dy, lr -> dx; variables stepped
	execBackwardStepNoDx                 // x, dy, lr -> nothing; variables stepped
	execAccumulate                       // grads, more grads -> sums
	execStep                             // grads, lr -> nothing; variables stepped

	// The same without recomputing the forward pass (residual.go): the
	// forward executable also returns the residuals its gradient reads.
	execForwardSaving         // x -> out, residuals (gradient planned with dx)
	execForwardSavingNoDx     // x -> out, residuals (gradient planned without dx)
	execBackwardSaved         // x, dy, residuals -> dx, grads
	execBackwardSavedNoDx     // x, dy, residuals -> grads
	execBackwardStepSaved     // x, dy, lr, residuals -> dx; variables stepped
	execBackwardStepSavedNoDx // x, dy, lr, residuals -> nothing; variables stepped
)

// exec returns (building on first use) the executable of the given kind.
func (m *Model) exec(kind execKind) (*model.Exec, error) {
	if e := m.execs[kind]; e != nil {
		return e, nil
	}
	np := len(m.vars)
	var fn func(scope *model.Scope, in []*graph.Node) []*graph.Node
	switch kind {
	case execTrain, execTrainTop:
		fn = func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x, labels, lr := in[0], in[1], in[2]
			params := m.params(x.Graph())
			out, logits := m.forward(scope, x)
			loss := m.meanLoss(out, logits, labels)
			wrt := params
			if kind == execTrainTop {
				wrt = append(wrt[:len(wrt):len(wrt)], x)
			}
			grads := gradient(loss, wrt...)
			m.sgd(params, grads[:np], lr)
			res := []*graph.Node{loss, correct(out, labels)}
			if kind == execTrainTop {
				res = append(res, grads[np])
			}
			return res
		}
	case execEval:
		fn = func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			out, logits := m.forward(scope, in[0])
			return []*graph.Node{m.lossSum(out, logits, in[1]), correct(out, in[1])}
		}
	case execPredict:
		fn = func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			out, _ := m.forward(scope, in[0])
			m.outShape = out.Shape().Dimensions[1:]
			return []*graph.Node{out}
		}
	case execBackward, execBackwardNoDx, execBackwardStep, execBackwardStepNoDx:
		needDx := kind == execBackward || kind == execBackwardStep
		step := kind == execBackwardStep || kind == execBackwardStepNoDx
		fn = func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x, dy := in[0], in[1]
			params := m.params(x.Graph())
			y, _ := m.forward(scope, x)
			wrt := params
			if needDx {
				wrt = append(wrt[:len(wrt):len(wrt)], x)
			}
			grads := gradient(vjpTarget(y, dy), wrt...)
			var res []*graph.Node
			if needDx {
				res = append(res, grads[np])
			}
			if step {
				m.sgd(params, grads[:np], in[2])
				return res
			}
			return append(res, grads[:np]...)
		}
	case execForwardSaving, execForwardSavingNoDx:
		needDx := kind == execForwardSaving
		fn = func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x := in[0]
			params := m.params(x.Graph())
			y, _ := m.forward(scope, x)
			plan := m.buildPlan(x, y, params, needDx)
			m.plans[keyOf(x.Shape(), needDx)] = plan
			return append([]*graph.Node{y}, plan.residuals...)
		}
	case execBackwardSaved, execBackwardSavedNoDx, execBackwardStepSaved, execBackwardStepSavedNoDx:
		needDx := kind == execBackwardSaved || kind == execBackwardStepSaved
		step := kind == execBackwardStepSaved || kind == execBackwardStepSavedNoDx
		fn = func(_ *model.Scope, in []*graph.Node) []*graph.Node {
			x, dy, rest := in[0], in[1], in[2:]
			var lr *graph.Node
			if step {
				lr, rest = rest[0], rest[1:]
			}
			plan := m.plans[keyOf(x.Shape(), needDx)]
			if plan == nil {
				panic(fmt.Sprintf("nn: no forward pass planned the gradient for inputs %s", x.Shape()))
			}
			params := m.params(x.Graph())
			grads := plan.clone(x, dy, params, rest)
			var res []*graph.Node
			if needDx {
				res = append(res, grads[np])
			}
			if step {
				m.sgd(params, grads[:np], lr)
				return res
			}
			return append(res, grads[:np]...)
		}
	case execAccumulate:
		fn = func(_ *model.Scope, in []*graph.Node) []*graph.Node {
			out := make([]*graph.Node, np)
			for i := range out {
				out[i] = graph.Add(in[i], in[np+i])
			}
			return out
		}
	case execStep:
		fn = func(_ *model.Scope, in []*graph.Node) []*graph.Node {
			m.sgd(m.params(in[0].Graph()), in[:np], in[np])
			return nil
		}
	default:
		return nil, fmt.Errorf("nn: internal error: unknown executable kind %d", kind)
	}
	// Variables must be graph parameters in every executable, evaluation
	// included: the pure-Go backend otherwise embeds their values as
	// constants outside training, and later updates would not be seen.
	// (Layers that behave differently in training, like dropout, are in
	// training mode in every executable.)
	inTraining := func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		scope.SetTraining(in[0].Graph(), true)
		return fn(scope, in)
	}
	e, err := model.NewExec(backend(), m.store, inTraining)
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

// asArgs converts tensors to executable arguments without donating them.
func asArgs(ts []*tensors.Tensor) []any {
	args := make([]any, len(ts))
	for i, t := range ts {
		args[i] = t
	}
	return args
}

// donate converts tensors to executable arguments that hand their buffers
// over to the execution: the pure-Go backend then reuses them for its
// results or puts them back in its pool, where freeing a tensor would drop
// the memory. The tensors must not be used afterwards.
func donate(ts []*tensors.Tensor) ([]any, error) {
	args := make([]any, len(ts))
	for i, t := range ts {
		d, err := graph.DonateTensorBuffer(t, backend(), 0)
		if err != nil {
			return nil, fmt.Errorf("nn: donating a saved value: %w", err)
		}
		args[i] = d
	}
	return args, nil
}

// scalar reads a float32 scalar tensor and frees it.
func scalar(t *tensors.Tensor) float64 {
	v := tensors.ToScalar[float32](t)
	finalize(t)
	return float64(v)
}
