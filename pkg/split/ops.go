package split

import (
	"fmt"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

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
