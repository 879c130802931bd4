package mnistio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// IDX is the content of an IDX file of unsigned bytes.
type IDX struct {
	Dims []int   // size of each dimension, outermost first
	Data []uint8 // the product of Dims bytes, in row-major order
}

// TypeUbyte is the IDX data-type code for unsigned bytes, the only data type
// this package reads (MNIST uses no other).
const TypeUbyte = 0x08

// Limits on an IDX header, checked before anything is allocated.
const (
	MaxDims     = 8       // most dimensions an IDX file may declare
	MaxDataSize = 1 << 30 // most data bytes an IDX file may declare (1 GiB)
)

// ErrFormat is wrapped by the errors for a file that is not a valid IDX file
// of unsigned bytes: bad magic number, unsupported data type or number of
// dimensions, absurd sizes, truncated or trailing data, corrupt gzip stream.
var ErrFormat = errors.New("invalid IDX file")

// growChunk is the first buffer size when the data size in a header is not yet
// trusted: the buffer grows as data arrives, so a short file that claims a
// huge size costs no more memory than it holds.
const growChunk = 1 << 20

var gzipMagic = []byte{0x1f, 0x8b}

var typeNames = map[byte]string{
	0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16",
	0x0C: "int32", 0x0D: "float32", 0x0E: "float64",
}

// ReadIDX reads an IDX file of unsigned bytes from r, gzip-compressed or raw
// (told apart by the gzip magic number), and checks that its data has exactly
// the length its dimensions declare. name identifies the input in errors,
// which wrap [ErrFormat] when the content is at fault.
func ReadIDX(r io.Reader, name string) (IDX, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return IDX{}, fmt.Errorf("mnistio: %s: %w", name, err)
	}
	return decode(br, bytes.Equal(head, gzipMagic), name, growChunk)
}

// ReadIDXFile reads the IDX file at path, gzip-compressed or raw; see [ReadIDX].
func ReadIDXFile(path string) (IDX, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return IDX{}, fmt.Errorf("mnistio: %w", err)
	}
	return parseIDX(data, path, growChunk)
}

// parseIDX decodes an IDX file held in memory. prealloc is the largest data
// buffer allocated before the data is read (see growChunk).
func parseIDX(data []byte, name string, prealloc int) (IDX, error) {
	return decode(bytes.NewReader(data), bytes.HasPrefix(data, gzipMagic), name, prealloc)
}

// decode reads an IDX file from r, inflating it first if gz. It inflates with
// github.com/klauspost/compress, about a fifth faster than compress/gzip on
// MNIST, which brings LoadData below NumPy's time (see bench/RESULTS.md).
func decode(r io.Reader, gz bool, name string, prealloc int) (IDX, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return IDX{}, formatError(name, "bad gzip header: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	dims, size, err := readHeader(r, name)
	if err != nil {
		return IDX{}, err
	}
	data, err := readData(r, size, prealloc)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return IDX{}, formatError(name, "truncated: data has %d of the %d bytes its dimensions %v declare", len(data), size, dims)
		}
		return IDX{}, readError(name, gz, err)
	}
	// Read on to the end: this checks the gzip checksum and rejects trailing data.
	var extra [1]byte
	n, err := io.ReadFull(r, extra[:])
	if n > 0 {
		return IDX{}, formatError(name, "data is longer than the %d bytes its dimensions %v declare", size, dims)
	}
	if gz && errors.Is(err, io.ErrUnexpectedEOF) {
		return IDX{}, formatError(name, "gzip stream is truncated, or has trailing garbage, after the data")
	}
	if !errors.Is(err, io.EOF) {
		return IDX{}, readError(name, gz, err)
	}
	return IDX{Dims: dims, Data: data}, nil
}

// readHeader reads and checks the magic number and dimensions of an IDX file,
// and returns the dimensions and the data size they declare.
func readHeader(r io.Reader, name string) (dims []int, size int, err error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, 0, formatError(name, "empty file")
		}
		return nil, 0, headerError(name, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, 0, formatError(name, "bad magic number 0x%08x: an IDX file starts with two zero bytes", binary.BigEndian.Uint32(magic[:]))
	}
	if t := magic[2]; t != TypeUbyte {
		tn := typeNames[t]
		if tn == "" {
			tn = "unknown"
		}
		return nil, 0, formatError(name, "data type 0x%02x (%s) is not supported, want 0x%02x (unsigned byte)", t, tn, TypeUbyte)
	}
	nd := int(magic[3])
	if nd < 1 || nd > MaxDims {
		return nil, 0, formatError(name, "%d dimensions, want 1 to %d", nd, MaxDims)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, 0, headerError(name, err)
	}
	dims = make([]int, nd)
	size = 1
	for i := range dims {
		d := int(binary.BigEndian.Uint32(raw[4*i:]))
		dims[i] = d
		if d != 0 && size > MaxDataSize/d {
			return nil, 0, formatError(name, "dimensions %v exceed the limit of %d bytes", dimsOf(raw), MaxDataSize)
		}
		size *= d
	}
	return dims, size, nil
}

// readData reads exactly size bytes, allocating at most prealloc bytes before
// they arrive. On a short read it returns what it got and io.ErrUnexpectedEOF
// (or io.EOF if nothing came).
func readData(r io.Reader, size, prealloc int) ([]byte, error) {
	buf := make([]byte, 0, min(size, prealloc))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(size, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if len(buf) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

func dimsOf(raw []byte) []uint32 {
	d := make([]uint32, len(raw)/4)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return d
}

func formatError(name, format string, args ...any) error {
	return fmt.Errorf("mnistio: %s: %w: %s", name, ErrFormat, fmt.Sprintf(format, args...))
}

func headerError(name string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return formatError(name, "truncated header")
	}
	return fmt.Errorf("mnistio: %s: %w", name, err)
}

// readError describes an error from the reader, blaming the content when it
// is a corrupt gzip stream.
func readError(name string, gz bool, err error) error {
	var corrupt flate.CorruptInputError
	if gz && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)) {
		return formatError(name, "corrupt gzip stream: %v", err)
	}
	return fmt.Errorf("mnistio: %s: %w", name, err)
}

// ReadSet reads an MNIST-like data set from an IDX file of images (3
// dimensions: count, rows, columns) and one of labels (1 dimension, values
// 0 to 9), gzip-compressed or raw. It checks shapes and counts, not checksums.
func ReadSet(imagesPath, labelsPath string) (Set, error) {
	images, err := ReadIDXFile(imagesPath)
	if err != nil {
		return Set{}, err
	}
	labels, err := ReadIDXFile(labelsPath)
	if err != nil {
		return Set{}, err
	}
	return newSet(images, labels, filepath.Base(imagesPath), filepath.Base(labelsPath))
}

// newSet checks that images and labels make a data set.
func newSet(images, labels IDX, imagesName, labelsName string) (Set, error) {
	if len(images.Dims) != 3 {
		return Set{}, formatError(imagesName, "images have %d dimensions %v, want 3 (count, rows, columns)", len(images.Dims), images.Dims)
	}
	if len(labels.Dims) != 1 {
		return Set{}, formatError(labelsName, "labels have %d dimensions %v, want 1", len(labels.Dims), labels.Dims)
	}
	if images.Dims[0] != labels.Dims[0] {
		return Set{}, fmt.Errorf("mnistio: %s has %d images but %s has %d labels", imagesName, images.Dims[0], labelsName, labels.Dims[0])
	}
	for i, l := range labels.Data {
		if l > 9 {
			return Set{}, formatError(labelsName, "label %d at index %d is not a digit 0 to 9", l, i)
		}
	}
	return Set{Rows: images.Dims[1], Cols: images.Dims[2], Images: images.Data, Labels: labels.Data}, nil
}
