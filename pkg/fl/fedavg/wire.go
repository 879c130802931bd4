package fedavg

import (
	"errors"
	"fmt"

	"github.com/ppml-go/ppml/internal/wire"
)

// The wire format of the server–client protocol (package internal/wire).
// Every message is one ZeroMQ frame: a magic byte, a kind byte, then the
// kind's fields, all little-endian: integers as uint32 or uint64, floats as
// IEEE bits, vectors as a uint32 length followed by the values, strings as a
// uint32 length and the bytes.
//
//	hello      client → server   client id
//	welcome    server → client   clients, data seed, heartbeat interval (ms),
//	                             secure aggregation flag [, clip, max weight, threshold]
//	ready      client → server   example count (0 with secure aggregation)
//	train      server → client   round, TrainConfig, global parameters
//	update     client → server   round, weight, seen, loss sum, correct, delta
//	                             (plain aggregation only)
//	secagg     both ways         round, secagg message
//	heartbeat  both ways         (nothing)
//	done       server → client   (nothing): training is over
//	reject     both ways         reason: the peer is dropped or refused
//
// With secure aggregation nothing a client reports crosses the wire outside
// the masked secagg vector: not its example count, loss or accuracy.

const wireMagic = 0xFA

type msgKind byte

const (
	kindHello msgKind = iota + 1
	kindWelcome
	kindReady
	kindTrain
	kindUpdate
	kindSecAgg
	kindHeartbeat
	kindDone
	kindReject
)

var kindNames = [...]string{"", "hello", "welcome", "ready", "train", "update", "secagg", "heartbeat", "done", "reject"}

func (k msgKind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// maxVector bounds the length of a vector on the wire, so that a corrupt
// length cannot make a peer allocate without bound.
const maxVector = 1 << 28

// encoder appends fields to a message.
type encoder struct{ b []byte }

func newMsg(k msgKind) *encoder { return &encoder{b: []byte{wireMagic, byte(k)}} }

func (e *encoder) put(f func(w *wire.Writer)) *encoder {
	w := wire.Writer{B: e.b}
	f(&w)
	e.b = w.B
	return e
}

func (e *encoder) u32(v uint32) *encoder     { return e.put(func(w *wire.Writer) { w.U32(v) }) }
func (e *encoder) u64(v uint64) *encoder     { return e.put(func(w *wire.Writer) { w.U64(v) }) }
func (e *encoder) f64(v float64) *encoder    { return e.put(func(w *wire.Writer) { w.F64(v) }) }
func (e *encoder) int(v int) *encoder        { return e.put(func(w *wire.Writer) { w.Int(v) }) }
func (e *encoder) f32s(v []float32) *encoder { return e.put(func(w *wire.Writer) { w.F32s(v) }) }
func (e *encoder) bytes(v []byte) *encoder   { return e.put(func(w *wire.Writer) { w.Bytes(v) }) }

// decoder reads fields from a message; the first error sticks and later
// reads return zero values.
type decoder struct{ r *wire.Reader }

// parseMsg checks the header of a message and returns its kind and a
// decoder of its fields.
func parseMsg(frame []byte) (msgKind, *decoder, error) {
	if len(frame) < 2 || frame[0] != wireMagic {
		return 0, nil, errors.New("fedavg: not a fedavg message")
	}
	k := msgKind(frame[1])
	if k < kindHello || k > kindReject {
		return 0, nil, fmt.Errorf("fedavg: unknown message kind %d", frame[1])
	}
	return k, &decoder{wire.NewReader(frame[2:])}, nil
}

func (d *decoder) u32() uint32     { return d.r.U32() }
func (d *decoder) u64() uint64     { return d.r.U64() }
func (d *decoder) f64() float64    { return d.r.F64() }
func (d *decoder) int() int        { return d.r.Int() }
func (d *decoder) f32s() []float32 { return d.r.F32s(maxVector) }
func (d *decoder) bytes() []byte   { return d.r.Bytes(maxVector) }

// finish returns the decoding error, if any, or an error if bytes are left.
func (d *decoder) finish(k msgKind) error {
	if err := d.r.Finish(); err != nil {
		return fmt.Errorf("fedavg: malformed %v message: %w", k, err)
	}
	return nil
}

// Messages of the protocol.

type welcomeMsg struct {
	Clients   int
	DataSeed  int64
	Heartbeat int            // milliseconds
	SecAgg    *SecAggOptions // nil: plain aggregation
}

func (m welcomeMsg) encode() []byte {
	e := newMsg(kindWelcome).int(m.Clients).u64(uint64(m.DataSeed)).int(m.Heartbeat)
	if m.SecAgg == nil {
		return e.u32(0).b
	}
	return e.u32(1).f64(m.SecAgg.Clip).int(m.SecAgg.MaxWeight).int(m.SecAgg.Threshold).b
}

func decodeWelcome(d *decoder) (welcomeMsg, error) {
	m := welcomeMsg{Clients: d.int(), DataSeed: int64(d.u64()), Heartbeat: d.int()}
	if d.u32() != 0 {
		m.SecAgg = &SecAggOptions{Clip: d.f64(), MaxWeight: d.int(), Threshold: d.int()}
		if err := m.SecAgg.validate(); err != nil {
			return m, err
		}
	}
	return m, d.finish(kindWelcome)
}

type trainMsg struct {
	Round  int
	Config TrainConfig
	Params []float32
}

func (m trainMsg) encode() []byte {
	c := m.Config
	return newMsg(kindTrain).int(m.Round).int(c.LocalEpochs).int(c.BatchSize).f64(c.LearningRate).u64(c.Seed).f32s(m.Params).b
}

func decodeTrain(d *decoder) (trainMsg, error) {
	m := trainMsg{Round: d.int()}
	m.Config = TrainConfig{LocalEpochs: d.int(), BatchSize: d.int(), LearningRate: d.f64(), Seed: d.u64()}
	m.Params = d.f32s()
	return m, d.finish(kindTrain)
}

type updateMsg struct {
	Round  int
	Update Update
}

func (m updateMsg) encode() []byte {
	u := m.Update
	return newMsg(kindUpdate).int(m.Round).int(u.Weight).int(u.Seen).f64(u.LossSum).f64(u.Correct).f32s(u.Delta).b
}

func decodeUpdate(d *decoder) (updateMsg, error) {
	m := updateMsg{Round: d.int()}
	m.Update = Update{Weight: d.int(), Seen: d.int(), LossSum: d.f64(), Correct: d.f64()}
	m.Update.Delta = d.f32s()
	return m, d.finish(kindUpdate)
}

type secaggMsg struct {
	Round   int
	Payload []byte
}

func (m secaggMsg) encode() []byte {
	return newMsg(kindSecAgg).int(m.Round).bytes(m.Payload).b
}

func decodeSecAgg(d *decoder) (secaggMsg, error) {
	m := secaggMsg{Round: d.int(), Payload: d.bytes()}
	return m, d.finish(kindSecAgg)
}

func encodeReject(reason string) []byte { return newMsg(kindReject).bytes([]byte(reason)).b }

func decodeReject(d *decoder) (string, error) {
	s := string(d.bytes())
	return s, d.finish(kindReject)
}
