package dp_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/ppml-go/ppml/pkg/dp"
)

// The privacy of TF Privacy's MNIST tutorial: batches of 150 of 60000
// examples, noise multiplier 1.3, 15 epochs, δ = 1e-5.
func ExampleEpsilonForTraining() {
	steps, err := dp.StepsForEpochs(60000, 150, 15)
	if err != nil {
		log.Fatal(err)
	}
	eps, order, err := dp.EpsilonForTraining(150.0/60000, 1.3, steps, 1e-5)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d steps: epsilon %.4f at order %v\n", steps, eps, order)
	// Output: 6000 steps: epsilon 0.7242 at order 19
}

// The accountant of a DP-FedAvg run, one round at a time: 100 clients
// sampled with probability 0.1 each round, noise multiplier 1.
func ExampleAccountant() {
	var acc dp.Accountant
	for round := 1; round <= 300; round++ {
		if err := acc.Step(0.1, 1, 1); err != nil {
			log.Fatal(err)
		}
		if round%100 == 0 {
			eps, _, err := acc.Epsilon(1e-5)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("round %d: epsilon %.2f\n", round, eps)
		}
	}
	// Output:
	// round 100: epsilon 7.97
	// round 200: epsilon 11.14
	// round 300: epsilon 13.60
}

// One round of DP-FedAvg on three clients' updates: clip, sum, add noise,
// divide by the expected number of clients.
func ExampleClipL2() {
	updates := [][]float64{{3, 4}, {0.3, 0.4}, {-6, 8}}
	const c, z, q, n = 1.0, 1.0, 1.0, 3
	sum := make([]float64, 2)
	for _, u := range updates {
		norm, clipped, err := dp.ClipL2(u, c)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("norm %.1f clipped %v -> %.2f\n", norm, clipped, u)
		for i := range sum {
			sum[i] += u[i]
		}
	}
	if err := dp.AddGaussianNoise(sum, z, c, rand.New(rand.NewPCG(1, 1))); err != nil {
		log.Fatal(err)
	}
	mean, err := dp.NoisyMean(sum, q, n)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("noisy mean has %d coordinates\n", len(mean))
	// Output:
	// norm 5.0 clipped true -> [0.60 0.80]
	// norm 0.5 clipped false -> [0.30 0.40]
	// norm 10.0 clipped true -> [-0.60 0.80]
	// noisy mean has 2 coordinates
}
