package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// referenceMask is the mask of key computed the plain way: the whole
// AES-256-CTR key stream with a zero counter block, read as little-endian
// words.
func referenceMask(key [KeySize]byte, m int) []uint32 {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	ks := make([]byte, 4*m)
	cipher.NewCTR(b, make([]byte, aes.BlockSize)).XORKeyStream(ks, ks)
	out := make([]uint32, m)
	for j := range out {
		out[j] = binary.LittleEndian.Uint32(ks[4*j:])
	}
	return out
}

// TestAddMasksMatchesReference checks the fused, chunked expansion of many
// masks against each mask expanded on its own, for lengths that are not
// multiples of the chunk or of an AES block, more masks than one pass
// takes, and expansions that start inside the masks.
func TestAddMasksMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, masks, from int }{
		{1, 0, 0}, {1, 1, 0}, {3, 2, 0}, {4, 3, 0}, {prgChunk - 1, 2, 0}, {prgChunk, 3, 0}, {prgChunk + 5, 4, 0},
		{3*prgChunk + 17, 5, 0}, {2*prgChunk + 3, 13, 0}, {1000, maxStreams + 3, 0}, {5000, 9, 4}, {5000, 11, prgChunk + 36},
	} {
		t.Run(fmt.Sprintf("m=%d/masks=%d/from=%d", tc.m, tc.masks, tc.from), func(t *testing.T) {
			acc := make([]uint32, tc.m)
			want := make([]uint32, tc.m)
			for j := range acc {
				acc[j] = rng.Uint32()
				want[j] = acc[j]
			}
			terms := make([]maskTerm, tc.masks)
			for i := range terms {
				for j := range terms[i].key {
					terms[i].key[j] = byte(rng.Uint32())
				}
				terms[i].negate = rng.IntN(2) == 0
				ref := referenceMask(terms[i].key, tc.from+tc.m)[tc.from:]
				for j := range want {
					if terms[i].negate {
						want[j] -= ref[j]
					} else {
						want[j] += ref[j]
					}
				}
			}
			var e Expander
			base := slices.Clone(acc)
			e.addMasks(acc, acc, tc.from, terms) // in place
			dst := make([]uint32, tc.m)
			e.addMasks(dst, base, tc.from, terms) // into another vector
			for j := range acc {
				if acc[j] != want[j] || dst[j] != want[j] {
					t.Fatalf("word %d: got %#x in place and %#x into another vector, want %#x", j, acc[j], dst[j], want[j])
				}
			}
		})
	}
}

func TestExpandAndKeyStream(t *testing.T) {
	var key [KeySize]byte
	key[0] = 7
	const m = 3*prgChunk + 9
	want := referenceMask(key, m)
	var e Expander
	got := make([]uint32, m)
	e.Expand(got, &key)
	ks := make([]byte, 4*m)
	KeyStream(ks, &key)
	for j := range want {
		if got[j] != want[j] || binary.LittleEndian.Uint32(ks[4*j:]) != want[j] {
			t.Fatalf("word %d: Expand %#x, KeyStream %#x, want %#x", j, got[j], binary.LittleEndian.Uint32(ks[4*j:]), want[j])
		}
	}
}
