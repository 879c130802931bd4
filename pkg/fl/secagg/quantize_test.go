package secagg

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

func TestQuantizeProperty(t *testing.T) {
	f := func(seed uint64, clipExp uint8, rangeExp uint8, xs []float64) bool {
		q := Quantizer{Clip: math.Ldexp(1, int(clipExp%8)-2), Range: 1 << (4 + rangeExp%20)}
		rng := rand.New(rand.NewPCG(seed, 0))
		for i := range xs {
			xs[i] = (rng.Float64()*3 - 1.5) * q.Clip // some outside the clipping range
		}
		enc, err := q.Quantize(xs, rng)
		if err != nil {
			return false
		}
		step := 2 * q.Clip / float64(q.Range)
		for i, e := range enc {
			if e > q.Range {
				t.Logf("encoding %d above range %d", e, q.Range)
				return false
			}
			back := q.Dequantize([]uint32{e}, 1)[0]
			want := min(max(xs[i], -q.Clip), q.Clip)
			if math.Abs(back-want) > step*(1+1e-9) {
				t.Logf("%g decoded as %g, step %g", xs[i], back, step)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 500}); err != nil {
		t.Error(err)
	}
}

func TestQuantizeSumAndBias(t *testing.T) {
	q := DefaultQuantizer()
	rng := rand.New(rand.NewPCG(1, 1))
	// Stochastic rounding is unbiased: the mean of many encodings of a
	// value between two steps converges to it.
	x := 0.3 * 2 * q.Clip / float64(q.Range) // 0.3 steps above 0
	const runs = 20000
	var sum uint64
	for range runs {
		e, _ := q.Quantize([]float64{x}, rng)
		sum += uint64(e[0])
	}
	mean := q.Dequantize([]uint32{uint32(sum / runs)}, 1)[0]
	frac := float64(sum%runs) / runs * 2 * q.Clip / float64(q.Range)
	if got := mean + frac; math.Abs(got-x) > 0.02*2*q.Clip/float64(q.Range) {
		t.Errorf("mean of encodings %g, want %g", got, x)
	}
	// A sum of encodings decodes to the sum of the clipped values.
	vs := []float64{1.5, -7.25, 20, -100, 0.001}
	var total uint32
	want := 0.0
	for _, v := range vs {
		e, _ := q.Quantize([]float64{v}, rng)
		total += e[0]
		want += min(max(v, -q.Clip), q.Clip)
	}
	got := q.Dequantize([]uint32{total}, len(vs))[0]
	if math.Abs(got-want) > float64(len(vs))*2*q.Clip/float64(q.Range) {
		t.Errorf("sum decoded as %g, want %g", got, want)
	}
}

func TestQuantizeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := DefaultQuantizer().Quantize([]float64{math.NaN()}, rng); err == nil {
		t.Error("NaN was quantized")
	}
	if _, err := (Quantizer{Clip: 0, Range: 8}).Quantize([]float64{1}, rng); err == nil {
		t.Error("zero clipping range accepted")
	}
	if _, err := (Quantizer{Clip: 1, Range: 0}).Quantize([]float64{1}, rng); err == nil {
		t.Error("zero quantization range accepted")
	}
	e, err := DefaultQuantizer().Quantize([]float64{math.Inf(1), math.Inf(-1)}, rng)
	if err != nil || e[0] != DefaultRange || e[1] != 0 {
		t.Errorf("infinities quantized to %v, %v", e, err)
	}
}

func FuzzQuantize(f *testing.F) {
	f.Add(0.5, 1.0, uint32(1024), uint64(1))
	f.Add(-1e300, 8.0, uint32(1<<22), uint64(2))
	f.Fuzz(func(t *testing.T, x, clip float64, r uint32, seed uint64) {
		q := Quantizer{Clip: clip, Range: r}
		e, err := q.Quantize([]float64{x}, rand.New(rand.NewPCG(seed, 0)))
		if q.check() != nil || math.IsNaN(x) {
			if err == nil {
				t.Fatalf("Quantize(%g) with %+v did not fail", x, q)
			}
			return
		}
		if err != nil || e[0] > r {
			t.Fatalf("Quantize(%g) with %+v = %v, %v", x, q, e, err)
		}
	})
}
