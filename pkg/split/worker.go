package split

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gomlx/compute/shapes"
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
	// sends to other workers. Closing cancel gives the request up: its
	// awaits and sends fail (in process), or the wait for its reply does
	// (remote).
	run(r request, cancel <-chan struct{}) ([]result, error)
}

// request is a batch of commands with what bounds its waits.
type request struct {
	id      uint64 // set by the RemoteWorker that sends it
	timeout time.Duration
	decoded bool // the tensors of the commands were decoded from the wire: the worker owns them
	posted  bool // sent by RemoteWorker.post
	cmds    []command
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
	opSend            // tensor A -> the worker at Peer, stored there as Out (deleted here if flagDelete)
	opDeliver         // Tensor -> store as Out at once, even while a request waits (what opSend sends)
	opAwait           // wait until object A exists (delivered by a peer), within the request's timeout
	numOps
)

func (o op) valid() bool { return o > opInvalid && o < numOps }

// immediate reports whether the operation is run as soon as it arrives,
// not after the requests before it: what unblocks waiting requests (and
// the greeting of a worker that connects to deliver).
func (o op) immediate() bool { return o == opDeliver || o == opHello }

var opNames = [...]string{"invalid", "hello", "list", "put", "get", "delete", "add", "sub", "mul", "matmul", "sum",
	"new model", "weights", "forward", "predict", "train top", "backward step", "set learning rate",
	"send", "deliver", "await"}

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
	Delete  bool // opGet, opSend: delete after reading; opForward, opTrainTop, opBackwardStep: consume the inputs
	Grad    bool // opBackwardStep: compute the gradient at the segment's input
	Tensor  *tensors.Tensor
	Spec    *modelSpec
	Rate    float64   // opSetLR
	Peer    string    // opSend: the address of the receiving worker
	to      Worker    // opSend from an in-process worker: the receiving worker itself (not sent on the wire)
	model   *nn.Model // opNewModel to an in-process worker: the model itself (not sent on the wire)
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
	Sent    int64 // opSend: the tensor bytes put on the transport
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
// concurrent use: batches of commands run one at a time, while deliveries
// from other workers are stored at once (a batch may be waiting for them).
type VirtualWorker struct {
	id string

	execMu sync.Mutex // held while a batch runs

	mu      sync.Mutex
	objects map[ObjectID]any // *tensors.Tensor or *nn.Model
	waiting map[ObjectID]chan struct{}
	peers   map[string]*RemoteWorker // connections opened by opSend, by address

	// Tensors this worker owns (decoded from the wire, or gradients it
	// computed) go back to the backend's buffer pool once no object and no
	// model needs them: no one else refers to them. A model keeps its
	// forward input and output until its backward step.
	owned   map[*tensors.Tensor]bool
	outputs map[*tensors.Tensor]*nn.Model   // the output of each model's last Forward
	kept    map[*nn.Model][]*tensors.Tensor // owned tensors to free after the model's next step
	// Freed tensors that the backend does not pool (those that tensors
	// decoded from the wire are copied into), by shape, for reuse.
	spare map[string][]*tensors.Tensor
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
	return w.run(request{cmds: cmds}, nil)
}

// errAborted is returned for the requests given up.
var errAborted = errors.New("request given up")

// run runs the request's commands in order, stopping at the first error or
// when cancel is closed. A request of only deliveries and greetings runs at
// once; any other waits for the batch before it.
func (w *VirtualWorker) run(r request, cancel <-chan struct{}) ([]result, error) {
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
		case <-cancel:
		default:
			res, err = w.do(c, r, cancel)
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

// await waits until object id exists, the timeout passes or cancel is
// closed.
func (w *VirtualWorker) await(id ObjectID, timeout time.Duration, cancel <-chan struct{}) error {
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
	case <-cancel:
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
func (w *VirtualWorker) send(c command, r request, cancel <-chan struct{}) (int64, error) {
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
		err = rw.post(deliver, cancel)
	} else {
		_, err = to.run(deliver, cancel)
	}
	if err != nil {
		return 0, fmt.Errorf("sending object %d to %s: %w", c.A, to.ID(), err)
	}
	sent := t.Shape().ByteSize()
	w.consume(c, c.A)
	if _, remote := to.(*RemoteWorker); remote && c.Delete {
		w.sent(t)
	}
	return sent, nil
}

// own records that the worker may free t once nothing needs it.
func (w *VirtualWorker) own(t *tensors.Tensor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.owned == nil {
		w.owned = map[*tensors.Tensor]bool{}
	}
	w.owned[t] = true
}

// release frees t if the worker owns it and no model keeps it; the caller
// has removed it from the store.
func (w *VirtualWorker) release(t *tensors.Tensor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked(t)
}

func (w *VirtualWorker) releaseLocked(t *tensors.Tensor) {
	if !w.owned[t] {
		return
	}
	if m, ok := w.outputs[t]; ok {
		w.kept[m] = append(w.kept[m], t) // freed after m's next step
		return
	}
	delete(w.owned, t)
	if t.IsShared() {
		key := t.Shape().String()
		if w.spare == nil {
			w.spare = map[string][]*tensors.Tensor{}
		}
		if len(w.spare[key]) < maxSpare {
			w.spare[key] = append(w.spare[key], t)
			return
		}
	}
	t.FinalizeAll()
}

// maxSpare bounds the freed tensors of one shape a worker keeps for reuse.
const maxSpare = 4

// reuse returns a freed tensor of the given shape, or nil: decoding copies
// into it.
func (w *VirtualWorker) reuse(s shapes.Shape) *tensors.Tensor {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := s.String()
	spare := w.spare[key]
	if len(spare) == 0 {
		return nil
	}
	t := spare[len(spare)-1]
	w.spare[key] = spare[:len(spare)-1]
	return t
}

// keep records what a model's Forward keeps for its backward step: its
// input x (freed after the step if consumed) and its output.
func (w *VirtualWorker) keep(m *nn.Model, x, out *tensors.Tensor, consumed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.outputs == nil {
		w.outputs, w.kept = map[*tensors.Tensor]*nn.Model{}, map[*nn.Model][]*tensors.Tensor{}
	}
	w.outputs[out] = m
	if consumed && w.owned[x] {
		w.kept[m] = append(w.kept[m], x)
	}
}

// stepped frees what model m kept for a backward step that is done (or
// replaced by a new Forward).
func (w *VirtualWorker) stepped(m *nn.Model) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, owner := range w.outputs {
		if owner == m {
			delete(w.outputs, t)
		}
	}
	kept := w.kept[m]
	delete(w.kept, m)
	for _, t := range kept {
		w.releaseLocked(t)
	}
}

// sent is called when t, deleted from the store, went to another process
// as a copy: the worker owns t now.
func (w *VirtualWorker) sent(t *tensors.Tensor) {
	w.own(t)
	w.release(t)
}

func (w *VirtualWorker) do(c command, r request, cancel <-chan struct{}) (result, error) {
	switch c.Op {
	case opHello:
		return result{Text: w.id}, nil
	case opList:
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
		slices.SortFunc(infos, func(a, b ObjectInfo) int { return compareIDs(a.ID, b.ID) })
		return result{Objects: infos}, nil
	case opPut, opDeliver:
		if c.Out == 0 {
			return result{}, fmt.Errorf("%v needs a non-zero id", c.Op)
		}
		if c.Tensor == nil {
			return result{}, fmt.Errorf("%v without a tensor", c.Op)
		}
		if r.decoded {
			w.own(c.Tensor)
		}
		return w.store(c.Out, c.Tensor)
	case opAwait:
		return result{}, w.await(c.A, r.timeout, cancel)
	case opSend:
		sent, err := w.send(c, r, cancel)
		return result{Sent: sent}, err
	case opGet:
		t, err := w.tensor(c.A)
		if err != nil {
			return result{}, err
		}
		w.consume(c, c.A)
		return result{Tensor: t}, nil
	case opDelete:
		if _, ok := w.object(c.A); !ok {
			return result{}, fmt.Errorf("%w %d", ErrNoObject, c.A)
		}
		w.remove(c.A)
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
		if c.Op == opForward {
			w.stepped(m)
			w.keep(m, x, out, c.Delete)
		} else if c.Delete {
			w.release(x)
		}
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
		if c.Delete {
			w.release(g)
		}
		w.stepped(m)
		if dx == nil {
			return result{}, nil
		}
		w.own(dx)
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
	if c.Delete {
		w.release(x)
		w.release(lt)
	}
	w.own(dx)
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
