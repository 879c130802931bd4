package fedavg

import (
	"slices"
	"strings"
	"testing"
)

func TestDigitClientsRejectsBadArguments(t *testing.T) {
	sets, err := mnist()
	if err != nil {
		t.Fatal(err)
	}
	train := sets[0].Slice(0, 100)
	for _, tc := range []struct {
		name    string
		clients int
		digits  []int
		want    string
	}{
		{"no clients", 0, []int{0, 1}, "0 clients"},
		{"one class", 2, []int{3}, "at least 2 classes"},
		{"digit 10", 2, []int{0, 10}, "digit 10 out of range"},
		{"twice", 2, []int{1, 1}, "digit 1 selected twice"},
		{"too many clients", 1000, []int{0, 1}, "cannot split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DigitClients(train, tc.clients, 1, tc.digits...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DigitClients: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The partition is the original notebook's: the digits' images shuffled by
// the seed and cut into equal contiguous parts, labels the digit's index.
func TestDigitClientsPartition(t *testing.T) {
	sets, err := mnist()
	if err != nil {
		t.Fatal(err)
	}
	train := sets[0].Slice(0, 2000)
	all, err := DigitData(train, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := DigitClients(train, 3, 5, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int32]int{}
	for k, p := range parts {
		if p.Len() != all.Len()/3 || p.Validate() != nil {
			t.Fatalf("client %d has %d examples (%v), want %d", k, p.Len(), p.Validate(), all.Len()/3)
		}
		for _, y := range p.Y {
			counts[y]++
		}
		again, err := ClientPart(train, k, 3, 5, 7, 2)
		if err != nil || !slices.Equal(again.X, p.X) {
			t.Fatalf("ClientPart(%d) differs from DigitClients' part: %v", k, err)
		}
	}
	if len(counts) != 2 || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("labels %v, want classes 0 (digit 7) and 1 (digit 2)", counts)
	}
	other, _ := DigitClients(train, 3, 6, 7, 2)
	if slices.Equal(other[0].X, parts[0].X) {
		t.Fatal("another seed gave the same partition")
	}
}
