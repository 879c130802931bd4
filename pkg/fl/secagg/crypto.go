package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

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
)

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
	return cipher.NewGCM(block)
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
// GCM nonce, the sealed plaintext and the 16-byte tag.
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
	out := make([]byte, 12, ShareCiphertextSize)
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[:12], pt, shareAD(round, from, to)), nil
}

func openShare(aead cipher.AEAD, round uint64, from, to int, ct []byte) (b, s []uint64, err error) {
	if len(ct) != ShareCiphertextSize {
		return nil, nil, fmt.Errorf("%w: share from client %d has %d bytes, want %d", ErrMalformed, from, len(ct), ShareCiphertextSize)
	}
	pt, err := aead.Open(nil, ct[:12], ct[12:], shareAD(round, from, to))
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
