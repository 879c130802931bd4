package secagg

// This file is the notebook's teaching protocol: n clients form the fixed
// pairs (p, p+n/2), each pair shares one mask, the smaller id adds it and the
// larger id subtracts it, so the masks cancel in the server's sum. It is the
// reference solution of the notebook's exercise and is kept deliberately
// simple. It is NOT secure: the masks come from a seeded statistical
// generator, a float mask does not hide a value perfectly, and a single
// dropout leaves a mask in the sum (see DropoutResidue). The real protocol is
// Client and Server in this package.

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// FloatMaskScale bounds the teaching float masks: NewPairMasks draws each
// entry uniformly in [-FloatMaskScale, FloatMaskScale).
const FloatMaskScale = 100.0

// PairOf returns the partner of client i among n clients (n even): i+n/2 or i-n/2.
func PairOf(i, n int) (int, error) {
	if n <= 0 || n%2 != 0 {
		return 0, fmt.Errorf("secagg: pairing needs a positive even number of clients, got n=%d", n)
	}
	if i < 0 || i >= n {
		return 0, fmt.Errorf("secagg: client id %d out of range [0, %d)", i, n)
	}
	if i < n/2 {
		return i + n/2, nil
	}
	return i - n/2, nil
}

// pairIndex returns the index of client i's pair mask (the smaller id of the
// pair) and whether i is that smaller id.
func pairIndex(i, n int) (p int, smaller bool, err error) {
	if _, err := PairOf(i, n); err != nil {
		return 0, false, err
	}
	if i < n/2 {
		return i, true, nil
	}
	return i - n/2, false, nil
}

func checkPairArgs(n, dim int) error {
	if n <= 0 || n%2 != 0 {
		return fmt.Errorf("secagg: pairing needs a positive even number of clients, got n=%d", n)
	}
	if dim < 0 {
		return fmt.Errorf("secagg: negative mask length %d", dim)
	}
	return nil
}

// NewPairMasks draws one mask per pair (p, p+n/2), p < n/2, each of length dim, deterministic in seed.
// Entries are uniform in [-FloatMaskScale, FloatMaskScale).
func NewPairMasks(n, dim int, seed uint64) ([][]float64, error) {
	if err := checkPairArgs(n, dim); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ec466))
	masks := make([][]float64, n/2)
	for p := range masks {
		masks[p] = make([]float64, dim)
		for j := range masks[p] {
			masks[p][j] = (float64(2*rng.Float64()) - 1) * FloatMaskScale // float64(): no fused multiply-add, same masks on every platform
		}
	}
	return masks, nil
}

// MaskFloat returns v + mask if i is the smaller id of its pair, v - mask otherwise.
// masks is the output of NewPairMasks for the same n.
func MaskFloat(i, n int, v []float64, masks [][]float64) ([]float64, error) {
	return mask(i, n, v, masks)
}

// SumFloat returns the entrywise sum of the vectors, skipping nil entries
// (clients that dropped out). All non-nil vectors must have the same length.
func SumFloat(vs [][]float64) ([]float64, error) {
	return sum(vs)
}

// word is what a vector of the teaching protocol holds: floats, whose sums
// round, or fixed-point words in Z_{2^32}, whose sums wrap around exactly
// (Go's uint32 arithmetic is arithmetic mod 2^32).
type word interface{ float64 | uint32 }

// mask adds the pair's mask to v if i is the smaller id of its pair and
// subtracts it otherwise.
func mask[T word](i, n int, v []T, masks [][]T) ([]T, error) {
	p, smaller, err := pairIndex(i, n)
	if err != nil {
		return nil, err
	}
	if len(masks) != n/2 {
		return nil, fmt.Errorf("secagg: %d clients need %d pair masks, got %d", n, n/2, len(masks))
	}
	if len(masks[p]) != len(v) {
		return nil, fmt.Errorf("secagg: mask of pair %d has length %d, vector has %d", p, len(masks[p]), len(v))
	}
	out := make([]T, len(v))
	for j, x := range v {
		if smaller {
			out[j] = x + masks[p][j]
		} else {
			out[j] = x - masks[p][j]
		}
	}
	return out, nil
}

// sum returns the entrywise sum of the non-nil vectors.
func sum[T word](vs [][]T) ([]T, error) {
	var total []T
	for i, v := range vs {
		if v == nil {
			continue
		}
		if total == nil {
			total = make([]T, len(v))
		}
		if len(v) != len(total) {
			return nil, fmt.Errorf("secagg: vector %d has length %d, want %d", i, len(v), len(total))
		}
		for j, x := range v {
			total[j] += x
		}
	}
	return total, nil
}

// DropoutResidue returns what the masks leave in the server's sum when the
// clients in dropped send nothing: for each dropped client whose partner did
// report, the partner's mask stays in the sum (+mask if the partner is the
// smaller id of the pair, -mask otherwise). Pairs in which both clients
// dropped leave nothing. SumFloat of the reported masked vectors equals the
// sum of their plain vectors plus this residue.
func DropoutResidue(n int, dropped []int, masks [][]float64) ([]float64, error) {
	if err := checkPairArgs(n, 0); err != nil {
		return nil, err
	}
	if len(masks) != n/2 {
		return nil, fmt.Errorf("secagg: %d clients need %d pair masks, got %d", n, n/2, len(masks))
	}
	out := []float64{}
	if len(masks) > 0 {
		out = make([]float64, len(masks[0]))
	}
	gone := make(map[int]bool, len(dropped))
	for _, d := range dropped {
		if d < 0 || d >= n {
			return nil, fmt.Errorf("secagg: dropped client id %d out of range [0, %d)", d, n)
		}
		gone[d] = true
	}
	for d := range gone {
		partner, _ := PairOf(d, n)
		if gone[partner] {
			continue
		}
		p, smaller, _ := pairIndex(partner, n)
		for j, m := range masks[p] {
			if smaller {
				out[j] += m
			} else {
				out[j] -= m
			}
		}
	}
	return out, nil
}

// The exact variant: values are fixed-point numbers in Z_{2^32} (uint32
// arithmetic wraps around, which is exactly arithmetic mod 2^32), masks are
// uniform in Z_{2^32}, and the masks cancel exactly instead of up to float
// rounding. A uniform mask mod 2^32 also hides the value perfectly, which no
// bounded float mask can.

// ToFixed encodes v as signed fixed-point numbers with fracBits fractional
// bits, rounded to nearest, in two's complement mod 2^32. It fails if an
// entry is not finite or does not fit in an int32 after scaling. A sum of
// such values decodes correctly with FromFixed as long as the true sum also
// fits in an int32.
func ToFixed(v []float64, fracBits uint) ([]uint32, error) {
	if fracBits > 30 {
		return nil, fmt.Errorf("secagg: %d fractional bits leave no integer part (max 30)", fracBits)
	}
	scale := math.Ldexp(1, int(fracBits))
	out := make([]uint32, len(v))
	for j, x := range v {
		s := math.Round(x * scale)
		if math.IsNaN(s) || s < math.MinInt32 || s > math.MaxInt32 {
			return nil, fmt.Errorf("secagg: entry %d = %g does not fit in 32-bit fixed point with %d fractional bits", j, x, fracBits)
		}
		out[j] = uint32(int32(s))
	}
	return out, nil
}

// FromFixed decodes two's complement fixed-point values with fracBits
// fractional bits (the inverse of ToFixed, up to its rounding).
func FromFixed(v []uint32, fracBits uint) []float64 {
	scale := math.Ldexp(1, -int(fracBits))
	out := make([]float64, len(v))
	for j, x := range v {
		out[j] = float64(int32(x)) * scale
	}
	return out
}

// NewPairMasksFixed draws one mask per pair (p, p+n/2), p < n/2, each of
// length dim, uniform in Z_{2^32}, deterministic in seed.
func NewPairMasksFixed(n, dim int, seed uint64) ([][]uint32, error) {
	if err := checkPairArgs(n, dim); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ec466))
	masks := make([][]uint32, n/2)
	for p := range masks {
		masks[p] = make([]uint32, dim)
		for j := range masks[p] {
			masks[p][j] = rng.Uint32()
		}
	}
	return masks, nil
}

// MaskFixed returns v + mask mod 2^32 if i is the smaller id of its pair,
// v - mask mod 2^32 otherwise. masks is the output of NewPairMasksFixed.
func MaskFixed(i, n int, v []uint32, masks [][]uint32) ([]uint32, error) {
	return mask(i, n, v, masks)
}

// SumFixed returns the entrywise sum mod 2^32 of the vectors, skipping nil
// entries (clients that dropped out). All non-nil vectors must have the same
// length.
func SumFixed(vs [][]uint32) ([]uint32, error) {
	return sum(vs)
}
