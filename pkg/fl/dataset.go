package fl

import (
	"fmt"
	"math"
)

// Dataset is a labelled data set for binary classification: row i of X has
// label Y[i], 0 or 1. Subsets and batches share the rows of the data set they
// come from.
type Dataset struct {
	X [][]float64
	Y []float64
}

// Len returns the number of examples.
func (d Dataset) Len() int { return len(d.Y) }

// Slice returns the examples i to j-1.
func (d Dataset) Slice(i, j int) Dataset { return Dataset{X: d.X[i:j], Y: d.Y[i:j]} }

// Subset returns the examples at the given indices, in that order.
func (d Dataset) Subset(idx []int) Dataset {
	s := Dataset{X: make([][]float64, len(idx)), Y: make([]float64, len(idx))}
	for k, i := range idx {
		s.X[k], s.Y[k] = d.X[i], d.Y[i]
	}
	return s
}

// Batches cuts the data set, in order, into batches of bs examples; the last
// batch is shorter when bs does not divide Len, so no example is left out.
// A bs of 0 or less gives one batch of everything.
func (d Dataset) Batches(bs int) []Dataset {
	if bs <= 0 || bs > d.Len() {
		bs = d.Len()
	}
	var batches []Dataset
	for i := 0; i < d.Len(); i += bs {
		batches = append(batches, d.Slice(i, min(i+bs, d.Len())))
	}
	return batches
}

// check reports the first thing that makes d unusable with a model of the
// given number of features: lengths that differ, a row of another width, a
// label other than 0 or 1, a value that is not finite.
func (d Dataset) check(features int) error {
	if len(d.X) != len(d.Y) {
		return fmt.Errorf("%d rows but %d labels", len(d.X), len(d.Y))
	}
	for i, row := range d.X {
		if len(row) != features {
			return fmt.Errorf("row %d has %d features, the model %d", i, len(row), features)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d, feature %d is %v", i, j, v)
			}
		}
		if d.Y[i] != 0 && d.Y[i] != 1 {
			return fmt.Errorf("label %d is %v, not 0 or 1", i, d.Y[i])
		}
	}
	return nil
}

// PartyData gives each of the parties its own perParty examples of d, in
// order: party i gets examples i·perParty to (i+1)·perParty - 1, as the
// original notebook does with data it has shuffled. Examples past
// parties·perParty are left unused.
func PartyData(d Dataset, parties, perParty int) ([]Dataset, error) {
	if parties <= 0 || perParty <= 0 {
		return nil, fmt.Errorf("fl: %d parties of %d examples: both must be at least 1", parties, perParty)
	}
	if parties*perParty > d.Len() {
		return nil, fmt.Errorf("fl: %d parties of %d examples need %d examples, the data set has %d",
			parties, perParty, parties*perParty, d.Len())
	}
	data := make([]Dataset, parties)
	for i := range data {
		data[i] = d.Slice(i*perParty, (i+1)*perParty)
	}
	return data, nil
}

// Split returns one data set per part of a partition of d's examples, such as
// IID, Shards or Dirichlet return.
func Split(d Dataset, parts [][]int) ([]Dataset, error) {
	data := make([]Dataset, len(parts))
	for p, idx := range parts {
		for _, i := range idx {
			if i < 0 || i >= d.Len() {
				return nil, fmt.Errorf("fl: part %d has index %d, outside a data set of %d", p, i, d.Len())
			}
		}
		data[p] = d.Subset(idx)
	}
	return data, nil
}
