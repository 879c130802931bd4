package fl

import (
	"slices"
	"strings"
	"testing"
)

// indexed returns a data set of n one-feature rows whose feature is the row's
// index, so tests can tell which examples ended up where.
func indexed(n int) Dataset {
	d := Dataset{X: make([][]float64, n), Y: make([]float64, n)}
	for i := range d.X {
		d.X[i] = []float64{float64(i)}
		d.Y[i] = float64(i % 2)
	}
	return d
}

func TestBatches(t *testing.T) {
	tests := []struct {
		n, bs int
		sizes []int
	}{
		{32, 16, []int{16, 16}},
		{33, 16, []int{16, 16, 1}},
		{5, 16, []int{5}},
		{5, 0, []int{5}},
		{5, -1, []int{5}},
		{0, 4, nil},
	}
	for _, tt := range tests {
		batches := indexed(tt.n).Batches(tt.bs)
		var sizes []int
		next := 0
		for _, b := range batches {
			sizes = append(sizes, b.Len())
			for _, row := range b.X {
				if int(row[0]) != next {
					t.Fatalf("Batches(%d) of %d: row %v where %d was due", tt.bs, tt.n, row[0], next)
				}
				next++
			}
		}
		if !slices.Equal(sizes, tt.sizes) {
			t.Errorf("Batches(%d) of %d examples: sizes %v, want %v", tt.bs, tt.n, sizes, tt.sizes)
		}
	}
}

func TestPartyData(t *testing.T) {
	d := indexed(400)
	parties, err := PartyData(d, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(parties) != 10 {
		t.Fatalf("%d parties, want 10", len(parties))
	}
	for p, data := range parties {
		if data.Len() != 32 {
			t.Fatalf("party %d has %d examples, want 32", p, data.Len())
		}
		for k, row := range data.X {
			if want := p*32 + k; int(row[0]) != want || data.Y[k] != d.Y[want] {
				t.Fatalf("party %d, example %d is example %v, want %d", p, k, row[0], want)
			}
		}
	}

	errs := []struct {
		parties, perParty int
		want              string
	}{
		{0, 32, "at least 1"},
		{10, 0, "at least 1"},
		{10, 41, "need 410 examples, the data set has 400"},
	}
	for _, tt := range errs {
		if _, err := PartyData(d, tt.parties, tt.perParty); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("PartyData(%d, %d) error = %v, want one containing %q", tt.parties, tt.perParty, err, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	d := indexed(6)
	got, err := Split(d, [][]int{{5, 0}, {}, {2}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Len() != 2 || got[0].X[0][0] != 5 || got[0].X[1][0] != 0 || got[1].Len() != 0 || got[2].X[0][0] != 2 {
		t.Errorf("Split = %v", got)
	}
	if _, err := Split(d, [][]int{{1}, {6}}); err == nil || !strings.Contains(err.Error(), "part 1 has index 6") {
		t.Errorf("Split with an index out of range: error %v", err)
	}
}
