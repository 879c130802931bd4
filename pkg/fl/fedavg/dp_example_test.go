package fedavg_test

import (
	"fmt"

	"github.com/ppml-go/ppml/pkg/fl/fedavg"
)

// The privacy of a DP-FedAvg run: 100 clients sampled with probability 0.1,
// noise multiplier 1, after 10 and 100 rounds.
func ExampleDPOptions_Epsilon() {
	o := fedavg.DPOptions{Clip: 0.5, Noise: 1, Sample: 0.1}
	for _, rounds := range []int{10, 100} {
		eps, delta, order, err := o.Epsilon(100, rounds)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d rounds: epsilon %.2f at delta %g (order %g)\n", rounds, eps, delta, order)
	}
	// Output:
	// 10 rounds: epsilon 3.45 at delta 1e-05 (order 4.5)
	// 100 rounds: epsilon 7.97 at delta 1e-05 (order 3)
}
