package split

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

// ObjectID names an object held by a worker. Senders choose ids at random,
// as PySyft did, so a batch of commands can refer to objects it creates.
type ObjectID uint64

// newID draws a fresh non-zero object id.
func newID() ObjectID {
	for {
		if id := ObjectID(rand.Uint64()); id != 0 {
			return id
		}
	}
}

// ObjectInfo describes an object held by a worker.
type ObjectInfo struct {
	ID          ObjectID
	Kind        string // "tensor" or "model"
	Description string // shape and dtype, or the model's layers
}

// String formats the object like PySyft's _objects listing.
func (o ObjectInfo) String() string { return fmt.Sprintf("%d: %s %s", o.ID, o.Kind, o.Description) }

// Worker holds tensors and model segments by id and runs operations on them.
// A VirtualWorker lives in this process; a RemoteWorker talks to a `ppml
// worker` process. Both behave the same.
type Worker interface {
	// ID is the worker's name, as in sy.VirtualWorker(hook, id="alice").
	ID() string
	// Objects lists the objects the worker holds, sorted by id.
	Objects() ([]ObjectInfo, error)
	// Close releases the connection (remote) or the objects (virtual).
	Close() error

	// exec runs a batch of commands in order, in one round trip, stopping
	// at the first error.
	exec(cmds []command) ([]result, error)
}

// op is the operation of a command.
type op uint8

const (
	opInvalid      op = iota
	opHello           // -> Text: the worker's id
	opList            // -> Objects
	opPut             // Tensor -> store as Out
	opGet             // A -> Tensor (deleted from the store if flagDelete)
	opDelete          // A
	opAdd             // A + B -> Out
	opSub             // A - B -> Out
	opMul             // A * B (element-wise) -> Out
	opMatMul          // A · B -> Out
	opSum             // sum of all elements of A -> Out
	opNewModel        // Spec, Tensor (flat weights) -> model Out
	opWeights         // model A -> Tensor (flat weights)
	opForward         // model A, input B -> output (Out, or returned if Out is 0); keeps what backward needs
	opPredict         // like opForward without keeping anything
	opTrainTop        // model A, input B, labels C -> input gradient (Out, or returned if Out is 0) and metrics
	opBackwardStep    // model A, gradient B -> input gradient (Out, or returned if Out is 0; none unless flagInputGrad)
	opSetLR           // model A, learning rate Rate
	numOps
)

func (o op) valid() bool { return o > opInvalid && o < numOps }

var opNames = [...]string{"invalid", "hello", "list", "put", "get", "delete", "add", "sub", "mul", "matmul", "sum",
	"new model", "weights", "forward", "predict", "train top", "backward step", "set learning rate"}

func (o op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// command is one operation for a worker. Inputs A, B and C are object ids;
// outputs are stored under Out, or returned when Out is 0 (for the operations
// that say so).
type command struct {
	Op      op
	Out     ObjectID
	A, B, C ObjectID
	Delete  bool // opGet: delete after reading; opForward, opTrainTop, opBackwardStep: consume the inputs
	Grad    bool // opBackwardStep: compute the gradient at the segment's input
	Tensor  *tensors.Tensor
	Spec    *modelSpec
	Rate    float64 // opSetLR
}

func (c command) flags() byte {
	var f byte
	if c.Delete {
		f |= 1
	}
	if c.Grad {
		f |= 2
	}
	return f
}

func (c *command) setFlags(f byte) { c.Delete, c.Grad = f&1 != 0, f&2 != 0 }

// result is the answer to one command.
type result struct {
	Tensor  *tensors.Tensor
	Metrics *nn.Metrics
	Objects []ObjectInfo
	Text    string
}

// modelSpec describes a model segment to create on a worker.
type modelSpec struct {
	InputDim     int
	Layers       []nn.Layer
	Loss         nn.Loss
	LearningRate float64
}

// VirtualWorker is a worker in this process, like PySyft's
// sy.VirtualWorker: its objects can be listed, and pointers to them behave
// exactly as pointers to a remote worker's objects. It is safe for
// concurrent use.
type VirtualWorker struct {
	id string

	mu      sync.Mutex
	objects map[ObjectID]any // *tensors.Tensor or *nn.Model
}

// NewVirtualWorker creates an empty in-process worker named id.
func NewVirtualWorker(id string) *VirtualWorker {
	return &VirtualWorker{id: id, objects: map[ObjectID]any{}}
}

// ID returns the worker's name.
func (w *VirtualWorker) ID() string { return w.id }

// String names the worker like PySyft's repr.
func (w *VirtualWorker) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("<VirtualWorker id:%s #objects:%d>", w.id, len(w.objects))
}

// Objects lists the worker's objects, sorted by id.
func (w *VirtualWorker) Objects() ([]ObjectInfo, error) {
	res, err := w.exec([]command{{Op: opList}})
	if err != nil {
		return nil, err
	}
	return res[0].Objects, nil
}

// Close drops all objects.
func (w *VirtualWorker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.objects = map[ObjectID]any{}
	return nil
}

// exec runs the commands in order under the worker's lock.
func (w *VirtualWorker) exec(cmds []command) ([]result, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	results := make([]result, 0, len(cmds))
	for i, c := range cmds {
		r, err := w.run(c)
		if err != nil {
			if len(cmds) > 1 {
				return nil, fmt.Errorf("worker %s: command %d (%v): %w", w.id, i, c.Op, err)
			}
			return nil, fmt.Errorf("worker %s: %v: %w", w.id, c.Op, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// ErrNoObject is returned for an id the worker does not hold.
var ErrNoObject = errors.New("no such object")

func (w *VirtualWorker) tensor(id ObjectID) (*tensors.Tensor, error) {
	o, ok := w.objects[id]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrNoObject, id)
	}
	t, ok := o.(*tensors.Tensor)
	if !ok {
		return nil, fmt.Errorf("object %d is a %T, not a tensor", id, o)
	}
	return t, nil
}

func (w *VirtualWorker) model(id ObjectID) (*nn.Model, error) {
	o, ok := w.objects[id]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrNoObject, id)
	}
	m, ok := o.(*nn.Model)
	if !ok {
		return nil, fmt.Errorf("object %d is a %T, not a model", id, o)
	}
	return m, nil
}

// store keeps o under id, or returns it as the result when id is 0.
func (w *VirtualWorker) store(id ObjectID, t *tensors.Tensor) (result, error) {
	if id == 0 {
		return result{Tensor: t}, nil
	}
	if _, dup := w.objects[id]; dup {
		return result{}, fmt.Errorf("object %d already exists", id)
	}
	w.objects[id] = t
	return result{}, nil
}

// consume deletes the ids from the store if asked.
func (w *VirtualWorker) consume(c command, ids ...ObjectID) {
	if c.Delete {
		for _, id := range ids {
			delete(w.objects, id)
		}
	}
}

func (w *VirtualWorker) run(c command) (result, error) {
	switch c.Op {
	case opHello:
		return result{Text: w.id}, nil
	case opList:
		infos := make([]ObjectInfo, 0, len(w.objects))
		for id, o := range w.objects {
			info := ObjectInfo{ID: id}
			switch o := o.(type) {
			case *tensors.Tensor:
				info.Kind, info.Description = "tensor", o.Shape().String()
			case *nn.Model:
				info.Kind, info.Description = "model", o.String()
			}
			infos = append(infos, info)
		}
		slices.SortFunc(infos, func(a, b ObjectInfo) int { return compareIDs(a.ID, b.ID) })
		return result{Objects: infos}, nil
	case opPut:
		if c.Out == 0 {
			return result{}, errors.New("put needs a non-zero id")
		}
		if c.Tensor == nil {
			return result{}, errors.New("put without a tensor")
		}
		return w.store(c.Out, c.Tensor)
	case opGet:
		t, err := w.tensor(c.A)
		if err != nil {
			return result{}, err
		}
		w.consume(c, c.A)
		return result{Tensor: t}, nil
	case opDelete:
		if _, ok := w.objects[c.A]; !ok {
			return result{}, fmt.Errorf("%w %d", ErrNoObject, c.A)
		}
		delete(w.objects, c.A)
		return result{}, nil
	case opAdd, opSub, opMul, opMatMul:
		a, err := w.tensor(c.A)
		if err != nil {
			return result{}, err
		}
		b, err := w.tensor(c.B)
		if err != nil {
			return result{}, err
		}
		out, err := binaryOp(c.Op, a, b)
		if err != nil {
			return result{}, err
		}
		return w.store(c.Out, out)
	case opSum:
		a, err := w.tensor(c.A)
		if err != nil {
			return result{}, err
		}
		out, err := sumOp(a)
		if err != nil {
			return result{}, err
		}
		return w.store(c.Out, out)
	case opNewModel:
		return w.newModel(c)
	case opWeights:
		m, err := w.model(c.A)
		if err != nil {
			return result{}, err
		}
		flat, err := m.Weights()
		if err != nil {
			return result{}, err
		}
		return result{Tensor: tensors.FromFlatDataAndDimensions(flat, len(flat))}, nil
	case opSetLR:
		m, err := w.model(c.A)
		if err != nil {
			return result{}, err
		}
		return result{}, m.Compile(m.Loss(), nn.SGD{LearningRate: c.Rate})
	case opForward, opPredict:
		m, err := w.model(c.A)
		if err != nil {
			return result{}, err
		}
		x, err := w.tensor(c.B)
		if err != nil {
			return result{}, err
		}
		var out *tensors.Tensor
		if c.Op == opForward {
			out, err = m.Forward(x)
		} else {
			out, err = m.PredictTensor(x)
		}
		if err != nil {
			return result{}, err
		}
		w.consume(c, c.B)
		return w.store(c.Out, out)
	case opTrainTop:
		return w.trainTop(c)
	case opBackwardStep:
		m, err := w.model(c.A)
		if err != nil {
			return result{}, err
		}
		g, err := w.tensor(c.B)
		if err != nil {
			return result{}, err
		}
		dx, err := m.BackwardStep(g, c.Grad)
		if err != nil {
			return result{}, err
		}
		w.consume(c, c.B)
		if dx == nil {
			return result{}, nil
		}
		return w.store(c.Out, dx)
	}
	return result{}, fmt.Errorf("unknown operation %d", c.Op)
}

// trainTop runs opTrainTop: model A, input B, labels C.
func (w *VirtualWorker) trainTop(c command) (result, error) {
	m, err := w.model(c.A)
	if err != nil {
		return result{}, err
	}
	x, err := w.tensor(c.B)
	if err != nil {
		return result{}, err
	}
	lt, err := w.tensor(c.C)
	if err != nil {
		return result{}, fmt.Errorf("labels: %w", err)
	}
	labels, err := labelsOf(lt)
	if err != nil {
		return result{}, err
	}
	dx, mt, err := m.TrainTop(x, labels)
	if err != nil {
		return result{}, err
	}
	w.consume(c, c.B, c.C)
	r, err := w.store(c.Out, dx)
	r.Metrics = &mt
	return r, err
}

// labelsOf reads a rank-1 int32 (or int64) tensor of class labels.
func labelsOf(t *tensors.Tensor) ([]int32, error) {
	if t.Shape().Rank() != 1 {
		return nil, fmt.Errorf("labels have shape %s, want a vector", t.Shape())
	}
	switch v := t.Value().(type) {
	case []int32:
		return v, nil
	case []int64:
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("labels have dtype %s, want Int32", t.Shape().DType)
}

// newModel runs opNewModel.
func (w *VirtualWorker) newModel(c command) (result, error) {
	if c.Spec == nil || c.Tensor == nil {
		return result{}, errors.New("new model without a specification or weights")
	}
	if _, dup := w.objects[c.Out]; dup || c.Out == 0 {
		return result{}, fmt.Errorf("cannot create model %d: id zero or in use", c.Out)
	}
	m, err := nn.Sequential(c.Spec.InputDim, c.Spec.Layers...)
	if err != nil {
		return result{}, err
	}
	if err := m.Compile(c.Spec.Loss, nn.SGD{LearningRate: c.Spec.LearningRate}); err != nil {
		return result{}, err
	}
	flat, ok := c.Tensor.Value().([]float32)
	if !ok {
		return result{}, fmt.Errorf("model weights have shape %s, want a float32 vector", c.Tensor.Shape())
	}
	if err := m.SetWeights(flat); err != nil {
		return result{}, err
	}
	w.objects[c.Out] = m
	return result{}, nil
}

func compareIDs(a, b ObjectID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pointerOps are the compiled element-wise and matrix operations run on
// workers' tensors, one graph.Exec each (compiled once per shape).
var pointerOps = sync.OnceValue(func() map[op]*graph.Exec {
	b := nn.Backend()
	return map[op]*graph.Exec{
		opAdd:    graph.MustNewExec(b, graph.Add),
		opSub:    graph.MustNewExec(b, graph.Sub),
		opMul:    graph.MustNewExec(b, graph.Mul),
		opMatMul: graph.MustNewExec(b, graph.MatMul),
		opSum:    graph.MustNewExec(b, func(x *graph.Node) *graph.Node { return graph.ReduceAllSum(x) }),
	}
})

func binaryOp(o op, a, b *tensors.Tensor) (*tensors.Tensor, error) {
	if a.Shape().DType != b.Shape().DType {
		return nil, fmt.Errorf("%v of %s and %s: dtypes differ", o, a.Shape(), b.Shape())
	}
	if o != opMatMul && !a.Shape().Equal(b.Shape()) && !a.Shape().IsScalar() && !b.Shape().IsScalar() {
		return nil, fmt.Errorf("%v of %s and %s: shapes differ", o, a.Shape(), b.Shape())
	}
	if o == opMatMul && (a.Shape().Rank() != 2 || b.Shape().Rank() != 2 || a.Shape().Dimensions[1] != b.Shape().Dimensions[0]) {
		return nil, fmt.Errorf("matmul of %s and %s: want [n k]·[k m]", a.Shape(), b.Shape())
	}
	out, err := pointerOps()[o].Exec1(a, b)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", o, err)
	}
	return out, nil
}

func sumOp(a *tensors.Tensor) (*tensors.Tensor, error) {
	out, err := pointerOps()[opSum].Exec1(a)
	if err != nil {
		return nil, fmt.Errorf("sum: %w", err)
	}
	return out, nil
}
