package fedavg

import (
	"errors"
	"fmt"
	"math"

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
//	                             secure aggregation flag [, clip, max weight, threshold],
//	                             DP clipping norm (0: no DP)
//	ready      client → server   example count (0 with secure aggregation)
//	train      server → client   round, TrainConfig, global parameters, sample
//	                             flag [, sampled ids, neighbours, threshold,
//	                             graph seed, corrupt and dropout fractions]
//	                             (secure DP rounds: the aggregation's members)
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
	DPClip    float64        // DP-FedAvg's L2 clipping norm; 0: no DP
}

func (m welcomeMsg) encode() []byte {
	e := newMsg(kindWelcome).int(m.Clients).u64(uint64(m.DataSeed)).int(m.Heartbeat)
	if m.SecAgg == nil {
		e.u32(0)
	} else {
		e.u32(1).f64(m.SecAgg.Clip).int(m.SecAgg.MaxWeight).int(m.SecAgg.Threshold)
	}
	return e.f64(m.DPClip).b
}

func decodeWelcome(d *decoder) (welcomeMsg, error) {
	m := welcomeMsg{Clients: d.int(), DataSeed: int64(d.u64()), Heartbeat: d.int()}
	if d.u32() != 0 {
		m.SecAgg = &SecAggOptions{Clip: d.f64(), MaxWeight: d.int(), Threshold: d.int()}
		if err := m.SecAgg.validate(); err != nil {
			return m, err
		}
	}
	m.DPClip = d.f64()
	if !(m.DPClip >= 0) || math.IsInf(m.DPClip, 0) {
		return m, fmt.Errorf("fedavg: welcome with DP clipping norm %v", m.DPClip)
	}
	return m, d.finish(kindWelcome)
}

type trainMsg struct {
	Round  int
	Config TrainConfig
	Params []float32
	Sample *sampleRound // secure DP rounds only
}

func (m trainMsg) encode() []byte {
	c := m.Config
	e := newMsg(kindTrain).int(m.Round).int(c.LocalEpochs).int(c.BatchSize).f64(c.LearningRate).u64(c.Seed).f32s(m.Params)
	if m.Sample == nil {
		return e.u32(0).b
	}
	s := m.Sample
	e.u32(1).int(len(s.Members))
	for _, id := range s.Members {
		e.int(id)
	}
	return e.int(s.Neighbours).int(s.Threshold).bytes(s.GraphSeed[:]).f64(s.Corrupt).f64(s.Dropout).b
}

func decodeTrain(d *decoder) (trainMsg, error) {
	m := trainMsg{Round: d.int()}
	m.Config = TrainConfig{LocalEpochs: d.int(), BatchSize: d.int(), LearningRate: d.f64(), Seed: d.u64()}
	m.Params = d.f32s()
	if d.u32() != 0 {
		n := d.int()
		if n < 0 || n > maxSecureClients {
			return m, fmt.Errorf("fedavg: malformed train message: sample of %d clients", n)
		}
		s := &sampleRound{Members: make([]int, n)}
		for i := range s.Members {
			s.Members[i] = d.int()
			if i > 0 && s.Members[i] <= s.Members[i-1] {
				return m, errors.New("fedavg: malformed train message: sample not in increasing order")
			}
		}
		s.Neighbours, s.Threshold = d.int(), d.int()
		seed := d.bytes()
		if len(seed) != len(s.GraphSeed) {
			return m, fmt.Errorf("fedavg: malformed train message: graph seed of %d bytes", len(seed))
		}
		copy(s.GraphSeed[:], seed)
		s.Corrupt, s.Dropout = d.f64(), d.f64()
		m.Sample = s
	}
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
