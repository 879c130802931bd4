package secagg

import (
	"encoding/binary"
	"testing"
)

func BenchmarkAddWords(b *testing.B) {
	acc := make([]uint32, prgChunk)
	ks := make([]byte, 4*prgChunk)
	b.SetBytes(4 * prgChunk)
	for b.Loop() {
		addWords(acc, ks)
	}
}

func BenchmarkAddWordsScalar(b *testing.B) {
	acc := make([]uint32, prgChunk)
	ks := make([]byte, 4*prgChunk)
	b.SetBytes(4 * prgChunk)
	for b.Loop() {
		for j := range acc {
			acc[j] += binary.LittleEndian.Uint32(ks[4*j:])
		}
	}
}

func BenchmarkMarshalMaskedInput(b *testing.B) {
	m := &MaskedInput{Vector: make([]uint32, 1<<20)}
	b.SetBytes(4 << 20)
	for b.Loop() {
		m.MarshalBinary()
	}
}
