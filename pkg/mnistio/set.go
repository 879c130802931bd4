package mnistio

import (
	"fmt"
	"math/rand/v2"
)

// Set is a data set of images and their labels.
type Set struct {
	Rows, Cols int     // size of each image
	Images     []uint8 // Len()*Rows*Cols pixels, image after image, each row-major
	Labels     []uint8 // the digit (0 to 9) in each image
}

// Len returns the number of images.
func (s Set) Len() int { return len(s.Labels) }

// Features returns the number of pixels of one image, Rows*Cols (784 for MNIST).
func (s Set) Features() int { return s.Rows * s.Cols }

// Image returns the pixels of image i, row-major; they share storage with s.
func (s Set) Image(i int) []uint8 {
	f := s.Features()
	return s.Images[i*f : (i+1)*f : (i+1)*f]
}

// String describes the set, e.g. "Set{60000 images 28×28}".
func (s Set) String() string {
	return fmt.Sprintf("Set{%d images %d×%d}", s.Len(), s.Rows, s.Cols)
}

// Digits returns a copy of the first perDigit images of each of the digits,
// grouped by digit in the order given (all images of a digit if perDigit <= 0,
// or if there are fewer), like NumPy's
// concatenate([x[y == 0][:perDigit], x[y == 1][:perDigit]]) for Digits(perDigit, 0, 1).
// With no digits it selects from all ten, 0 to 9.
func (s Set) Digits(perDigit int, digits ...int) Set {
	if len(digits) == 0 {
		digits = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	}
	var idx []int
	for _, d := range digits {
		n := 0
		for i, l := range s.Labels {
			if perDigit > 0 && n == perDigit {
				break
			}
			if int(l) == d {
				idx = append(idx, i)
				n++
			}
		}
	}
	return s.Subset(idx)
}

// Shuffle returns a copy of s with its images (and labels) in a random order
// determined by seed alone. The order is a Fisher–Yates shuffle driven by
// math/rand/v2's PCG generator seeded with rand.NewPCG(uint64(seed), 0): for i
// from Len()-1 down to 1, swap i with r.IntN(i+1). The same seed gives the same
// order on every platform.
func (s Set) Shuffle(seed int64) Set {
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	perm := make([]int, s.Len())
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return s.Subset(perm)
}

// Slice returns images i to j-1 of s, sharing storage with s. Like slicing,
// it panics unless 0 <= i <= j <= Len().
func (s Set) Slice(i, j int) Set {
	f := s.Features()
	return Set{Rows: s.Rows, Cols: s.Cols,
		Images: s.Images[i*f : j*f : j*f], Labels: s.Labels[i:j:j]}
}

// Subset returns a copy of the images of s at the indices idx, in that order
// (an index may repeat). Like indexing, it panics if an index is out of range.
func (s Set) Subset(idx []int) Set {
	f := s.Features()
	out := Set{Rows: s.Rows, Cols: s.Cols,
		Images: make([]uint8, len(idx)*f), Labels: make([]uint8, len(idx))}
	for k, i := range idx {
		out.Labels[k] = s.Labels[i]
		copy(out.Images[k*f:(k+1)*f], s.Images[i*f:(i+1)*f])
	}
	return out
}

// Split divides the first parties*perParty images of s among parties parties:
// party p gets images p*perParty to (p+1)*perParty-1. If perParty <= 0, each
// party gets Len()/parties images. The parts share storage with s. It is an
// error if parties < 1 or s has fewer than parties*perParty images.
func (s Set) Split(parties, perParty int) ([]Set, error) {
	if parties < 1 {
		return nil, fmt.Errorf("mnistio: cannot split among %d parties", parties)
	}
	if perParty <= 0 {
		perParty = s.Len() / parties
		if perParty == 0 {
			return nil, fmt.Errorf("mnistio: cannot split %d images among %d parties", s.Len(), parties)
		}
	}
	if perParty > s.Len()/parties {
		return nil, fmt.Errorf("mnistio: cannot split %d images among %d parties of %d each", s.Len(), parties, perParty)
	}
	parts := make([]Set, parties)
	for p := range parts {
		parts[p] = s.Slice(p*perParty, (p+1)*perParty)
	}
	return parts, nil
}

// Float64 returns the images as one row of Features() values per image, each
// pixel scaled to [0, 1] (divided by 255). The rows share one allocation.
func (s Set) Float64() [][]float64 {
	f := s.Features()
	flat := make([]float64, len(s.Images))
	for i, p := range s.Images {
		flat[i] = float64(p) / 255
	}
	rows := make([][]float64, s.Len())
	for i := range rows {
		rows[i] = flat[i*f : (i+1)*f : (i+1)*f]
	}
	return rows
}

// Float32 returns the pixels of all images, flat and row-major (Len() rows of
// Features() values), each scaled to [0, 1] then normalized: (p/255 - mean) / std.
// Float32(0, 1) only scales; Float32(0.1307, 0.3081) is the usual MNIST
// normalization.
func (s Set) Float32(mean, std float32) []float32 {
	var lut [256]float32
	for p := range lut {
		lut[p] = (float32(p)/255 - mean) / std
	}
	out := make([]float32, len(s.Images))
	for i, p := range s.Images {
		out[i] = lut[p]
	}
	return out
}

// LabelsFloat64 returns the labels as float64 values.
func (s Set) LabelsFloat64() []float64 {
	out := make([]float64, len(s.Labels))
	for i, l := range s.Labels {
		out[i] = float64(l)
	}
	return out
}

// LabelsInt32 returns the labels as int32 values.
func (s Set) LabelsInt32() []int32 {
	out := make([]int32, len(s.Labels))
	for i, l := range s.Labels {
		out[i] = int32(l)
	}
	return out
}
