package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/ppml-go/ppml/pkg/fl/secagg/shamir"
)

// seedElems is the number of field elements of a shared secret seed:
// 5 elements of GF(2^61-1) carry 305 bits of entropy, and the 32-byte keys
// are derived from them with HKDF-SHA256.
const seedElems = 5

// seed is a secret that is Shamir-shared: the self-mask seed b_u or the seed
// of the mask key pair s_u.
type seed [seedElems]uint64

func newSeed() (seed, error) {
	var s seed
	err := shamir.RandomElements(s[:], rand.Reader)
	return s, err
}

func (s *seed) bytes() []byte {
	b := make([]byte, 0, 8*seedElems)
	for _, e := range s {
		b = binary.LittleEndian.AppendUint64(b, e)
	}
	return b
}

// Labels of the HKDF derivations; each derivation also binds the round and
// the client ids it is for.
const (
	labelSelfMask  = "ppml/secagg v1 self mask"
	labelMaskKey   = "ppml/secagg v1 mask key pair"
	labelPairMask  = "ppml/secagg v1 pairwise mask"
	labelShareKey  = "ppml/secagg v1 share encryption"
	labelShareData = "ppml/secagg v1 share"
	labelCommit    = "ppml/secagg v1 self mask commitment"
	labelKeys      = "ppml/secagg v1 advertised keys"
	labelSurvivors = "ppml/secagg v1 survivors"
)

// CommitSize is the length of a self-mask commitment (SHA-256).
const CommitSize = sha256.Size

// selfMaskCommit commits client id to its self-mask seed b: SHA-256 of a
// label, the round, id and b. The seed has 305 random bits, so the hash
// hides it; SHA-256's collision resistance binds it, so the server can check
// the b_u it rebuilds from shares (one bad share would otherwise corrupt the
// sum silently).
func selfMaskCommit(b *seed, round uint64, id int) []byte {
	h := sha256.New()
	h.Write([]byte(labelCommit))
	h.Write(binary.BigEndian.AppendUint64(nil, round))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(id)))
	h.Write(b.bytes())
	return h.Sum(nil)
}

// keysMessage is what a client signs in the active option: its round, id,
// public keys and self-mask commitment.
func keysMessage(m *AdvertiseKeys) []byte {
	b := []byte(labelKeys)
	b = binary.BigEndian.AppendUint64(b, m.Round)
	b = binary.BigEndian.AppendUint32(b, uint32(m.From))
	b = append(b, m.EncKey...)
	b = append(b, m.MaskKey...)
	return append(b, m.SelfMaskCommit...)
}

// survivorsMessage is what a survivor signs in the consistency check: the
// round and the survivor list U3 it was shown.
func survivorsMessage(round uint64, survivors []int) []byte {
	b := []byte(labelSurvivors)
	b = binary.BigEndian.AppendUint64(b, round)
	for _, v := range survivors {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// verify reports whether sig is client id's signature of msg under the
// configuration's identity keys.
func (c Config) verify(id int, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(c.Identities[id], msg, sig)
}

// probe is a fixed X25519 key used to test public keys for low order.
var probe = sync.OnceValue(func() *ecdh.PrivateKey {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		panic("secagg: " + err.Error())
	}
	return k
})

// parseKey parses an X25519 public key and rejects the low-order points
// (with which every agreement gives the all-zero secret that crypto/ecdh
// refuses, so a neighbour's masks and shares could not be derived).
func parseKey(b []byte) (*ecdh.PublicKey, error) {
	k, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, err
	}
	if _, err := probe().ECDH(k); err != nil {
		return nil, fmt.Errorf("low-order X25519 key: %w", err)
	}
	return k, nil
}

// derive returns HKDF-SHA256(secret, info = label || round || a || b).
func derive(secret []byte, label string, round uint64, a, b int) [KeySize]byte {
	info := make([]byte, 0, len(label)+16)
	info = append(info, label...)
	info = binary.BigEndian.AppendUint64(info, round)
	info = binary.BigEndian.AppendUint32(info, uint32(a))
	info = binary.BigEndian.AppendUint32(info, uint32(b))
	k, err := hkdf.Key(sha256.New, secret, nil, string(info), KeySize)
	if err != nil { // unreachable: 32 bytes is far below HKDF's limit
		panic("secagg: " + err.Error())
	}
	return [KeySize]byte(k)
}

// selfMaskKey is the AES key expanding client id's self mask b_id.
func selfMaskKey(b *seed, round uint64, id int) [KeySize]byte {
	return derive(b.bytes(), labelSelfMask, round, id, id)
}

// maskPrivateKey is client id's X25519 mask key s_id^SK, derived from the
// shared seed so that the server can rebuild it from shares.
func maskPrivateKey(s *seed, round uint64, id int) (*ecdh.PrivateKey, error) {
	k := derive(s.bytes(), labelMaskKey, round, id, id)
	return ecdh.X25519().NewPrivateKey(k[:])
}

// pairMaskKey is the AES key of the mask shared by u and v: HKDF of their
// X25519 shared secret.
func pairMaskKey(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, round uint64, u, v int) ([KeySize]byte, error) {
	shared, err := priv.ECDH(peer)
	if err != nil {
		return [KeySize]byte{}, fmt.Errorf("secagg: key agreement of clients %d and %d: %w", u, v, err)
	}
	return derive(shared, labelPairMask, round, min(u, v), max(u, v)), nil
}

// shareAEAD is the AES-256-GCM cipher that u and v use for the shares they
// send each other through the server.
func shareAEAD(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, round uint64, u, v int) (cipher.AEAD, error) {
	shared, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("secagg: key agreement of clients %d and %d: %w", u, v, err)
	}
	k := derive(shared, labelShareKey, round, min(u, v), max(u, v))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// shareAD is the associated data of a share: it binds sender, receiver and
// round, so a share cannot be replayed to another client or round.
func shareAD(round uint64, from, to int) []byte {
	ad := make([]byte, 0, len(labelShareData)+16)
	ad = append(ad, labelShareData...)
	ad = binary.BigEndian.AppendUint64(ad, round)
	ad = binary.BigEndian.AppendUint32(ad, uint32(from))
	return binary.BigEndian.AppendUint32(ad, uint32(to))
}

// sharePlaintextSize is the size of a share's plaintext: owner, holder and
// the two seed shares (b_u and s_u).
const sharePlaintextSize = 8 + 2*8*seedElems

// ShareCiphertextSize is the size of one encrypted share: a random 12-byte
// GCM nonce (cipher.NewGCMWithRandomNonce), the sealed plaintext and the
// 16-byte tag.
const ShareCiphertextSize = 12 + sharePlaintextSize + 16

func sealShare(aead cipher.AEAD, round uint64, from, to int, b, s []uint64) ([]byte, error) {
	pt := make([]byte, 0, sharePlaintextSize)
	pt = binary.BigEndian.AppendUint32(pt, uint32(from))
	pt = binary.BigEndian.AppendUint32(pt, uint32(to))
	for _, e := range b {
		pt = binary.BigEndian.AppendUint64(pt, e)
	}
	for _, e := range s {
		pt = binary.BigEndian.AppendUint64(pt, e)
	}
	return aead.Seal(make([]byte, 0, ShareCiphertextSize), nil, pt, shareAD(round, from, to)), nil
}

func openShare(aead cipher.AEAD, round uint64, from, to int, ct []byte) (b, s []uint64, err error) {
	if len(ct) != ShareCiphertextSize {
		return nil, nil, fmt.Errorf("%w: share from client %d has %d bytes, want %d", ErrMalformed, from, len(ct), ShareCiphertextSize)
	}
	pt, err := aead.Open(nil, nil, ct, shareAD(round, from, to))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: share from client %d to %d does not authenticate (round %d)", ErrMalformed, from, to, round)
	}
	if int(binary.BigEndian.Uint32(pt)) != from || int(binary.BigEndian.Uint32(pt[4:])) != to {
		return nil, nil, fmt.Errorf("%w: share from client %d to %d names other clients", ErrMalformed, from, to)
	}
	b = make([]uint64, seedElems)
	s = make([]uint64, seedElems)
	for i := range seedElems {
		b[i] = binary.BigEndian.Uint64(pt[8+8*i:])
		s[i] = binary.BigEndian.Uint64(pt[8+8*seedElems+8*i:])
		if b[i] >= shamir.Prime || s[i] >= shamir.Prime {
			return nil, nil, fmt.Errorf("%w: share from client %d is not in the field", ErrMalformed, from)
		}
	}
	return b, s, nil
}
