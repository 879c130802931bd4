package secagg

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors of the protocol; the errors returned wrap one of them with details
// (test with errors.Is).
var (
	ErrMalformed       = errors.New("secagg: malformed message")
	ErrOutOfStage      = errors.New("secagg: message out of stage")
	ErrWrongRound      = errors.New("secagg: message of another round")
	ErrDuplicate       = errors.New("secagg: duplicate message")
	ErrUnknownClient   = errors.New("secagg: unknown client")
	ErrTooFewSurvivors = errors.New("secagg: too few survivors")
	ErrAborted         = errors.New("secagg: aggregation aborted")
)

// Stage is one of the four rounds of the protocol, named by the message the
// clients send in it.
type Stage int

// The stages in order.
const (
	StageAdvertiseKeys Stage = iota // clients send AdvertiseKeys, server answers KeyList
	StageShareKeys                  // clients send ShareKeys, server answers ShareBundle
	StageMaskedInput                // clients send MaskedInput, server answers UnmaskRequest
	StageUnmask                     // clients send UnmaskShares, server computes the result
	StageDone                       // the server has its result, or aborted
)

func (s Stage) String() string {
	switch s {
	case StageAdvertiseKeys:
		return "advertise keys"
	case StageShareKeys:
		return "share keys"
	case StageMaskedInput:
		return "masked input"
	case StageUnmask:
		return "unmask"
	case StageDone:
		return "done"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Message is one of the protocol's messages. Each marshals to bytes with
// MarshalBinary, and Unmarshal recovers it with its type.
type Message interface {
	encoding.BinaryMarshaler
	// AggregationRound returns the Config.Round the message belongs to.
	AggregationRound() uint64
	kind() byte
}

// Message kinds on the wire.
const (
	kindAdvertiseKeys byte = 1 + iota
	kindKeyList
	kindShareKeys
	kindShareBundle
	kindMaskedInput
	kindUnmaskRequest
	kindUnmaskShares
)

// Wire format: "SA", version 1, kind, round (8 bytes), then the body;
// integers big-endian except the vector of MaskedInput (little-endian).
const (
	wireVersion = 1
	headerSize  = 12
)

// PublicKeySize is the length of an X25519 public key.
const PublicKeySize = 32

// AdvertiseKeys is a client's first message: its two fresh X25519 public
// keys, one for encrypting shares and one for agreeing on masks.
type AdvertiseKeys struct {
	Round   uint64
	From    int
	EncKey  []byte // PublicKeySize bytes
	MaskKey []byte // PublicKeySize bytes
}

// KeyList is the server's broadcast closing StageAdvertiseKeys: the keys of
// every client that advertised (the set U1), sorted by id.
type KeyList struct {
	Round uint64
	Keys  []AdvertiseKeys
}

// EncryptedShare carries, from one client to another through the server,
// the sender's shares of its two seeds, sealed with AES-GCM.
type EncryptedShare struct {
	From, To   int
	Ciphertext []byte // ShareCiphertextSize bytes
}

// ShareKeys is a client's second message: one encrypted share for each of
// its holders that advertised keys.
type ShareKeys struct {
	Round  uint64
	From   int
	Shares []EncryptedShare
}

// ShareBundle is what the server forwards to client To when closing
// StageShareKeys: the shares addressed to it by the clients that sent
// ShareKeys (the set U2).
type ShareBundle struct {
	Round  uint64
	To     int
	Shares []EncryptedShare
}

// MaskedInput is a client's third message: its quantized input plus its
// self mask and pairwise masks, mod 2^32.
type MaskedInput struct {
	Round  uint64
	From   int
	Vector []uint32
}

// UnmaskRequest is the server's broadcast closing StageMaskedInput: the
// clients whose masked input arrived (the set U3), sorted.
type UnmaskRequest struct {
	Round     uint64
	Survivors []int
}

// SeedShare is one holder's share of one client's seed.
type SeedShare struct {
	Owner int
	Y     []uint64 // seedElems field elements
}

// UnmaskShares is a client's last message: for each client whose shares it
// holds, the share of its self-mask seed if that client is a survivor, or
// the share of its mask key seed if it dropped out; never both.
type UnmaskShares struct {
	Round    uint64
	From     int
	SelfMask []SeedShare // owners in U3
	MaskKeys []SeedShare // owners in U2 \ U3
}

func (m *AdvertiseKeys) AggregationRound() uint64 { return m.Round }
func (m *KeyList) AggregationRound() uint64       { return m.Round }
func (m *ShareKeys) AggregationRound() uint64     { return m.Round }
func (m *ShareBundle) AggregationRound() uint64   { return m.Round }
func (m *MaskedInput) AggregationRound() uint64   { return m.Round }
func (m *UnmaskRequest) AggregationRound() uint64 { return m.Round }
func (m *UnmaskShares) AggregationRound() uint64  { return m.Round }

func (*AdvertiseKeys) kind() byte { return kindAdvertiseKeys }
func (*KeyList) kind() byte       { return kindKeyList }
func (*ShareKeys) kind() byte     { return kindShareKeys }
func (*ShareBundle) kind() byte   { return kindShareBundle }
func (*MaskedInput) kind() byte   { return kindMaskedInput }
func (*UnmaskRequest) kind() byte { return kindUnmaskRequest }
func (*UnmaskShares) kind() byte  { return kindUnmaskShares }

func header(kind byte, round uint64, size int) []byte {
	b := make([]byte, 0, headerSize+size)
	b = append(b, 'S', 'A', wireVersion, kind)
	return binary.BigEndian.AppendUint64(b, round)
}

func appendID(b []byte, id int) []byte { return binary.BigEndian.AppendUint32(b, uint32(id)) }

func appendKeys(b []byte, m *AdvertiseKeys) ([]byte, error) {
	if len(m.EncKey) != PublicKeySize || len(m.MaskKey) != PublicKeySize {
		return nil, fmt.Errorf("%w: keys of client %d have %d and %d bytes, want %d", ErrMalformed, m.From, len(m.EncKey), len(m.MaskKey), PublicKeySize)
	}
	b = appendID(b, m.From)
	b = append(b, m.EncKey...)
	return append(b, m.MaskKey...), nil
}

func appendShares(b []byte, shares []EncryptedShare) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(shares)))
	for _, s := range shares {
		b = appendID(b, s.From)
		b = appendID(b, s.To)
		b = binary.BigEndian.AppendUint32(b, uint32(len(s.Ciphertext)))
		b = append(b, s.Ciphertext...)
	}
	return b
}

func appendSeedShares(b []byte, shares []SeedShare) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, uint32(len(shares)))
	for _, s := range shares {
		if len(s.Y) != seedElems {
			return nil, fmt.Errorf("%w: seed share of client %d has %d elements, want %d", ErrMalformed, s.Owner, len(s.Y), seedElems)
		}
		b = appendID(b, s.Owner)
		for _, y := range s.Y {
			b = binary.BigEndian.AppendUint64(b, y)
		}
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *AdvertiseKeys) MarshalBinary() ([]byte, error) {
	return appendKeys(header(m.kind(), m.Round, 4+2*PublicKeySize), m)
}

// MarshalBinary encodes the message.
func (m *KeyList) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 4+len(m.Keys)*(4+2*PublicKeySize))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Keys)))
	for i := range m.Keys {
		var err error
		if b, err = appendKeys(b, &m.Keys[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *ShareKeys) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 8+len(m.Shares)*(12+ShareCiphertextSize))
	return appendShares(appendID(b, m.From), m.Shares), nil
}

// MarshalBinary encodes the message.
func (m *ShareBundle) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 8+len(m.Shares)*(12+ShareCiphertextSize))
	return appendShares(appendID(b, m.To), m.Shares), nil
}

// MarshalBinary encodes the message.
func (m *MaskedInput) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 8+4*len(m.Vector))
	b = appendID(b, m.From)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Vector)))
	off := len(b)
	b = b[:off+4*len(m.Vector)]
	putWords(b[off:], m.Vector)
	return b, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskRequest) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 4+4*len(m.Survivors))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Survivors)))
	for _, id := range m.Survivors {
		b = appendID(b, id)
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskShares) MarshalBinary() ([]byte, error) {
	b := header(m.kind(), m.Round, 12+(len(m.SelfMask)+len(m.MaskKeys))*(4+8*seedElems))
	b = appendID(b, m.From)
	b, err := appendSeedShares(b, m.SelfMask)
	if err != nil {
		return nil, err
	}
	return appendSeedShares(b, m.MaskKeys)
}

// reader decodes a message body; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("truncated: need %d more bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) id() int { return int(r.u32()) }

// count reads a count of items of at least minSize bytes each and checks
// that they can fit in what is left, so a corrupt count cannot make the
// decoder allocate much.
func (r *reader) count(minSize int) int {
	n := r.u32()
	if r.err == nil && uint64(n)*uint64(minSize) > uint64(len(r.b)) {
		r.fail("count %d does not fit in the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(n int) []byte {
	b := r.take(n)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (r *reader) keys() AdvertiseKeys {
	return AdvertiseKeys{From: r.id(), EncKey: r.bytes(PublicKeySize), MaskKey: r.bytes(PublicKeySize)}
}

func (r *reader) shares() []EncryptedShare {
	n := r.count(12)
	out := make([]EncryptedShare, 0, n)
	for range n {
		s := EncryptedShare{From: r.id(), To: r.id()}
		s.Ciphertext = r.bytes(int(r.u32()))
		if r.err != nil {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (r *reader) seedShares() []SeedShare {
	n := r.count(4 + 8*seedElems)
	out := make([]SeedShare, 0, n)
	for range n {
		s := SeedShare{Owner: r.id(), Y: make([]uint64, seedElems)}
		for i := range s.Y {
			s.Y[i] = r.u64()
		}
		if r.err != nil {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// Unmarshal decodes a message of any kind; the result is a *AdvertiseKeys,
// *KeyList, *ShareKeys, *ShareBundle, *MaskedInput, *UnmaskRequest or
// *UnmaskShares. Errors wrap ErrMalformed.
func Unmarshal(data []byte) (Message, error) {
	if len(data) < headerSize || data[0] != 'S' || data[1] != 'A' {
		return nil, fmt.Errorf("%w: no secagg header", ErrMalformed)
	}
	if data[2] != wireVersion {
		return nil, fmt.Errorf("%w: wire version %d, want %d", ErrMalformed, data[2], wireVersion)
	}
	round := binary.BigEndian.Uint64(data[4:])
	r := &reader{b: data[headerSize:]}
	var m Message
	switch data[3] {
	case kindAdvertiseKeys:
		k := r.keys()
		k.Round = round
		m = &k
	case kindKeyList:
		n := r.count(4 + 2*PublicKeySize)
		l := &KeyList{Round: round, Keys: make([]AdvertiseKeys, n)}
		for i := range l.Keys {
			l.Keys[i] = r.keys()
			l.Keys[i].Round = round
		}
		m = l
	case kindShareKeys:
		m = &ShareKeys{Round: round, From: r.id(), Shares: r.shares()}
	case kindShareBundle:
		m = &ShareBundle{Round: round, To: r.id(), Shares: r.shares()}
	case kindMaskedInput:
		mi := &MaskedInput{Round: round, From: r.id()}
		n := r.count(4)
		if b := r.take(4 * n); b != nil {
			mi.Vector = make([]uint32, n)
			getWords(mi.Vector, b)
		}
		m = mi
	case kindUnmaskRequest:
		n := r.count(4)
		u := &UnmaskRequest{Round: round, Survivors: make([]int, n)}
		for i := range u.Survivors {
			u.Survivors[i] = r.id()
		}
		m = u
	case kindUnmaskShares:
		m = &UnmaskShares{Round: round, From: r.id(), SelfMask: r.seedShares(), MaskKeys: r.seedShares()}
	default:
		return nil, fmt.Errorf("%w: unknown message kind %d", ErrMalformed, data[3])
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}
