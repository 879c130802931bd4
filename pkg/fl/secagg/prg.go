package secagg

import (
	"crypto/aes"
	"crypto/cipher"
)

// KeySize is the length in bytes of a mask seed: an AES-256 key.
const KeySize = 32

// prgChunk is how many mask words are expanded at a time: small enough for
// the key stream to stay in the L1 cache while it is added to the vector.
const prgChunk = 4096

// Expander turns mask seeds into masks: the AES-256-CTR key stream of a seed
// (zero IV), read as little-endian 32-bit words, is a mask uniform in
// Z_{2^32}^m. Every seed is a fresh key derived with HKDF, so a counter
// starting at zero never repeats under one key for two different masks. An
// Expander keeps a scratch buffer and is not safe for concurrent use.
type Expander struct {
	buf []byte
}

var zeroBlock = make([]byte, 4*prgChunk)

func (e *Expander) stream(seed *[KeySize]byte) cipher.Stream {
	if e.buf == nil {
		e.buf = make([]byte, 4*prgChunk)
	}
	block, err := aes.NewCipher(seed[:])
	if err != nil { // unreachable: the key has a valid length
		panic("secagg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	return cipher.NewCTR(block, iv[:])
}

// Add adds the mask of seed to acc mod 2^32, or subtracts it if negate.
func (e *Expander) Add(acc []uint32, seed *[KeySize]byte, negate bool) {
	s := e.stream(seed)
	for off := 0; off < len(acc); off += prgChunk {
		a := acc[off:min(off+prgChunk, len(acc))]
		ks := e.buf[:4*len(a)]
		s.XORKeyStream(ks, zeroBlock[:len(ks)])
		if negate {
			subWords(a, ks)
		} else {
			addWords(a, ks)
		}
	}
}

// Expand writes the mask of seed into dst (m = len(dst) words).
func (e *Expander) Expand(dst []uint32, seed *[KeySize]byte) {
	clear(dst)
	e.Add(dst, seed, false)
}

// KeyStream writes the raw key stream of seed into ks without adding it
// anywhere: the cost of the mask generation alone, the bound the benchmarks
// compare the protocol against.
func KeyStream(ks []byte, seed *[KeySize]byte) {
	var e Expander
	s := e.stream(seed)
	for off := 0; off < len(ks); off += len(zeroBlock) {
		c := ks[off:min(off+len(zeroBlock), len(ks))]
		s.XORKeyStream(c, zeroBlock[:len(c)])
	}
}
