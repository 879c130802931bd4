package fedavg

import (
	"fmt"
	"slices"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

// DigitData returns the images of the given digits in s, grouped by digit in
// that order, as a Dataset: pixels divided by 255, and as label the digit's
// index in digits (for digits 0 and 1, the digit itself).
func DigitData(s mnistio.Set, digits ...int) (Dataset, error) {
	sel, err := selectDigits(s, digits)
	if err != nil {
		return Dataset{}, err
	}
	return toDataset(sel, digits), nil
}

// selectDigits checks the digits and returns their images in s.
func selectDigits(s mnistio.Set, digits []int) (mnistio.Set, error) {
	if len(digits) < 2 {
		return mnistio.Set{}, fmt.Errorf("fedavg: %d digits selected, want at least 2 classes", len(digits))
	}
	for i, d := range digits {
		if d < 0 || d > 9 {
			return mnistio.Set{}, fmt.Errorf("fedavg: digit %d out of range [0, 9]", d)
		}
		if slices.Contains(digits[:i], d) {
			return mnistio.Set{}, fmt.Errorf("fedavg: digit %d selected twice", d)
		}
	}
	sel := s.Digits(0, digits...)
	if sel.Len() == 0 {
		return mnistio.Set{}, fmt.Errorf("fedavg: no image of digits %v in %v", digits, s)
	}
	return sel, nil
}

func toDataset(s mnistio.Set, digits []int) Dataset {
	var class [10]int32
	for i, d := range digits {
		class[d] = int32(i)
	}
	y := make([]int32, s.Len())
	for i, l := range s.Labels {
		y[i] = class[l]
	}
	return Dataset{Features: s.Features(), X: s.Float32(0, 1), Y: y}
}

// DigitClients partitions the images of the given digits among clients as
// the course's original notebook does: all images of the digits (pixels/255,
// labels as in DigitData), shuffled with seed, cut into clients contiguous
// parts of Len()/clients images each (the remainder is left out). The
// partition depends on (s, clients, seed, digits) alone, so every client
// process computes the same one and takes its own part.
func DigitClients(s mnistio.Set, clients int, seed int64, digits ...int) ([]Dataset, error) {
	if clients < 1 {
		return nil, fmt.Errorf("fedavg: %d clients, want at least 1", clients)
	}
	sel, err := selectDigits(s, digits)
	if err != nil {
		return nil, err
	}
	parts, err := sel.Shuffle(seed).Split(clients, 0)
	if err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	out := make([]Dataset, clients)
	for k, p := range parts {
		out[k] = toDataset(p, digits)
	}
	return out, nil
}

// ClientPart returns client id's part of DigitClients(s, clients, seed, digits...).
func ClientPart(s mnistio.Set, id, clients int, seed int64, digits ...int) (Dataset, error) {
	if id < 0 || id >= clients {
		return Dataset{}, fmt.Errorf("fedavg: client id %d out of range [0, %d)", id, clients)
	}
	parts, err := DigitClients(s, clients, seed, digits...)
	if err != nil {
		return Dataset{}, err
	}
	return parts[id], nil
}
