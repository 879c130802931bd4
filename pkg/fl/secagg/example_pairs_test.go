package secagg_test

import (
	"fmt"
	"math"

	"github.com/ppml-go/ppml/pkg/fl/secagg"
)

// Four clients in the pairs (0, 2) and (1, 3) mask their gradients; the
// masks cancel in the sum, but only up to float rounding.
func ExampleMaskFloat() {
	const n = 4
	grads := [][]float64{{0.1, -0.2}, {0.3, 0.05}, {-0.15, 0.2}, {0.01, 0.02}}
	masks, _ := secagg.NewPairMasks(n, 2, 42)
	masked := make([][]float64, n)
	for i, g := range grads {
		masked[i], _ = secagg.MaskFloat(i, n, g, masks)
	}
	partner, _ := secagg.PairOf(1, n)
	fmt.Println("client 1 is paired with", partner)
	fmt.Printf("client 0 sends %.2f instead of %.2f\n", masked[0], grads[0])
	sum, _ := secagg.SumFloat(masked)
	plain, _ := secagg.SumFloat(grads)
	fmt.Printf("masked sum %.4f, plain sum %.4f\n", sum, plain)
	fmt.Printf("drift %.1e\n", math.Abs(sum[0]-plain[0])+math.Abs(sum[1]-plain[1]))
	// Output:
	// client 1 is paired with 3
	// client 0 sends [-92.04 92.15] instead of [0.10 -0.20]
	// masked sum [0.2600 0.0700], plain sum [0.2600 0.0700]
	// drift 3.0e-14
}

// In fixed point mod 2^32 the masks cancel exactly: the masked sum and the
// plain sum are the same integers.
func ExampleMaskFixed() {
	const n, fracBits = 4, 16
	grads := [][]float64{{0.1, -0.2}, {0.3, 0.05}, {-0.15, 0.2}, {0.01, 0.02}}
	masks, _ := secagg.NewPairMasksFixed(n, 2, 42)
	fixed := make([][]uint32, n)
	masked := make([][]uint32, n)
	for i, g := range grads {
		fixed[i], _ = secagg.ToFixed(g, fracBits)
		masked[i], _ = secagg.MaskFixed(i, n, fixed[i], masks)
	}
	sum, _ := secagg.SumFixed(masked)
	plain, _ := secagg.SumFixed(fixed)
	fmt.Println("masked sum == plain sum:", sum[0] == plain[0] && sum[1] == plain[1])
	fmt.Printf("decoded %.4f\n", secagg.FromFixed(sum, fracBits))
	// Output:
	// masked sum == plain sum: true
	// decoded [0.2600 0.0700]
}

// When client 1 drops out, its partner 3 has already subtracted their shared
// mask: the server's sum is off by exactly that mask, which drowns the
// gradients. Recovering it would need the shared seed, and if client 1's
// input then arrived late the server could unmask it alone; the real
// protocol's double masking prevents that.
func ExampleDropoutResidue() {
	const n = 4
	grads := [][]float64{{0.1, -0.2}, {0.3, 0.05}, {-0.15, 0.2}, {0.01, 0.02}}
	masks, _ := secagg.NewPairMasks(n, 2, 42)
	masked := make([][]float64, n)
	for _, i := range []int{0, 2, 3} { // client 1 never reports
		masked[i], _ = secagg.MaskFloat(i, n, grads[i], masks)
	}
	sum, _ := secagg.SumFloat(masked)
	plain, _ := secagg.SumFloat([][]float64{grads[0], grads[2], grads[3]})
	residue, _ := secagg.DropoutResidue(n, []int{1}, masks)
	fmt.Printf("sum of the survivors  %.2f\n", plain)
	fmt.Printf("what the server gets  %.2f\n", sum)
	fmt.Printf("left-over mask        %.2f\n", residue)
	fmt.Printf("mask of pair (1, 3)   %.2f, which client 3 subtracted\n", masks[1])
	// Output:
	// sum of the survivors  [-0.04 0.02]
	// what the server gets  [36.88 25.86]
	// left-over mask        [36.92 25.84]
	// mask of pair (1, 3)   [-36.92 -25.84], which client 3 subtracted
}
