package split

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

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
	// run is exec of a request whose timeout bounds the awaits and the
	// sends to other workers. When ctx is done the request is given up:
	// its awaits and sends fail (in process), or the wait for its reply
	// does (remote).
	run(ctx context.Context, r request) ([]result, error)
}

// VirtualWorker is a worker in this process, like PySyft's
// sy.VirtualWorker: its objects can be listed, and pointers to them behave
// exactly as pointers to a remote worker's objects. It is safe for
// concurrent use: batches of commands run one at a time, while deliveries
// from other workers are stored at once (a batch may be waiting for them).
type VirtualWorker struct {
	id string

	execMu sync.Mutex // held while a batch runs

	mu      sync.Mutex
	objects map[ObjectID]any // *tensors.Tensor or *nn.Model
	waiting map[ObjectID]chan struct{}
	peers   map[string]*RemoteWorker // connections opened by opSend, by address

	life lifetimes // the tensors the worker owns
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

// Close drops all objects and the connections to other workers that sends
// opened.
func (w *VirtualWorker) Close() error {
	w.mu.Lock()
	peers := w.peers
	w.objects, w.peers = map[ObjectID]any{}, nil
	w.mu.Unlock()
	for _, p := range peers {
		_ = p.Close()
	}
	return nil
}

// exec runs the commands in order.
func (w *VirtualWorker) exec(cmds []command) ([]result, error) {
	return w.run(context.Background(), request{cmds: cmds})
}

// errAborted is returned for the requests given up.
var errAborted = errors.New("request given up")

// run runs the request's commands in order, stopping at the first error or
// when ctx is done. A request of only deliveries and greetings runs at
// once; any other waits for the batch before it.
func (w *VirtualWorker) run(ctx context.Context, r request) ([]result, error) {
	immediate := len(r.cmds) > 0
	for _, c := range r.cmds {
		immediate = immediate && c.Op.immediate()
	}
	if !immediate {
		w.execMu.Lock()
		defer w.execMu.Unlock()
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	results := make([]result, 0, len(r.cmds))
	for i, c := range r.cmds {
		var res result
		err := errAborted
		select {
		case <-ctx.Done():
		default:
			res, err = w.do(ctx, c, r)
		}
		if err != nil {
			if len(r.cmds) > 1 {
				return nil, fmt.Errorf("worker %s: command %d (%v): %w", w.id, i, c.Op, err)
			}
			return nil, fmt.Errorf("worker %s: %v: %w", w.id, c.Op, err)
		}
		results = append(results, res)
	}
	return results, nil
}

// ErrNoObject is returned for an id the worker does not hold.
var ErrNoObject = errors.New("no such object")

func (w *VirtualWorker) object(id ObjectID) (any, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.objects[id]
	return o, ok
}

func (w *VirtualWorker) tensor(id ObjectID) (*tensors.Tensor, error) {
	return objectAs[*tensors.Tensor](w, id, "tensor")
}

func (w *VirtualWorker) model(id ObjectID) (*nn.Model, error) {
	return objectAs[*nn.Model](w, id, "model")
}

// modelAndTensor returns the operands of a model operation: model A and
// tensor B (its input or gradient).
func (w *VirtualWorker) modelAndTensor(c command) (*nn.Model, *tensors.Tensor, error) {
	m, err := w.model(c.A)
	if err != nil {
		return nil, nil, err
	}
	t, err := w.tensor(c.B)
	if err != nil {
		return nil, nil, err
	}
	return m, t, nil
}

// objectAs returns the object id of w as a T, or an error naming what it
// is instead (kind names T for people).
func objectAs[T any](w *VirtualWorker, id ObjectID, kind string) (T, error) {
	var zero T
	o, ok := w.object(id)
	if !ok {
		return zero, fmt.Errorf("%w %d", ErrNoObject, id)
	}
	v, ok := o.(T)
	if !ok {
		return zero, fmt.Errorf("object %d is a %T, not a %s", id, o, kind)
	}
	return v, nil
}

// add stores o under a new id and wakes a request waiting for it.
func (w *VirtualWorker) add(id ObjectID, o any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id == 0 {
		return errors.New("objects need a non-zero id")
	}
	if _, dup := w.objects[id]; dup {
		return fmt.Errorf("object %d already exists", id)
	}
	w.objects[id] = o
	if ch, ok := w.waiting[id]; ok {
		close(ch)
		delete(w.waiting, id)
	}
	return nil
}

// store keeps t under id, or returns it as the result when id is 0.
func (w *VirtualWorker) store(id ObjectID, t *tensors.Tensor) (result, error) {
	if id == 0 {
		return result{Tensor: t}, nil
	}
	return result{}, w.add(id, t)
}

// remove deletes the ids from the store.
func (w *VirtualWorker) remove(ids ...ObjectID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		delete(w.objects, id)
	}
}

// consume deletes the ids from the store if asked.
func (w *VirtualWorker) consume(c command, ids ...ObjectID) {
	if c.Delete {
		w.remove(ids...)
	}
}

// await waits until object id exists, the timeout passes or ctx is done.
func (w *VirtualWorker) await(ctx context.Context, id ObjectID, timeout time.Duration) error {
	w.mu.Lock()
	if _, ok := w.objects[id]; ok {
		w.mu.Unlock()
		return nil
	}
	if w.waiting == nil {
		w.waiting = map[ObjectID]chan struct{}{}
	}
	ch, ok := w.waiting[id]
	if !ok {
		ch = make(chan struct{})
		w.waiting[id] = ch
	}
	w.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for object %d: %w", id, errAborted)
	case <-timer.C:
		return fmt.Errorf("object %d did not arrive: %w within %v", id, ErrTimeout, timeout)
	}
}

// peer returns the connection to the worker at addr, dialling it once.
func (w *VirtualWorker) peer(addr string, timeout time.Duration) (*RemoteWorker, error) {
	w.mu.Lock()
	p, ok := w.peers[addr]
	w.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := Dial(addr, DialOptions{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if q, ok := w.peers[addr]; ok {
		_ = p.Close()
		return q, nil
	}
	if w.peers == nil {
		w.peers = map[string]*RemoteWorker{}
	}
	w.peers[addr] = p
	return p, nil
}

// send runs opSend: tensor A goes to the receiving worker as Out. It
// returns the tensor bytes it put on the transport.
func (w *VirtualWorker) send(ctx context.Context, c command, r request) (int64, error) {
	t, err := w.tensor(c.A)
	if err != nil {
		return 0, err
	}
	to := c.to
	if to == nil {
		p, err := w.peer(c.Peer, r.timeout)
		if err != nil {
			return 0, err
		}
		to = p
	}
	deliver := request{timeout: r.timeout, cmds: []command{{Op: opDeliver, Out: c.Out, Tensor: t}}}
	if rw, ok := to.(*RemoteWorker); ok {
		// Sent without waiting for the answer: the receiver awaits the
		// object, and a failure shows at the next send.
		err = rw.post(ctx, deliver)
	} else {
		_, err = to.run(ctx, deliver)
	}
	if err != nil {
		return 0, fmt.Errorf("sending object %d to %s: %w", c.A, to.ID(), err)
	}
	sent := t.Shape().ByteSize()
	w.consume(c, c.A)
	if _, remote := to.(*RemoteWorker); remote && c.Delete {
		w.life.sent(t)
	}
	return sent, nil
}

// handler runs one operation on a worker.
type handler func(w *VirtualWorker, ctx context.Context, c command, r request) (result, error)

// handlers are the worker's operations, one function each.
var handlers = [numOps]handler{
	opHello:   (*VirtualWorker).hello,
	opList:    (*VirtualWorker).list,
	opPut:     (*VirtualWorker).put,
	opDeliver: (*VirtualWorker).put,
	opAwait: func(w *VirtualWorker, ctx context.Context, c command, r request) (result, error) {
		return result{}, w.await(ctx, c.A, r.timeout)
	},
	opSend:         (*VirtualWorker).sendOp,
	opGet:          (*VirtualWorker).get,
	opDelete:       (*VirtualWorker).delete,
	opAdd:          (*VirtualWorker).binary,
	opSub:          (*VirtualWorker).binary,
	opMul:          (*VirtualWorker).binary,
	opMatMul:       (*VirtualWorker).binary,
	opSum:          (*VirtualWorker).sum,
	opNewModel:     (*VirtualWorker).newModel,
	opWeights:      (*VirtualWorker).weights,
	opSetLR:        (*VirtualWorker).setLR,
	opForward:      (*VirtualWorker).forward,
	opPredict:      (*VirtualWorker).forward,
	opTrainTop:     (*VirtualWorker).trainTop,
	opBackwardStep: (*VirtualWorker).backwardStep,
}

// do runs one command.
func (w *VirtualWorker) do(ctx context.Context, c command, r request) (result, error) {
	if !c.Op.valid() || handlers[c.Op] == nil {
		return result{}, fmt.Errorf("unknown operation %d", c.Op)
	}
	return handlers[c.Op](w, ctx, c, r)
}

// hello runs opHello: the worker's id.
func (w *VirtualWorker) hello(context.Context, command, request) (result, error) {
	return result{Text: w.id}, nil
}

// list runs opList: the objects, sorted by id.
func (w *VirtualWorker) list(context.Context, command, request) (result, error) {
	w.mu.Lock()
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
	w.mu.Unlock()
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return cmp.Compare(a.ID, b.ID) })
	return result{Objects: infos}, nil
}

// put runs opPut and opDeliver: the command's tensor is stored as Out.
func (w *VirtualWorker) put(_ context.Context, c command, r request) (result, error) {
	if c.Out == 0 {
		return result{}, fmt.Errorf("%v needs a non-zero id", c.Op)
	}
	if c.Tensor == nil {
		return result{}, fmt.Errorf("%v without a tensor", c.Op)
	}
	if r.decoded {
		w.life.own(c.Tensor)
	}
	return w.store(c.Out, c.Tensor)
}

// sendOp runs opSend (send), reporting the bytes sent.
func (w *VirtualWorker) sendOp(ctx context.Context, c command, r request) (result, error) {
	sent, err := w.send(ctx, c, r)
	return result{Sent: sent}, err
}

// get runs opGet: tensor A is returned (and deleted if asked).
func (w *VirtualWorker) get(_ context.Context, c command, _ request) (result, error) {
	t, err := w.tensor(c.A)
	if err != nil {
		return result{}, err
	}
	w.consume(c, c.A)
	return result{Tensor: t}, nil
}

// delete runs opDelete.
func (w *VirtualWorker) delete(_ context.Context, c command, _ request) (result, error) {
	if _, ok := w.object(c.A); !ok {
		return result{}, fmt.Errorf("%w %d", ErrNoObject, c.A)
	}
	w.remove(c.A)
	return result{}, nil
}

// binary runs opAdd, opSub, opMul and opMatMul: A op B is stored as Out.
func (w *VirtualWorker) binary(_ context.Context, c command, _ request) (result, error) {
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
}

// sum runs opSum: the sum of A's elements is stored as Out.
func (w *VirtualWorker) sum(_ context.Context, c command, _ request) (result, error) {
	a, err := w.tensor(c.A)
	if err != nil {
		return result{}, err
	}
	out, err := sumOp(a)
	if err != nil {
		return result{}, err
	}
	return w.store(c.Out, out)
}

// weights runs opWeights: model A's flat weights.
func (w *VirtualWorker) weights(_ context.Context, c command, _ request) (result, error) {
	m, err := w.model(c.A)
	if err != nil {
		return result{}, err
	}
	flat, err := m.Weights()
	if err != nil {
		return result{}, err
	}
	return result{Tensor: tensors.FromFlatDataAndDimensions(flat, len(flat))}, nil
}

// setLR runs opSetLR.
func (w *VirtualWorker) setLR(_ context.Context, c command, _ request) (result, error) {
	m, err := w.model(c.A)
	if err != nil {
		return result{}, err
	}
	return result{}, m.Compile(m.Loss(), nn.SGD{LearningRate: c.Rate})
}

// forward runs opForward and opPredict: model A on input B.
func (w *VirtualWorker) forward(_ context.Context, c command, _ request) (result, error) {
	m, x, err := w.modelAndTensor(c)
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
	if c.Op == opForward {
		w.life.stepped(m)
		w.life.keep(m, x, out, c.Delete)
	} else if c.Delete {
		w.life.release(x)
	}
	return w.store(c.Out, out)
}

// backwardStep runs opBackwardStep: model A back-propagates gradient B.
func (w *VirtualWorker) backwardStep(_ context.Context, c command, _ request) (result, error) {
	m, g, err := w.modelAndTensor(c)
	if err != nil {
		return result{}, err
	}
	dx, err := m.BackwardStep(g, c.Grad)
	if err != nil {
		return result{}, err
	}
	w.consume(c, c.B)
	if c.Delete {
		w.life.release(g)
	}
	w.life.stepped(m)
	if dx == nil {
		return result{}, nil
	}
	w.life.own(dx)
	return w.store(c.Out, dx)
}

// trainTop runs opTrainTop: model A, input B, labels C.
func (w *VirtualWorker) trainTop(_ context.Context, c command, _ request) (result, error) {
	m, x, err := w.modelAndTensor(c)
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
	if c.Delete {
		w.life.release(x)
		w.life.release(lt)
	}
	w.life.own(dx)
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
func (w *VirtualWorker) newModel(_ context.Context, c command, _ request) (result, error) {
	if _, dup := w.object(c.Out); dup || c.Out == 0 {
		return result{}, fmt.Errorf("cannot create model %d: id zero or in use", c.Out)
	}
	if c.model != nil {
		return result{}, w.add(c.Out, c.model)
	}
	if c.Spec == nil || c.Tensor == nil {
		return result{}, errors.New("new model without a specification or weights")
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
	return result{}, w.add(c.Out, m)
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
