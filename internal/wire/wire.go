// Package wire is the binary codec of the project's network messages
// (packages fedavg, secagg and split): a Writer that appends
// little-endian fields to a byte slice, and a Reader that decodes them,
// remembers the first error, and never trusts a length.
//
// Fields are fixed-size little-endian integers and IEEE floats, unsigned
// varints (encoding/binary's), and length-prefixed byte strings and vectors.
// Every count a Reader decodes is checked against a caller's limit and
// against the bytes that remain before anything is allocated, so a corrupt
// or hostile message cannot make a peer allocate more than its own size.
// After the first error every read returns a zero value; Err (or Finish,
// which also rejects trailing bytes) reports it once at the end.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed matches (errors.Is) every error of a Reader.
var ErrMalformed = errors.New("malformed message")

// decodeError is a Reader's error: its text says what is wrong, and it is
// an ErrMalformed, so callers can wrap it in their own "malformed" error
// without repeating the words.
type decodeError struct{ msg string }

func (e *decodeError) Error() string        { return e.msg }
func (e *decodeError) Is(target error) bool { return target == ErrMalformed }

// Writer appends fields to B.
type Writer struct{ B []byte }

// U8 appends one byte.
func (w *Writer) U8(v byte) { w.B = append(w.B, v) }

// U32 appends v in 4 bytes.
func (w *Writer) U32(v uint32) { w.B = binary.LittleEndian.AppendUint32(w.B, v) }

// U64 appends v in 8 bytes.
func (w *Writer) U64(v uint64) { w.B = binary.LittleEndian.AppendUint64(w.B, v) }

// Int appends v as a two's complement int64 in 8 bytes.
func (w *Writer) Int(v int) { w.U64(uint64(int64(v))) }

// F64 appends the IEEE bits of v in 8 bytes.
func (w *Writer) F64(v float64) { w.U64(math.Float64bits(v)) }

// Uvarint appends v as an unsigned varint.
func (w *Writer) Uvarint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }

// Raw appends b as is (its length must be known to the reader).
func (w *Writer) Raw(b []byte) { w.B = append(w.B, b...) }

// Bytes appends the length of b in 4 bytes, then b.
func (w *Writer) Bytes(b []byte) {
	w.U32(uint32(len(b)))
	w.B = append(w.B, b...)
}

// U32s appends the length of v in 4 bytes, then its values in 4 bytes each.
func (w *Writer) U32s(v []uint32) {
	w.U32(uint32(len(v)))
	for _, x := range v {
		w.U32(x)
	}
}

// F32s appends the length of v in 4 bytes, then the IEEE bits of its values.
func (w *Writer) F32s(v []float32) {
	w.U32(uint32(len(v)))
	for _, x := range v {
		w.U32(math.Float32bits(x))
	}
}

// Reader decodes fields from a message. The zero value reads nothing.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b; it does not copy b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// Fail records a decoding error (an ErrMalformed) unless one is already
// recorded; callers use it for checks of their own.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = &decodeError{fmt.Sprintf(format, args...)}
		r.b = nil
	}
}

// Finish returns the first error, or an error if bytes remain.
func (r *Reader) Finish() error {
	if r.err == nil && len(r.b) > 0 {
		r.Fail("%d unexpected trailing bytes", len(r.b))
	}
	return r.err
}

// Take returns the next n bytes without copying them (nil after an error).
func (r *Reader) Take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Fail("truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8() byte {
	if v := r.Take(1); v != nil {
		return v[0]
	}
	return 0
}

// U32 reads 4 bytes.
func (r *Reader) U32() uint32 {
	if v := r.Take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// U64 reads 8 bytes.
func (r *Reader) U64() uint64 {
	if v := r.Take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// Int reads what Writer.Int wrote.
func (r *Reader) Int() int { return int(int64(r.U64())) }

// F64 reads what Writer.F64 wrote.
func (r *Reader) F64() float64 { return math.Float64frombits(r.U64()) }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads a 4-byte count of items that take at least minSize bytes
// each on the wire (minSize >= 1) and checks it against limit and against the
// bytes that remain, so the caller may allocate count items.
func (r *Reader) Count(minSize, limit int) int {
	return r.check(uint64(r.U32()), minSize, limit)
}

// UvarintCount is Count for a count written as an unsigned varint.
func (r *Reader) UvarintCount(minSize, limit int) int {
	return r.check(r.Uvarint(), minSize, limit)
}

func (r *Reader) check(n uint64, minSize, limit int) int {
	if r.err != nil {
		return 0
	}
	switch {
	case n > uint64(limit):
		r.Fail("count %d exceeds the limit %d", n, limit)
		return 0
	case n*uint64(max(minSize, 1)) > uint64(len(r.b)):
		r.Fail("count %d does not fit in the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

// Bytes reads what Writer.Bytes wrote, at most limit bytes, and copies it
// (nil if empty).
func (r *Reader) Bytes(limit int) []byte {
	n := r.Count(1, limit)
	if v := r.Take(n); len(v) > 0 {
		return append([]byte{}, v...)
	}
	return nil
}

// U32s reads what Writer.U32s wrote, at most limit values.
func (r *Reader) U32s(limit int) []uint32 {
	n := r.Count(4, limit)
	raw := r.Take(4 * n)
	if raw == nil {
		return nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return v
}

// F32s reads what Writer.F32s wrote, at most limit values.
func (r *Reader) F32s(limit int) []float32 {
	n := r.Count(4, limit)
	raw := r.Take(4 * n)
	if raw == nil {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}
