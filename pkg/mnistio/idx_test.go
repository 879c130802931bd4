package mnistio

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes builds an IDX file with the given data type, dimensions and data.
func idxBytes(dtype byte, dims []uint32, data []byte) []byte {
	b := []byte{0, 0, dtype, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// valid is a small well-formed IDX file: two 2×3 images.
var valid = idxBytes(TypeUbyte, []uint32{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})

func TestReadIDX(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"raw", valid},
		{"gzip", gzipped(valid)},
		{"gzip multistream", append(gzipped(valid[:10]), gzipped(valid[10:])...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadIDX(bytes.NewReader(tc.in), "x.idx")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Dims, []int{2, 2, 3}) || !bytes.Equal(got.Data, valid[16:]) {
				t.Errorf("got %v %v, want [2 2 3] %v", got.Dims, got.Data, valid[16:])
			}
		})
	}
}

func TestReadIDXEmptyDimension(t *testing.T) {
	got, err := ReadIDX(bytes.NewReader(idxBytes(TypeUbyte, []uint32{0, 28, 28}, nil)), "empty")
	if err != nil || got.Dims[0] != 0 || len(got.Data) != 0 {
		t.Errorf("got %v, %v; want an empty data set", got, err)
	}
}

func TestReadIDXErrors(t *testing.T) {
	corrupt := gzipped(valid)
	corrupt[len(corrupt)-6] ^= 0xff // in the CRC-32 of the gzip trailer
	for _, tc := range []struct {
		name, want string
		in         []byte
	}{
		{"empty", "empty file", nil},
		{"short magic", "truncated header", []byte{0, 0, 8}},
		{"bad magic", "bad magic number 0x01020801", []byte{1, 2, 8, 1, 0, 0, 0, 0}},
		{"text", "bad magic number", []byte("hello, world\n")},
		{"float32", "data type 0x0d (float32) is not supported", idxBytes(0x0D, []uint32{1}, []byte{0, 0, 0, 0})},
		{"unknown type", "data type 0x42 (unknown)", idxBytes(0x42, []uint32{1}, []byte{0})},
		{"no dimensions", "0 dimensions, want 1 to 8", idxBytes(TypeUbyte, nil, nil)},
		{"too many dimensions", "9 dimensions", idxBytes(TypeUbyte, make([]uint32, 9), nil)},
		{"short dimensions", "truncated header", idxBytes(TypeUbyte, []uint32{1, 2, 3}, nil)[:10]},
		{"absurd size", "exceed the limit", idxBytes(TypeUbyte, []uint32{1 << 20, 1 << 20}, nil)},
		{"overflowing size", "exceed the limit", idxBytes(TypeUbyte, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)},
		{"no data", "truncated: data has 0 of the 12 bytes", valid[:16]},
		{"truncated data", "truncated: data has 11 of the 12 bytes its dimensions [2 2 3] declare", valid[:len(valid)-1]},
		{"trailing data", "longer than the 12 bytes", append(slices.Clip(valid), 0)},
		{"truncated gzip", "truncated", gzipped(valid)[:20]},
		{"gzip without trailer", "gzip stream is truncated", gzipped(valid)[:len(gzipped(valid))-8]},
		{"bad gzip checksum", "corrupt gzip stream", corrupt},
		{"bad gzip header", "bad gzip header", []byte{0x1f, 0x8b, 0, 0}},
		{"short garbage after gzip", "gzip stream is truncated, or has trailing garbage", append(gzipped(valid), 1, 2, 3)},
		{"garbage after gzip", "corrupt gzip stream", append(gzipped(valid), bytes.Repeat([]byte{7}, 20)...)},
		{"huge claim, little data", "truncated: data has 3 of the 1073741824 bytes", idxBytes(TypeUbyte, []uint32{1 << 30}, []byte{1, 2, 3})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.in), "bad.idx")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "bad.idx") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want the file name and %q", msg, tc.want)
			}
		})
	}
}

// errReader fails after its data.
type errReader struct{ data []byte }

var errDisk = errors.New("disk on fire")

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errDisk
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadIDXReaderError(t *testing.T) {
	_, err := ReadIDX(&errReader{valid[:20]}, "f")
	if !errors.Is(err, errDisk) || errors.Is(err, ErrFormat) {
		t.Errorf("got %v, want the reader's error, not ErrFormat", err)
	}
}

func TestReadSet(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	images := write("images.gz", gzipped(valid))
	labels := write("labels", idxBytes(TypeUbyte, []uint32{2}, []byte{7, 3}))
	s, err := ReadSet(images, labels)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 2 || s.Cols != 3 || s.Len() != 2 || !bytes.Equal(s.Labels, []byte{7, 3}) || !bytes.Equal(s.Image(1), valid[22:]) {
		t.Errorf("got %+v", s)
	}

	for _, tc := range []struct {
		name, images, labels, want string
	}{
		{"missing images", filepath.Join(dir, "none"), labels, "no such file"},
		{"labels as images", labels, labels, "images have 1 dimensions"},
		{"images as labels", images, images, "labels have 3 dimensions"},
		{"count mismatch", images, write("3labels", idxBytes(TypeUbyte, []uint32{3}, []byte{1, 2, 3})), "has 2 images but 3labels has 3 labels"},
		{"not a digit", images, write("badlabels", idxBytes(TypeUbyte, []uint32{2}, []byte{1, 10})), "label 10 at index 1 is not a digit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSet(tc.images, tc.labels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(valid)
	f.Add(gzipped(valid))
	f.Add(valid[:len(valid)-1])
	f.Add(gzipped(valid)[:20])
	f.Add(idxBytes(TypeUbyte, []uint32{1 << 30}, []byte{1, 2, 3}))
	f.Add(idxBytes(0x0D, []uint32{1}, []byte{0, 0, 0, 0}))
	f.Add(idxBytes(TypeUbyte, []uint32{3}, []byte{0, 1, 2}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ReadIDX(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mnistio: fuzz: ") {
				t.Errorf("error %q does not name the input", err)
			}
			return
		}
		size := 1
		for _, d := range got.Dims {
			size *= d
		}
		if len(got.Dims) < 1 || len(got.Dims) > MaxDims || len(got.Data) != size || size > MaxDataSize {
			t.Errorf("dims %v and %d data bytes accepted", got.Dims, len(got.Data))
		}
	})
}
