package split

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

// ErrPointerUsed is returned when a pointer is used after Get, Move or Delete
// gave its object away.
var ErrPointerUsed = errors.New("pointer no longer points to an object")

// Pointer refers to a tensor held by a worker, like a PySyft PointerTensor.
// Operations on pointers run on the worker and return pointers to their
// results there.
type Pointer struct {
	worker Worker
	id     ObjectID
	gone   string // why the pointer is no longer valid; "" while valid
}

// Send gives the tensor t to the worker and returns a pointer to it, like
// PySyft's x.send(worker). In a VirtualWorker the tensor itself is kept, so t
// must not be modified afterwards.
func Send(t *tensors.Tensor, w Worker) (*Pointer, error) {
	if t == nil || !t.Ok() {
		return nil, errors.New("split: Send of a nil or freed tensor")
	}
	id := newID()
	if _, err := w.exec([]command{{Op: opPut, Out: id, Tensor: t}}); err != nil {
		return nil, err
	}
	return &Pointer{worker: w, id: id}, nil
}

// ID is the id of the object on its worker.
func (p *Pointer) ID() ObjectID { return p.id }

// Location is the worker holding the object.
func (p *Pointer) Location() Worker { return p.worker }

// String formats the pointer like PySyft: (Wrapper)>[PointerTensor | me:ID -> worker:ID].
func (p *Pointer) String() string {
	if p.gone != "" {
		return fmt.Sprintf("[PointerTensor | -> %s:%d (%s)]", p.worker.ID(), p.id, p.gone)
	}
	return fmt.Sprintf("[PointerTensor | -> %s:%d]", p.worker.ID(), p.id)
}

func (p *Pointer) check() error {
	if p == nil {
		return fmt.Errorf("split: nil pointer: %w", ErrPointerUsed)
	}
	if p.gone != "" {
		return fmt.Errorf("split: pointer to object %d on %s was %s: %w", p.id, p.worker.ID(), p.gone, ErrPointerUsed)
	}
	return nil
}

// Get brings the tensor back from the worker and deletes it there; the
// pointer is no longer usable afterwards.
func (p *Pointer) Get() (*tensors.Tensor, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	res, err := p.worker.exec([]command{{Op: opGet, A: p.id, Delete: true}})
	if err != nil {
		return nil, err
	}
	p.gone = "retrieved by Get"
	return res[0].Tensor, nil
}

// Delete deletes the object on the worker; the pointer is no longer usable.
func (p *Pointer) Delete() error {
	if err := p.check(); err != nil {
		return err
	}
	if _, err := p.worker.exec([]command{{Op: opDelete, A: p.id}}); err != nil {
		return err
	}
	p.gone = "deleted"
	return nil
}

// Move transfers the object to another worker and returns a pointer to it
// there; this pointer is no longer usable. As in PySyft, the object goes
// straight from worker to worker (unless it moves from a remote worker to
// an in-process one, which this process relays). Moving to the same worker
// returns the pointer itself. If the move fails, the object stays where it
// was.
func (p *Pointer) Move(to Worker) (*Pointer, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if to == p.worker {
		return p, nil
	}
	id := newID()
	send := command{Op: opSend, A: p.id, Out: id, Delete: true}
	_, fromRemote := p.worker.(*RemoteWorker)
	dst, toRemote := to.(*RemoteWorker)
	switch {
	case fromRemote && toRemote:
		send.Peer = dst.Addr()
	case fromRemote:
		return p.relay(to)
	default:
		send.to = to
	}
	if _, err := p.worker.exec([]command{send}); err != nil {
		return nil, fmt.Errorf("split: moving object %d from %s to %s: %w", p.id, p.worker.ID(), to.ID(), err)
	}
	p.gone = "moved to " + to.ID()
	if fromRemote {
		// A remote worker posts the object to its peer without waiting:
		// the move is done when the receiver holds it.
		if _, err := to.exec([]command{{Op: opAwait, A: id}}); err != nil {
			return nil, fmt.Errorf("split: moving object %d from %s to %s: %w", p.id, p.worker.ID(), to.ID(), err)
		}
	}
	return &Pointer{worker: to, id: id}, nil
}

// relay moves the object through this process: get it, send it, delete it.
func (p *Pointer) relay(to Worker) (*Pointer, error) {
	res, err := p.worker.exec([]command{{Op: opGet, A: p.id}})
	if err != nil {
		return nil, err
	}
	q, err := Send(res[0].Tensor, to)
	if err != nil {
		return nil, fmt.Errorf("split: moving object %d from %s to %s: %w (it stays on %s)", p.id, p.worker.ID(), to.ID(), err, p.worker.ID())
	}
	if _, err := p.worker.exec([]command{{Op: opDelete, A: p.id}}); err != nil {
		return nil, err
	}
	p.gone = "moved to " + to.ID()
	return q, nil
}

func (p *Pointer) binary(o op, q *Pointer) (*Pointer, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := q.check(); err != nil {
		return nil, err
	}
	if q.worker != p.worker {
		return nil, fmt.Errorf("split: %v of objects on different workers (%s, %s): Move one first", o, p.worker.ID(), q.worker.ID())
	}
	out := newID()
	if _, err := p.worker.exec([]command{{Op: o, A: p.id, B: q.id, Out: out}}); err != nil {
		return nil, err
	}
	return &Pointer{worker: p.worker, id: out}, nil
}

// Add returns a pointer to p + q, computed on their worker.
func (p *Pointer) Add(q *Pointer) (*Pointer, error) { return p.binary(opAdd, q) }

// Sub returns a pointer to p - q, computed on their worker.
func (p *Pointer) Sub(q *Pointer) (*Pointer, error) { return p.binary(opSub, q) }

// Mul returns a pointer to the element-wise product p * q, computed on their
// worker.
func (p *Pointer) Mul(q *Pointer) (*Pointer, error) { return p.binary(opMul, q) }

// MatMul returns a pointer to the matrix product p · q, computed on their
// worker.
func (p *Pointer) MatMul(q *Pointer) (*Pointer, error) { return p.binary(opMatMul, q) }

// Sum returns a pointer to the sum of p's elements, computed on its worker.
func (p *Pointer) Sum() (*Pointer, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	out := newID()
	if _, err := p.worker.exec([]command{{Op: opSum, A: p.id, Out: out}}); err != nil {
		return nil, err
	}
	return &Pointer{worker: p.worker, id: out}, nil
}

// ModelPointer refers to a model segment held by a worker, like a PySyft
// model after model.send(worker).
type ModelPointer struct {
	worker   Worker
	id       ObjectID
	inputDim int
	layers   []nn.Layer
}

// SendModel creates a copy of m (function, loss, optimizer and weights) on
// the worker and returns a pointer to it. Any GoMLX model goes to an
// in-process worker; a worker in another process gets a Sequential model
// (its layers travel, not Go code).
func SendModel(m *nn.Model, w Worker) (*ModelPointer, error) {
	id := newID()
	cmd := command{Op: opNewModel, Out: id}
	if _, local := w.(*VirtualWorker); local && m.Layers() == nil {
		c, err := m.Clone()
		if err != nil {
			return nil, err
		}
		cmd.model = c
	} else {
		if m.Layers() == nil {
			return nil, fmt.Errorf("split: %v is not Sequential: only its layers could travel to worker %s in another process", m, w.ID())
		}
		flat, err := m.Weights()
		if err != nil {
			return nil, err
		}
		cmd.Spec = &modelSpec{InputDim: m.InputDim(), Layers: m.Layers(), Loss: m.Loss(), LearningRate: m.Optimizer().LearningRate}
		cmd.Tensor = tensors.FromFlatDataAndDimensions(flat, len(flat))
	}
	if _, err := w.exec([]command{cmd}); err != nil {
		return nil, err
	}
	return &ModelPointer{worker: w, id: id, inputDim: m.InputDim(), layers: m.Layers()}, nil
}

// Location is the worker holding the model.
func (mp *ModelPointer) Location() Worker { return mp.worker }

// ID is the id of the model on its worker.
func (mp *ModelPointer) ID() ObjectID { return mp.id }

// Weights fetches the model's current weights, flat in nn's layout.
func (mp *ModelPointer) Weights() ([]float32, error) {
	res, err := mp.worker.exec([]command{{Op: opWeights, A: mp.id}})
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](res[0].Tensor)
}

// SetLearningRate changes the learning rate of the model's SGD optimizer.
func (mp *ModelPointer) SetLearningRate(lr float64) error {
	_, err := mp.worker.exec([]command{{Op: opSetLR, A: mp.id, Rate: lr}})
	return err
}

// Forward runs the model on the tensor x points to (on the same worker) and
// returns a pointer to the output there; the model keeps what Backward needs.
func (mp *ModelPointer) Forward(x *Pointer) (*Pointer, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	out := newID()
	if _, err := mp.worker.exec([]command{{Op: opForward, A: mp.id, B: x.id, Out: out}}); err != nil {
		return nil, err
	}
	return &Pointer{worker: mp.worker, id: out}, nil
}

// TrainTop runs one SGD step of a segment that carries the loss, on the
// input and labels x and labels point to (on the model's worker). It returns
// a pointer to the gradient at the input and the batch metrics.
func (mp *ModelPointer) TrainTop(x, labels *Pointer) (*Pointer, nn.Metrics, error) {
	if err := x.check(); err != nil {
		return nil, nn.Metrics{}, err
	}
	if err := labels.check(); err != nil {
		return nil, nn.Metrics{}, err
	}
	out := newID()
	res, err := mp.worker.exec([]command{{Op: opTrainTop, A: mp.id, B: x.id, C: labels.id, Out: out}})
	if err != nil {
		return nil, nn.Metrics{}, err
	}
	return &Pointer{worker: mp.worker, id: out}, *res[0].Metrics, nil
}

// BackwardStep back-propagates the gradient grad points to through the last
// Forward and applies SGD (the step the original notebook left commented
// out). If needInputGrad it returns a pointer to the gradient at the
// segment's input, otherwise nil.
func (mp *ModelPointer) BackwardStep(grad *Pointer, needInputGrad bool) (*Pointer, error) {
	if err := grad.check(); err != nil {
		return nil, err
	}
	var out ObjectID
	if needInputGrad {
		out = newID()
	}
	if _, err := mp.worker.exec([]command{{Op: opBackwardStep, A: mp.id, B: grad.id, Out: out, Grad: needInputGrad}}); err != nil {
		return nil, err
	}
	if !needInputGrad {
		return nil, nil
	}
	return &Pointer{worker: mp.worker, id: out}, nil
}
