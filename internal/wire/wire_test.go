package wire

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func sample() []byte {
	var w Writer
	w.U8(7)
	w.U32(1 << 31)
	w.U64(math.MaxUint64)
	w.Int(-3)
	w.F64(-0.5)
	w.Uvarint(300)
	w.Bytes([]byte("abc"))
	w.U32s([]uint32{1, 2, 3})
	w.F32s([]float32{1.5, -2})
	w.Raw([]byte{9, 9})
	return w.B
}

func TestRoundTrip(t *testing.T) {
	b := sample()
	r := NewReader(b)
	if r.U8() != 7 || r.U32() != 1<<31 || r.U64() != math.MaxUint64 || r.Int() != -3 || r.F64() != -0.5 || r.Uvarint() != 300 {
		t.Fatal("scalars did not round-trip")
	}
	if string(r.Bytes(3)) != "abc" || !slices.Equal(r.U32s(3), []uint32{1, 2, 3}) || !slices.Equal(r.F32s(2), []float32{1.5, -2}) {
		t.Fatal("vectors did not round-trip")
	}
	if !slices.Equal(r.Take(2), []byte{9, 9}) {
		t.Fatal("raw bytes did not round-trip")
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	// Every truncation fails, and the error sticks.
	for cut := range len(b) {
		r := NewReader(b[:cut])
		r.U8()
		r.U32()
		r.U64()
		r.Int()
		r.F64()
		r.Uvarint()
		r.Bytes(3)
		r.U32s(3)
		r.F32s(2)
		r.Take(2)
		if err := r.Finish(); !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	if err := NewReader(append(b, 0)).Finish(); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestLimits(t *testing.T) {
	var w Writer
	w.U32s(make([]uint32, 10))
	if r := NewReader(w.B); r.U32s(9) != nil || !errors.Is(r.Err(), ErrMalformed) {
		t.Errorf("10 values read under a limit of 9: %v", r.Err())
	}
	// A count that does not fit in the message allocates nothing.
	huge := []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}
	if r := NewReader(huge); r.U32s(1<<31) != nil || r.Err() == nil {
		t.Error("a count larger than the message was accepted")
	}
	if r := NewReader([]byte{0x80}); r.Uvarint() != 0 || r.Err() == nil {
		t.Error("a truncated varint was accepted")
	}
}

// FuzzReader decodes arbitrary bytes as the sample's fields: it must never
// panic or allocate beyond the input, and a clean decode re-encodes to the
// same bytes.
func FuzzReader(f *testing.F) {
	f.Add(sample())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		a, c, d, e, g, h := r.U8(), r.U32(), r.U64(), r.Int(), r.F64(), r.Uvarint()
		s, u, v, raw := r.Bytes(1<<10), r.U32s(1<<10), r.F32s(1<<10), r.Take(2)
		if r.Finish() != nil {
			return
		}
		var w Writer
		w.U8(a)
		w.U32(c)
		w.U64(d)
		w.Int(e)
		w.F64(g)
		w.Uvarint(h)
		w.Bytes(s)
		w.U32s(u)
		w.F32s(v)
		w.Raw(raw)
		if len(w.B) > len(b) {
			t.Fatalf("re-encoding of %d bytes has %d", len(b), len(w.B))
		}
	})
}
