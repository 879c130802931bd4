package secagg

import (
	"crypto/ed25519"
	"encoding"
	"errors"
	"fmt"
	"slices"

	"github.com/ppml-go/ppml/internal/wire"
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
	ErrDisconnected    = errors.New("secagg: survivors' graph disconnected")
	ErrBadSignature    = errors.New("secagg: bad signature")
	ErrInconsistent    = errors.New("secagg: inconsistent survivor lists")
	ErrAborted         = errors.New("secagg: aggregation aborted")
)

// Stage is one of the rounds of the protocol, named by the message the
// clients send in it.
type Stage int

// The stages in order. StageConsistencyCheck exists only in the active
// option (Config.Identities).
const (
	StageAdvertiseKeys    Stage = iota // clients send AdvertiseKeys, server answers KeyList
	StageShareKeys                     // clients send ShareKeys, server answers ShareBundle
	StageMaskedInput                   // clients send MaskedInput, server answers UnmaskRequest
	StageConsistencyCheck              // clients sign the survivors (SurvivorSignature), server answers UnmaskRequest with the signatures
	StageUnmask                        // clients send UnmaskShares, server computes the result
	StageDone                          // the server has its result, or aborted
)

func (s Stage) String() string {
	switch s {
	case StageAdvertiseKeys:
		return "advertise keys"
	case StageShareKeys:
		return "share keys"
	case StageMaskedInput:
		return "masked input"
	case StageConsistencyCheck:
		return "consistency check"
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
	kindSurvivorSignature
)

// Wire format (package internal/wire, little-endian): "SA", version 2,
// kind, round (8 bytes), then the body. Counts are 4 bytes.
const (
	wireVersion = 2
	headerSize  = 12
)

// PublicKeySize is the length of an X25519 public key.
const PublicKeySize = 32

// AdvertiseKeys is a client's first message: its two fresh X25519 public
// keys, one for encrypting shares and one for agreeing on masks, its
// commitment to its self-mask seed, and in the active option its ed25519
// signature of all of them (with the round and its id).
type AdvertiseKeys struct {
	Round          uint64
	From           int
	EncKey         []byte // PublicKeySize bytes
	MaskKey        []byte // PublicKeySize bytes
	SelfMaskCommit []byte // CommitSize bytes
	Signature      []byte // ed25519.SignatureSize bytes, or none (passive)
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
// clients whose masked input arrived (the set U3), sorted. In the active
// option it is sent twice: first to be signed (StageConsistencyCheck), then
// with the survivors' signatures of it, which each client checks before it
// reveals any share.
type UnmaskRequest struct {
	Round      uint64
	Survivors  []int
	Signatures []SurvivorSignature
}

// SurvivorSignature is a client's message of the consistency check (active
// option): its ed25519 signature of the round and the survivor list.
type SurvivorSignature struct {
	Round     uint64
	From      int
	Signature []byte
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

func (m *AdvertiseKeys) AggregationRound() uint64     { return m.Round }
func (m *KeyList) AggregationRound() uint64           { return m.Round }
func (m *ShareKeys) AggregationRound() uint64         { return m.Round }
func (m *ShareBundle) AggregationRound() uint64       { return m.Round }
func (m *MaskedInput) AggregationRound() uint64       { return m.Round }
func (m *UnmaskRequest) AggregationRound() uint64     { return m.Round }
func (m *UnmaskShares) AggregationRound() uint64      { return m.Round }
func (m *SurvivorSignature) AggregationRound() uint64 { return m.Round }

func (*AdvertiseKeys) kind() byte     { return kindAdvertiseKeys }
func (*KeyList) kind() byte           { return kindKeyList }
func (*ShareKeys) kind() byte         { return kindShareKeys }
func (*ShareBundle) kind() byte       { return kindShareBundle }
func (*MaskedInput) kind() byte       { return kindMaskedInput }
func (*UnmaskRequest) kind() byte     { return kindUnmaskRequest }
func (*UnmaskShares) kind() byte      { return kindUnmaskShares }
func (*SurvivorSignature) kind() byte { return kindSurvivorSignature }

// Limits of the decoder: ids are below 2^20 (Config.N), signatures at most
// 64 bytes.
const (
	maxClients   = 1 << 20
	maxSignature = ed25519.SignatureSize
	maxVector    = 1 << 30
)

func header(m Message, size int) *wire.Writer {
	w := &wire.Writer{B: make([]byte, 0, headerSize+size)}
	w.Raw([]byte{'S', 'A', wireVersion, m.kind()})
	w.U64(m.AggregationRound())
	return w
}

func writeKeys(w *wire.Writer, m *AdvertiseKeys) error {
	if len(m.EncKey) != PublicKeySize || len(m.MaskKey) != PublicKeySize || len(m.SelfMaskCommit) != CommitSize {
		return fmt.Errorf("%w: keys of client %d have %d and %d bytes and a commitment of %d, want %d, %d and %d", ErrMalformed, m.From, len(m.EncKey), len(m.MaskKey), len(m.SelfMaskCommit), PublicKeySize, PublicKeySize, CommitSize)
	}
	w.U32(uint32(m.From))
	w.Raw(m.EncKey)
	w.Raw(m.MaskKey)
	w.Raw(m.SelfMaskCommit)
	w.Bytes(m.Signature)
	return nil
}

func writeShares(w *wire.Writer, shares []EncryptedShare) {
	w.U32(uint32(len(shares)))
	for _, s := range shares {
		w.U32(uint32(s.From))
		w.U32(uint32(s.To))
		w.Bytes(s.Ciphertext)
	}
}

func writeSeedShares(w *wire.Writer, shares []SeedShare) error {
	w.U32(uint32(len(shares)))
	for _, s := range shares {
		if len(s.Y) != seedElems {
			return fmt.Errorf("%w: seed share of client %d has %d elements, want %d", ErrMalformed, s.Owner, len(s.Y), seedElems)
		}
		w.U32(uint32(s.Owner))
		for _, y := range s.Y {
			w.U64(y)
		}
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *AdvertiseKeys) MarshalBinary() ([]byte, error) {
	w := header(m, 8+2*PublicKeySize+CommitSize+len(m.Signature))
	return w.B, writeKeys(w, m)
}

// MarshalBinary encodes the message.
func (m *KeyList) MarshalBinary() ([]byte, error) {
	w := header(m, 4+len(m.Keys)*(8+2*PublicKeySize+CommitSize+maxSignature))
	w.U32(uint32(len(m.Keys)))
	for i := range m.Keys {
		if err := writeKeys(w, &m.Keys[i]); err != nil {
			return nil, err
		}
	}
	return w.B, nil
}

// MarshalBinary encodes the message.
func (m *ShareKeys) MarshalBinary() ([]byte, error) {
	w := header(m, 8+len(m.Shares)*(12+ShareCiphertextSize))
	w.U32(uint32(m.From))
	writeShares(w, m.Shares)
	return w.B, nil
}

// MarshalBinary encodes the message.
func (m *ShareBundle) MarshalBinary() ([]byte, error) {
	w := header(m, 8+len(m.Shares)*(12+ShareCiphertextSize))
	w.U32(uint32(m.To))
	writeShares(w, m.Shares)
	return w.B, nil
}

// MarshalBinary encodes the message.
func (m *MaskedInput) MarshalBinary() ([]byte, error) {
	w := header(m, 8+4*len(m.Vector))
	w.U32(uint32(m.From))
	w.U32(uint32(len(m.Vector)))
	off := len(w.B)
	w.B = w.B[:off+4*len(m.Vector)]
	putWords(w.B[off:], m.Vector)
	return w.B, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskRequest) MarshalBinary() ([]byte, error) {
	w := header(m, 8+4*len(m.Survivors)+len(m.Signatures)*(8+maxSignature))
	w.U32(uint32(len(m.Survivors)))
	for _, id := range m.Survivors {
		w.U32(uint32(id))
	}
	w.U32(uint32(len(m.Signatures)))
	for _, s := range m.Signatures {
		w.U32(uint32(s.From))
		w.Bytes(s.Signature)
	}
	return w.B, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskShares) MarshalBinary() ([]byte, error) {
	w := header(m, 12+(len(m.SelfMask)+len(m.MaskKeys))*(4+8*seedElems))
	w.U32(uint32(m.From))
	if err := writeSeedShares(w, m.SelfMask); err != nil {
		return nil, err
	}
	return w.B, writeSeedShares(w, m.MaskKeys)
}

// MarshalBinary encodes the message.
func (m *SurvivorSignature) MarshalBinary() ([]byte, error) {
	w := header(m, 8+len(m.Signature))
	w.U32(uint32(m.From))
	w.Bytes(m.Signature)
	return w.B, nil
}

// reader decodes a message body.
type reader struct{ wire.Reader }

func (r *reader) id() int { return int(r.U32()) }

func (r *reader) keys(round uint64) AdvertiseKeys {
	return AdvertiseKeys{
		Round:          round,
		From:           r.id(),
		EncKey:         slices.Clone(r.Take(PublicKeySize)),
		MaskKey:        slices.Clone(r.Take(PublicKeySize)),
		SelfMaskCommit: slices.Clone(r.Take(CommitSize)),
		Signature:      r.Bytes(maxSignature),
	}
}

func (r *reader) shares() []EncryptedShare {
	n := r.Count(12, maxClients)
	out := make([]EncryptedShare, 0, n)
	for range n {
		out = append(out, EncryptedShare{From: r.id(), To: r.id(), Ciphertext: r.Bytes(ShareCiphertextSize)})
	}
	if r.Err() != nil {
		return nil
	}
	return out
}

func (r *reader) seedShares() []SeedShare {
	n := r.Count(4+8*seedElems, maxClients)
	out := make([]SeedShare, 0, n)
	for range n {
		s := SeedShare{Owner: r.id(), Y: make([]uint64, seedElems)}
		for i := range s.Y {
			s.Y[i] = r.U64()
		}
		out = append(out, s)
	}
	if r.Err() != nil {
		return nil
	}
	return out
}

// Unmarshal decodes a message of any kind; the result is a *AdvertiseKeys,
// *KeyList, *ShareKeys, *ShareBundle, *MaskedInput, *UnmaskRequest,
// *SurvivorSignature or *UnmaskShares. Errors wrap ErrMalformed.
func Unmarshal(data []byte) (Message, error) {
	if len(data) < headerSize || data[0] != 'S' || data[1] != 'A' {
		return nil, fmt.Errorf("%w: no secagg header", ErrMalformed)
	}
	if data[2] != wireVersion {
		return nil, fmt.Errorf("%w: wire version %d, want %d", ErrMalformed, data[2], wireVersion)
	}
	r := &reader{*wire.NewReader(data[4:])}
	round := r.U64()
	var m Message
	switch data[3] {
	case kindAdvertiseKeys:
		k := r.keys(round)
		m = &k
	case kindKeyList:
		n := r.Count(4+2*PublicKeySize+CommitSize+4, maxClients)
		l := &KeyList{Round: round, Keys: make([]AdvertiseKeys, n)}
		for i := range l.Keys {
			l.Keys[i] = r.keys(round)
		}
		m = l
	case kindShareKeys:
		m = &ShareKeys{Round: round, From: r.id(), Shares: r.shares()}
	case kindShareBundle:
		m = &ShareBundle{Round: round, To: r.id(), Shares: r.shares()}
	case kindMaskedInput:
		mi := &MaskedInput{Round: round, From: r.id()}
		n := r.Count(4, maxVector)
		if b := r.Take(4 * n); b != nil {
			mi.Vector = make([]uint32, n)
			getWords(mi.Vector, b)
		}
		m = mi
	case kindUnmaskRequest:
		u := &UnmaskRequest{Round: round, Survivors: make([]int, r.Count(4, maxClients))}
		for i := range u.Survivors {
			u.Survivors[i] = r.id()
		}
		if n := r.Count(8, maxClients); n > 0 {
			u.Signatures = make([]SurvivorSignature, n)
			for i := range u.Signatures {
				u.Signatures[i] = SurvivorSignature{Round: round, From: r.id(), Signature: r.Bytes(maxSignature)}
			}
		}
		m = u
	case kindUnmaskShares:
		m = &UnmaskShares{Round: round, From: r.id(), SelfMask: r.seedShares(), MaskKeys: r.seedShares()}
	case kindSurvivorSignature:
		m = &SurvivorSignature{Round: round, From: r.id(), Signature: r.Bytes(maxSignature)}
	default:
		return nil, fmt.Errorf("%w: unknown message kind %d", ErrMalformed, data[3])
	}
	if err := r.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}
