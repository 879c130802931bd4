package split

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/internal/wire"
	"github.com/ppml-go/ppml/pkg/nn"
)

// The wire format is one ZeroMQ frame per request and per reply, little
// endian, with unsigned varints for counts and sizes:
//
//	request: "PS" version=3, id(8), timeout (milliseconds), n, n × command
//	command: op(1) out(8) a(8) b(8) c(8) flags(1), then by op:
//	         put, deliver: tensor; newModel: spec, tensor (the flat weights);
//	         setLR: rate(8, float64 bits); send: peer address (string)
//	tensor:  dtype(1) rank(1) rank × dim, raw data
//	spec:    inputDim, n, n × layer, loss(1), learningRate(8, float64 bits)
//	layer:   kind(1), units, activation(1), size, rank, rank × dim (nn.Layer's fields)
//	reply:   "PS" version=3, id(8) of the request, status(1); status 0: n, n × result;
//	         status 1, 2, 3: error string (2: a timeout, 3: given up)
//	result:  parts(1, bit set of: 1 tensor, 2 metrics, 4 objects, 8 text, 16 sent), then the parts present in that order:
//	         tensor; metrics: loss(8) accuracy(8) count; objects: n, n × (id(8), kind, description); text: string;
//	         sent: the tensor bytes a send put on the transport
//
// A reply carries the id of its request, so a client may have several
// requests in flight on one connection (the worker answers deliveries and
// greetings at once, the rest in order). Decoding never trusts a length: every
// count and size is checked against the bytes that remain and the limits
// below before anything is allocated. Tensors are decoded straight into
// buffers of the compute backend (one copy). The fields are written and
// read with the project's codec, internal/wire; the header and its version
// are split's own.

const (
	wireVersion = 3
	maxRank     = 8
	maxTimeout  = 24 * time.Hour
	maxCommands = 1 << 12
	maxString   = 1 << 16
	maxLayers   = 1 << 10
	maxUnits    = 1 << 24

	// DefaultMaxMessageBytes bounds the size of a request a worker accepts
	// and of a reply a client accepts.
	DefaultMaxMessageBytes = 256 << 20
)

// wire dtypes: the tensor element types that may cross the network.
var wireDTypes = []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32, dtypes.Int64}

func wireDType(d dtypes.DType) (byte, bool) {
	for i, w := range wireDTypes {
		if w == d {
			return byte(i), true
		}
	}
	return 0, false
}

// encoder appends split's fields to a byte slice, on the project's codec.
type encoder struct{ wire.Writer }

func (e *encoder) uvarint(v int)   { e.Uvarint(uint64(v)) }
func (e *encoder) string(s string) { e.uvarint(len(s)); e.B = append(e.B, s...) }

func (e *encoder) tensor(t *tensors.Tensor) error {
	if t == nil || !t.Ok() {
		return errors.New("split: cannot encode a nil or freed tensor")
	}
	s := t.Shape()
	code, ok := wireDType(s.DType)
	if !ok {
		return fmt.Errorf("split: tensors of dtype %s cannot be sent (want one of %v)", s.DType, wireDTypes)
	}
	if s.Rank() > maxRank {
		return fmt.Errorf("split: tensor rank %d exceeds %d", s.Rank(), maxRank)
	}
	e.U8(code)
	e.U8(byte(s.Rank()))
	for _, d := range s.Dimensions {
		e.uvarint(d)
	}
	return t.ConstBytes(func(data []byte) { e.B = append(e.B, data...) })
}

// tensorSize is an upper bound of the encoded size of t.
func tensorSize(t *tensors.Tensor) int {
	if t == nil || !t.Ok() {
		return 0
	}
	return 2 + binary.MaxVarintLen64*t.Shape().Rank() + int(t.Shape().ByteSize())
}

func (e *encoder) spec(s modelSpec) {
	e.uvarint(s.InputDim)
	e.uvarint(len(s.Layers))
	for _, l := range s.Layers {
		e.U8(byte(l.Kind))
		e.uvarint(l.Units)
		e.U8(byte(l.Activation))
		e.uvarint(l.Size)
		e.uvarint(len(l.Shape))
		for _, d := range l.Shape {
			e.uvarint(d)
		}
	}
	e.U8(byte(s.Loss))
	e.F64(s.LearningRate)
}

// errMalformed wraps every decoding error.
var errMalformed = wire.ErrMalformed

// decoder reads split's fields from a byte slice, on the project's codec,
// failing on the first inconsistency.
type decoder struct {
	*wire.Reader
	// reuse, if set, returns a tensor of the shape to decode into (nil if
	// it has none).
	reuse func(shapes.Shape) *tensors.Tensor
}

// failure returns the first decoding error, saying the message is
// malformed, or nil.
func (d *decoder) failure() error {
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	return nil
}

// uvarint reads a count or size that must not exceed limit.
func (d *decoder) uvarint(limit int, what string) int {
	v := d.Uvarint()
	if v > uint64(limit) {
		d.Fail("%s is %d, the limit is %d", what, v, limit)
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	return string(d.Take(d.uvarint(maxString, "string length")))
}

func (d *decoder) tensor() *tensors.Tensor {
	code := d.U8()
	rank := int(d.U8())
	if d.Err() != nil {
		return nil
	}
	if int(code) >= len(wireDTypes) {
		d.Fail("unknown dtype code %d", code)
		return nil
	}
	if rank > maxRank {
		d.Fail("tensor rank %d exceeds %d", rank, maxRank)
		return nil
	}
	dtype := wireDTypes[code]
	dims := make([]int, rank)
	size := 1
	for i := range dims {
		dims[i] = d.uvarint(d.Len(), "dimension")
		if dims[i] > 0 && size > d.Len()/dims[i] {
			d.Fail("tensor of dimensions %v is larger than the message", dims[:i+1])
			return nil
		}
		size *= dims[i]
	}
	data := d.Take(size * dtype.Size())
	if d.Err() != nil {
		return nil
	}
	shape := shapes.Make(dtype, dims...)
	if d.reuse != nil {
		if t := d.reuse(shape); t != nil {
			if err := t.MutableBytes(func(b []byte) { copy(b, data) }); err == nil {
				return t
			}
		}
	}
	t, err := tensors.FromRaw(nn.Backend(), 0, shape, data)
	if err != nil {
		d.Fail("tensor: %v", err)
		return nil
	}
	return t
}

func (d *decoder) spec() modelSpec {
	var s modelSpec
	s.InputDim = d.uvarint(maxUnits, "input dimension")
	n := d.uvarint(maxLayers, "number of layers")
	for range n {
		if d.Err() != nil {
			break
		}
		l := nn.Layer{Kind: nn.LayerKind(d.U8())}
		l.Units = d.uvarint(maxUnits, "units")
		l.Activation = nn.Activation(d.U8())
		l.Size = d.uvarint(maxUnits, "size")
		for range d.uvarint(maxRank, "layer shape rank") {
			l.Shape = append(l.Shape, d.uvarint(maxUnits, "layer shape"))
		}
		s.Layers = append(s.Layers, l)
	}
	s.Loss = nn.Loss(d.U8())
	s.LearningRate = d.F64()
	return s
}

// header writes or checks the message header: "PS", the version and the
// request id.
func (e *encoder) header(id uint64) {
	e.B = append(e.B, 'P', 'S', wireVersion)
	e.U64(id)
}

func (d *decoder) header() (id uint64) {
	h := d.Take(3)
	if d.Err() == nil && (h[0] != 'P' || h[1] != 'S' || h[2] != wireVersion) {
		d.Fail("bad header % x (want \"PS\" version %d)", h, wireVersion)
	}
	return d.U64()
}

// encodeRequest serialises a request, appending to buf (which may be nil).
func encodeRequest(buf []byte, r request) ([]byte, error) {
	size := 64
	for _, c := range r.cmds {
		size += 64 + len(c.Peer) + tensorSize(c.Tensor)
		if c.Spec != nil {
			size += 32
			for _, l := range c.Spec.Layers {
				size += 4*binary.MaxVarintLen64 + 2 + binary.MaxVarintLen64*len(l.Shape)
			}
		}
	}
	e := &encoder{wire.Writer{B: slices.Grow(buf[:0], size)}}
	e.header(r.id)
	e.uvarint(int(min(max(r.timeout, 0), maxTimeout) / time.Millisecond))
	e.uvarint(len(r.cmds))
	for i, c := range r.cmds {
		e.U8(byte(c.Op))
		e.U64(uint64(c.Out))
		e.U64(uint64(c.A))
		e.U64(uint64(c.B))
		e.U64(uint64(c.C))
		e.U8(c.flags())
		switch c.Op {
		case opPut, opDeliver:
			if err := e.tensor(c.Tensor); err != nil {
				return nil, fmt.Errorf("command %d: %w", i, err)
			}
		case opNewModel:
			e.spec(*c.Spec)
			if err := e.tensor(c.Tensor); err != nil {
				return nil, fmt.Errorf("command %d: %w", i, err)
			}
		case opSetLR:
			e.F64(c.Rate)
		case opSend:
			if c.Peer == "" || len(c.Peer) > maxString {
				return nil, fmt.Errorf("command %d: send needs a peer address of at most %d bytes", i, maxString)
			}
			e.string(c.Peer)
		}
	}
	return e.B, nil
}

// decodeRequest parses a request, decoding tensors into those reuse gives
// (reuse may be nil). When the header was readable, the returned request
// carries its id even if the rest is malformed.
func decodeRequest(b []byte, reuse func(shapes.Shape) *tensors.Tensor) (request, error) {
	d := &decoder{Reader: wire.NewReader(b), reuse: reuse}
	var r request
	r.id = d.header()
	r.timeout = time.Duration(d.uvarint(int(maxTimeout/time.Millisecond), "timeout")) * time.Millisecond
	n := d.uvarint(maxCommands, "number of commands")
	r.cmds = make([]command, 0, min(n, 64))
	for range n {
		if d.Err() != nil {
			break
		}
		var c command
		c.Op = op(d.U8())
		c.Out = ObjectID(d.U64())
		c.A = ObjectID(d.U64())
		c.B = ObjectID(d.U64())
		c.C = ObjectID(d.U64())
		c.setFlags(d.U8())
		switch c.Op {
		case opPut, opDeliver:
			c.Tensor = d.tensor()
		case opNewModel:
			s := d.spec()
			c.Spec = &s
			c.Tensor = d.tensor()
		case opSetLR:
			c.Rate = d.F64()
		case opSend:
			c.Peer = d.string()
			if d.Err() == nil && c.Peer == "" {
				d.Fail("send without a peer address")
			}
		}
		if d.Err() == nil && !c.Op.valid() {
			d.Fail("unknown operation %d", c.Op)
		}
		r.cmds = append(r.cmds, c)
	}
	d.Finish()
	if d.Err() != nil {
		r.cmds = nil
		return r, d.failure()
	}
	return r, nil
}

// result parts on the wire.
const (
	partTensor byte = 1 << iota
	partMetrics
	partObjects
	partText
	partSent
)

// encodeReply serialises the results of request id, or its error,
// appending to buf (which may be nil).
func encodeReply(buf []byte, id uint64, results []result, failure error) ([]byte, error) {
	size := 64
	for _, r := range results {
		size += 64 + tensorSize(r.Tensor) + len(r.Text)
		for _, o := range r.Objects {
			size += 32 + len(o.Kind) + len(o.Description)
		}
	}
	e := &encoder{wire.Writer{B: slices.Grow(buf[:0], size)}}
	e.header(id)
	if failure != nil {
		switch {
		case errors.Is(failure, ErrTimeout):
			e.U8(statusTimeout)
		case errors.Is(failure, errAborted):
			e.U8(statusAborted)
		default:
			e.U8(statusError)
		}
		msg := failure.Error()
		if len(msg) > maxString {
			msg = msg[:maxString]
		}
		e.string(msg)
		return e.B, nil
	}
	e.U8(0)
	e.uvarint(len(results))
	for _, r := range results {
		var parts byte
		if r.Tensor != nil {
			parts |= partTensor
		}
		if r.Metrics != nil {
			parts |= partMetrics
		}
		if r.Objects != nil {
			parts |= partObjects
		}
		if r.Text != "" {
			parts |= partText
		}
		if r.Sent != 0 {
			parts |= partSent
		}
		e.U8(parts)
		if r.Tensor != nil {
			if err := e.tensor(r.Tensor); err != nil {
				return nil, err
			}
		}
		if r.Metrics != nil {
			e.F64(r.Metrics.Loss)
			e.F64(r.Metrics.Accuracy)
			e.uvarint(r.Metrics.Count)
		}
		if r.Objects != nil {
			e.uvarint(len(r.Objects))
			for _, o := range r.Objects {
				e.U64(uint64(o.ID))
				e.string(o.Kind)
				e.string(o.Description)
			}
		}
		if r.Text != "" {
			e.string(r.Text)
		}
		if r.Sent != 0 {
			e.uvarint(int(r.Sent))
		}
	}
	return e.B, nil
}

// Error statuses of a reply: the kinds of error a client can test for.
const (
	statusError   = 1
	statusTimeout = 2
	statusAborted = 3
)

// remoteError is an error reported by a worker; it wraps ErrTimeout or
// errAborted if the worker's error did.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// decodeReply parses a reply to request id; a worker's error comes back as
// a remoteError.
func decodeReply(b []byte) (id uint64, _ []result, _ error) {
	d := &decoder{Reader: wire.NewReader(b)}
	id = d.header()
	status := d.U8()
	if d.Err() == nil && status >= statusError && status <= statusAborted {
		msg := d.string()
		d.Finish()
		if d.Err() != nil {
			return id, nil, d.failure()
		}
		re := &remoteError{msg: msg}
		switch status {
		case statusTimeout:
			re.kind = ErrTimeout
		case statusAborted:
			re.kind = errAborted
		}
		return id, nil, re
	}
	if d.Err() == nil && status != 0 {
		d.Fail("unknown reply status %d", status)
	}
	n := d.uvarint(maxCommands, "number of results")
	results := make([]result, 0, min(n, 64))
	for range n {
		if d.Err() != nil {
			break
		}
		var r result
		parts := d.U8()
		if parts >= partSent<<1 {
			d.Fail("unknown result parts %#x", parts)
		}
		if parts&partTensor != 0 {
			r.Tensor = d.tensor()
		}
		if parts&partMetrics != 0 {
			r.Metrics = &nn.Metrics{Loss: d.F64(), Accuracy: d.F64(), Count: d.uvarint(math.MaxInt32, "count")}
		}
		if parts&partObjects != 0 {
			k := d.uvarint(d.Len(), "number of objects")
			r.Objects = make([]ObjectInfo, 0, min(k, 64))
			for range k {
				if d.Err() != nil {
					break
				}
				r.Objects = append(r.Objects, ObjectInfo{ID: ObjectID(d.U64()), Kind: d.string(), Description: d.string()})
			}
		}
		if parts&partText != 0 {
			r.Text = d.string()
		}
		if parts&partSent != 0 {
			r.Sent = int64(d.uvarint(math.MaxInt64, "sent bytes"))
		}
		results = append(results, r)
	}
	d.Finish()
	if d.Err() != nil {
		return id, nil, d.failure()
	}
	return id, results, nil
}
