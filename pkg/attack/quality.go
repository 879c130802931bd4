package attack

import (
	"fmt"
	"math"
	"slices"
)

// MSE returns the mean squared error between two images with pixels in [0,
// 1] (a reconstruction is clipped to [0, 1] first, as a picture would be).
func MSE(recovered, original []float64) (float64, error) {
	if len(recovered) != len(original) || len(original) == 0 {
		return 0, fmt.Errorf("attack: comparing images of %d and %d pixels", len(recovered), len(original))
	}
	var s float64
	for i, o := range original {
		d := min(max(recovered[i], 0), 1) - o
		s += d * d
	}
	return s / float64(len(original)), nil
}

// PSNR is the peak signal-to-noise ratio in dB of an MSE on pixels in [0,
// 1]: 10·log10(1/MSE), +Inf for an exact reconstruction. 12 dB is a blur;
// above 25 dB a digit is recovered to the eye.
func PSNR(mse float64) float64 {
	return -10 * math.Log10(mse)
}

// Median returns the median of v (the mean of the two middle values for an
// even length); NaN for an empty slice.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Match pairs each recovered image with a distinct original, greedily by
// smallest MSE (a batch's gradient does not tell the order of its
// examples), and returns for each recovered image the index of its original
// and the MSE. There must be at least as many originals as recovered
// images.
func Match(recovered, originals [][]float64) (idx []int, mse []float64, err error) {
	if len(originals) < len(recovered) {
		return nil, nil, fmt.Errorf("attack: matching %d recovered images to %d originals", len(recovered), len(originals))
	}
	type pair struct {
		r, o int
		mse  float64
	}
	var pairs []pair
	for r, x := range recovered {
		for o, y := range originals {
			m, err := MSE(x, y)
			if err != nil {
				return nil, nil, err
			}
			pairs = append(pairs, pair{r, o, m})
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		switch {
		case a.mse < b.mse:
			return -1
		case a.mse > b.mse:
			return 1
		}
		return 0
	})
	idx = make([]int, len(recovered))
	mse = make([]float64, len(recovered))
	for i := range idx {
		idx[i] = -1
	}
	used := make([]bool, len(originals))
	for _, p := range pairs {
		if idx[p.r] < 0 && !used[p.o] {
			idx[p.r], mse[p.r], used[p.o] = p.o, p.mse, true
		}
	}
	return idx, mse, nil
}
