//go:build !(goexperiment.simd && amd64)

package secagg

import "encoding/binary"

// addWords adds the little-endian 32-bit words of ks to acc mod 2^32.
func addWords(acc []uint32, ks []byte) {
	for j := range acc {
		acc[j] += binary.LittleEndian.Uint32(ks[4*j:])
	}
}

// subWords subtracts the little-endian 32-bit words of ks from acc mod 2^32.
func subWords(acc []uint32, ks []byte) {
	for j := range acc {
		acc[j] -= binary.LittleEndian.Uint32(ks[4*j:])
	}
}

// addVectors adds src to acc mod 2^32 entrywise (len(src) >= len(acc)).
func addVectors(acc, src []uint32) {
	for j := range acc {
		acc[j] += src[j]
	}
}
