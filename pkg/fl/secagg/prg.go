package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// KeySize is the length in bytes of a mask seed: an AES-256 key.
const KeySize = 32

// prgChunk is how many mask words are expanded at a time: the chunk of the
// vector, the key stream and the zero source it is XORed from (3 x 8 KiB)
// stay in the L1 cache while every mask is added to the chunk.
const prgChunk = 2048

// maxStreams bounds how many masks are expanded side by side (a
// cipher.Stream each, about 600 bytes): more masks take several passes over
// the vector.
const maxStreams = 512

// maskTerm is one mask to add into a vector: the AES key it expands from,
// and whether it is subtracted instead.
type maskTerm struct {
	key    [KeySize]byte
	negate bool
}

// Expander turns mask seeds into masks: the AES-256-CTR key stream of a seed
// (the counter block starts at zero), read as little-endian 32-bit words, is
// a mask uniform in Z_{2^32}^m. Every seed is a fresh key derived with HKDF,
// so a counter starting at zero never repeats under one key for two
// different masks. An Expander keeps scratch buffers and is not safe for
// concurrent use.
type Expander struct {
	buf     []byte
	streams []cipher.Stream
}

var zeroBlock = make([]byte, 4*prgChunk)

// newStream returns the AES-CTR key stream of key from byte 16*block on
// (the 128-bit big-endian counter block starts at block).
func newStream(key *[KeySize]byte, block uint64) cipher.Stream {
	b, err := aes.NewCipher(key[:])
	if err != nil { // unreachable: the key has a valid length
		panic("secagg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], block)
	return cipher.NewCTR(b, iv[:])
}

// Add adds the mask of seed to acc mod 2^32, or subtracts it if negate.
func (e *Expander) Add(acc []uint32, seed *[KeySize]byte, negate bool) {
	e.addMasks(acc, 0, []maskTerm{{key: *seed, negate: negate}})
}

// Expand writes the mask of seed into dst (m = len(dst) words).
func (e *Expander) Expand(dst []uint32, seed *[KeySize]byte) {
	clear(dst)
	e.Add(dst, seed, false)
}

// addMasks adds the masks of terms to acc mod 2^32 (subtracting those
// marked negate), where acc holds the words from word index from on (a
// multiple of 4: a whole AES block) of each mask. It walks acc once per
// maxStreams masks, in chunks that stay in the L1 cache, and adds every
// mask's key stream for a chunk into that chunk in the same pass in which
// AES-CTR produces it, so that the vector is read and written once rather
// than once per mask.
func (e *Expander) addMasks(acc []uint32, from int, terms []maskTerm) {
	if from%4 != 0 {
		panic("secagg: mask expansion must start at a whole AES block")
	}
	if e.buf == nil {
		e.buf = make([]byte, 4*prgChunk)
	}
	for len(terms) > 0 {
		batch := terms[:min(len(terms), maxStreams)]
		terms = terms[len(batch):]
		streams := e.streams[:0]
		for i := range batch {
			streams = append(streams, newStream(&batch[i].key, uint64(from/4)))
		}
		for off := 0; off < len(acc); off += prgChunk {
			a := acc[off:min(off+prgChunk, len(acc))]
			ks := e.buf[:4*len(a)]
			src := zeroBlock[:len(ks)]
			for i, s := range streams {
				s.XORKeyStream(ks, src)
				if batch[i].negate {
					subWords(a, ks)
				} else {
					addWords(a, ks)
				}
			}
		}
		clear(streams) // drop the key schedules
		e.streams = streams[:0]
	}
}

// KeyStream writes the raw key stream of seed into ks without adding it
// anywhere: the cost of the mask generation alone, the bound the benchmarks
// compare the protocol against.
func KeyStream(ks []byte, seed *[KeySize]byte) {
	s := newStream(seed, 0)
	for off := 0; off < len(ks); off += len(zeroBlock) {
		c := ks[off:min(off+len(zeroBlock), len(ks))]
		s.XORKeyStream(c, zeroBlock[:len(c)])
	}
}
