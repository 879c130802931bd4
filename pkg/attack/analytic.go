package attack

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/ppml-go/ppml/pkg/fl"
)

// InvertDense recovers the input of a Dense layer with a bias from the
// layer's gradient on one example (Geiping et al., "Inverting Gradients - How
// easy is it to break privacy in federated learning?", NeurIPS 2020, and
// earlier Phong et al. 2017): with y = x·W + b, dL/dW[j][i] = x[j]·dL/db[i],
// so x = dL/dW[:, i] / dL/db[i] for any unit i with dL/db[i] != 0. gradW is
// row-major [inputs, units] (GoMLX's layout, as [Gradients]) and gradB has one
// entry per unit. It divides by the unit of largest |dL/db[i]|, the one least
// hurt by rounding, and returns that unit.
//
// On the gradient of a batch of several examples the result is a mixture of
// them weighted by each example's dL/db[i]: see [DLG].
func InvertDense(gradW, gradB []float64) (x []float64, unit int, err error) {
	units := len(gradB)
	if units == 0 || len(gradW)%units != 0 {
		return nil, 0, fmt.Errorf("attack: weight gradient of %d entries for %d units", len(gradW), units)
	}
	unit = -1
	for i, b := range gradB {
		if b != 0 && !math.IsNaN(b) && (unit < 0 || math.Abs(b) > math.Abs(gradB[unit])) {
			unit = i
		}
	}
	if unit < 0 {
		return nil, 0, errors.New("attack: every bias gradient is zero: nothing to invert")
	}
	inputs := len(gradW) / units
	x = make([]float64, inputs)
	for j := range x {
		x[j] = gradW[j*units+unit] / gradB[unit]
	}
	return x, unit, nil
}

// InvertPerceptron recovers the example and its label from the gradient of
// the course's perceptron on one example (package fl): x = dW/dB, and the
// label is 1 when dB = σ(W·x + B) - y is negative, 0 when it is positive.
func InvertPerceptron(g fl.Grad) (x []float64, label int, err error) {
	if g.B == 0 || math.IsNaN(g.B) {
		return nil, 0, fmt.Errorf("attack: bias gradient %v: nothing to invert", g.B)
	}
	x = make([]float64, len(g.W))
	for j, w := range g.W {
		x[j] = w / g.B
	}
	if g.B < 0 {
		label = 1
	}
	return x, label, nil
}

// Labels infers the labels of a batch of size batch from the gradient of the
// last layer's bias, as iDLG does (Zhao, Mopuri and Bilen, "iDLG: Improved
// Deep Leakage from Gradients", 2020): with a softmax and the cross-entropy,
// dL/db[c] = Σ_examples (p_c - [y = c])/B, negative exactly for the classes
// present when the probabilities are small. At batch 1 it is the one
// negative entry (the most negative); for a larger batch the batch slots go
// to the negative classes in proportion to -dL/db[c] (largest remainders), a
// count that is exact while the model's probabilities are near uniform. The
// labels are returned in increasing order.
//
// For a perceptron (one logit, gradB of length 1) only batch 1 is
// determined: label 1 if dL/db < 0; a larger batch gets the label of the
// sign for every example.
func Labels(gradB []float64, batch int) ([]int, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("attack: batch of %d, want > 0", batch)
	}
	if len(gradB) == 0 {
		return nil, errors.New("attack: no bias gradient")
	}
	if len(gradB) == 1 {
		y := 0
		if gradB[0] < 0 {
			y = 1
		}
		labels := make([]int, batch)
		for i := range labels {
			labels[i] = y
		}
		return labels, nil
	}
	w := make([]float64, len(gradB))
	found := false
	for c, g := range gradB {
		if g < 0 {
			w[c], found = -g, true
		}
	}
	if !found { // no negative entry: the smallest
		best := 0
		for c, g := range gradB {
			if g < gradB[best] {
				best = c
			}
		}
		w[best] = 1
	}
	return apportion(w, batch), nil
}

// apportion splits batch slots among the classes in proportion to the
// weights w (not all zero) by largest remainders, and returns the labels in
// increasing order.
func apportion(w []float64, batch int) []int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if total == 0 {
		w = slices.Repeat([]float64{1}, len(w))
		total = float64(len(w))
	}
	counts := make([]int, len(w))
	rem := make([]float64, len(w))
	given := 0
	for c, x := range w {
		exact := x / total * float64(batch)
		counts[c] = int(exact)
		rem[c] = exact - float64(counts[c])
		given += counts[c]
	}
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for k := 0; given < batch; k++ {
		counts[order[k%len(order)]]++
		given++
	}
	var labels []int
	for c, k := range counts {
		for range k {
			labels = append(labels, c)
		}
	}
	return labels
}
