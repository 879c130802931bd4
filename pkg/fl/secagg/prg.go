package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// KeySize is the length in bytes of a mask seed: an AES-256 key.
const KeySize = 32

// prgChunk is how many mask words are expanded at a time: the chunk of the
// vector, the key streams of a group of masks and the zero source they are
// XORed from (6 x 8 KiB) stay in the L1 cache (48 KiB on the AMD Zen 5 of
// the benchmarks; 1024 words cost about 3% more there).
const prgChunk = 2048

// groupSize is how many masks' key streams for a chunk are summed before
// they are added to the chunk, which saves loads and stores of the chunk
// (one mask at a time costs 12-15% more CPU than the raw key stream, four
// at a time 4-7%).
const groupSize = 4

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
	bufs    [groupSize][]byte
	terms   []maskTerm
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
	e.addMasks(acc, acc, 0, []maskTerm{{key: *seed, negate: negate}})
}

// Expand writes the mask of seed into dst (m = len(dst) words).
func (e *Expander) Expand(dst []uint32, seed *[KeySize]byte) {
	clear(dst)
	e.Add(dst, seed, false)
}

// addMasks sets dst to base plus the masks of terms mod 2^32 (minus those
// marked negate); base has the length of dst and may be dst itself. dst
// gets the words from word index from on (a multiple of 4: a whole AES
// block) of each mask. It walks the vectors once per maxStreams masks, in
// chunks that stay in the L1 cache: for each chunk it copies base, then
// produces the chunk's key stream of each mask with AES-CTR and adds it in
// the same pass, groupSize masks of one sign at a time, so that the vectors
// are read and written once rather than once per mask.
func (e *Expander) addMasks(dst, base []uint32, from int, terms []maskTerm) {
	if from%4 != 0 {
		panic("secagg: mask expansion must start at a whole AES block")
	}
	if len(base) != len(dst) {
		panic("secagg: mask expansion of vectors of different lengths")
	}
	if len(terms) == 0 || len(dst) == 0 {
		copy(dst, base)
		return
	}
	if e.bufs[0] == nil {
		for i := range e.bufs {
			e.bufs[i] = make([]byte, 4*prgChunk)
		}
	}
	// Added masks first, then subtracted ones: groups of one sign.
	sorted := e.terms[:0]
	for _, t := range terms {
		if !t.negate {
			sorted = append(sorted, t)
		}
	}
	for _, t := range terms {
		if t.negate {
			sorted = append(sorted, t)
		}
	}
	e.terms = sorted
	for len(sorted) > 0 {
		batch := sorted[:min(len(sorted), maxStreams)]
		sorted = sorted[len(batch):]
		streams := e.streams[:0]
		for i := range batch {
			streams = append(streams, newStream(&batch[i].key, uint64(from/4)))
		}
		for off := 0; off < len(dst); off += prgChunk {
			end := min(off+prgChunk, len(dst))
			a := dst[off:end]
			if &base[0] != &dst[0] {
				copy(a, base[off:end])
			}
			n := 4 * len(a)
			src := zeroBlock[:n]
			for i := 0; i < len(streams); {
				g := 1
				for g < groupSize && i+g < len(streams) && batch[i+g].negate == batch[i].negate {
					g++
				}
				if g < groupSize {
					g = 1
				}
				for j := range g {
					streams[i+j].XORKeyStream(e.bufs[j][:n], src)
				}
				switch {
				case g == groupSize && batch[i].negate:
					subWords4(a, e.bufs[0][:n], e.bufs[1][:n], e.bufs[2][:n], e.bufs[3][:n])
				case g == groupSize:
					addWords4(a, e.bufs[0][:n], e.bufs[1][:n], e.bufs[2][:n], e.bufs[3][:n])
				case batch[i].negate:
					subWords(a, e.bufs[0][:n])
				default:
					addWords(a, e.bufs[0][:n])
				}
				i += g
			}
		}
		clear(streams) // drop the key schedules
		e.streams = streams[:0]
		base = dst
	}
	clear(e.terms) // forget the keys
	e.terms = e.terms[:0]
}

// KeyStream writes the raw key stream of seed into ks (the mask of seed as
// little-endian words) without adding it anywhere: the cost of generating
// a mask alone.
func KeyStream(ks []byte, seed *[KeySize]byte) {
	s := newStream(seed, 0)
	for off := 0; off < len(ks); off += len(zeroBlock) {
		c := ks[off:min(off+len(zeroBlock), len(ks))]
		s.XORKeyStream(c, zeroBlock[:len(c)])
	}
}
