package secagg

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Flower's SecAgg+ defaults for the fixed-point encoding.
const (
	DefaultClip  = 8.0     // inputs are clipped to [-8, 8]
	DefaultRange = 1 << 22 // a clipped input maps to an integer in [0, 2^22]
)

// Quantizer encodes floats as integers in [0, Range] for the Z_{2^32}
// arithmetic of the protocol, as Flower's SecAgg+ does: clip x to
// [-Clip, Clip], shift it by +Clip, scale it by Range/(2 Clip) and round
// stochastically (up with probability equal to the fractional part), so the
// encoding is unbiased: E[Dequantize(Quantize(x))] = clip(x). A sum of n
// encodings stays below 2^32 as long as n*Range < 2^32.
type Quantizer struct {
	Clip  float64
	Range uint32
}

// DefaultQuantizer returns Quantizer{DefaultClip, DefaultRange}.
func DefaultQuantizer() Quantizer { return Quantizer{Clip: DefaultClip, Range: DefaultRange} }

func (q Quantizer) check() error {
	if !(q.Clip > 0) || math.IsInf(q.Clip, 0) {
		return fmt.Errorf("secagg: clipping range %g must be positive and finite", q.Clip)
	}
	if q.Range == 0 {
		return fmt.Errorf("secagg: quantization range must be positive")
	}
	return nil
}

// Quantize encodes v, drawing the stochastic rounding from rng. NaN entries
// are an error; infinities are clipped.
func (q Quantizer) Quantize(v []float64, rng *rand.Rand) ([]uint32, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	scale := float64(q.Range) / (2 * q.Clip)
	out := make([]uint32, len(v))
	for j, x := range v {
		if math.IsNaN(x) {
			return nil, fmt.Errorf("secagg: cannot quantize NaN at entry %d", j)
		}
		y := (min(max(x, -q.Clip), q.Clip) + q.Clip) * scale // in [0, Range] up to rounding
		f := math.Floor(y)
		if rng.Float64() < y-f {
			f++
		}
		out[j] = uint32(min(max(f, 0), float64(q.Range)))
	}
	return out, nil
}

// Dequantize decodes a sum of count encodings (mod 2^32, so count*Range must
// stay below 2^32): it rescales and subtracts the count shifts of +Clip.
func (q Quantizer) Dequantize(sum []uint32, count int) []float64 {
	step := 2 * q.Clip / float64(q.Range)
	shift := float64(count) * q.Clip
	out := make([]float64, len(sum))
	for j, s := range sum {
		out[j] = float64(s)*step - shift
	}
	return out
}
