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

// addWords4 adds the little-endian 32-bit words of k0..k3 to acc mod 2^32.
func addWords4(acc []uint32, k0, k1, k2, k3 []byte) {
	for j := range acc {
		acc[j] += binary.LittleEndian.Uint32(k0[4*j:]) + binary.LittleEndian.Uint32(k1[4*j:]) +
			binary.LittleEndian.Uint32(k2[4*j:]) + binary.LittleEndian.Uint32(k3[4*j:])
	}
}

// subWords4 subtracts the little-endian 32-bit words of k0..k3 from acc
// mod 2^32.
func subWords4(acc []uint32, k0, k1, k2, k3 []byte) {
	for j := range acc {
		acc[j] -= binary.LittleEndian.Uint32(k0[4*j:]) + binary.LittleEndian.Uint32(k1[4*j:]) +
			binary.LittleEndian.Uint32(k2[4*j:]) + binary.LittleEndian.Uint32(k3[4*j:])
	}
}

// addVectors adds src to acc mod 2^32 entrywise (len(src) >= len(acc)).
func addVectors(acc, src []uint32) {
	for j := range acc {
		acc[j] += src[j]
	}
}

// putWords writes src as little-endian words into dst (len(dst) >= 4*len(src)).
func putWords(dst []byte, src []uint32) {
	for j, x := range src {
		binary.LittleEndian.PutUint32(dst[4*j:], x)
	}
}

// getWords reads little-endian words from src into dst (len(src) >= 4*len(dst)).
func getWords(dst []uint32, src []byte) {
	for j := range dst {
		dst[j] = binary.LittleEndian.Uint32(src[4*j:])
	}
}
