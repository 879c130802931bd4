package fl_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/ppml-go/ppml/pkg/fl"
)

// toy is a small two-feature task: label 1 when the first feature is the
// larger.
var toy = fl.Dataset{
	X: [][]float64{{0.9, 0.1}, {0.8, 0.3}, {0.2, 0.7}, {0.1, 0.9}, {0.7, 0.2}, {0.3, 0.6}, {0.6, 0.1}, {0.2, 0.8}},
	Y: []float64{1, 1, 0, 0, 1, 0, 1, 0},
}

func ExampleSigmoid() {
	fmt.Printf("%.3f %.3f %.3f\n", fl.Sigmoid(-2), fl.Sigmoid(0), fl.Sigmoid(2))
	// Output: 0.119 0.500 0.881
}

func ExampleForward() {
	m := fl.Perceptron{W: []float64{1, -1}, B: 0.5}
	x := [][]float64{{0.9, 0.1}, {0.1, 0.9}}
	fmt.Printf("scores %.1f\n", fl.Forward(m, x))
	fmt.Printf("probabilities %.3f\n", fl.Probabilities(m, x))
	fmt.Println("labels", fl.Predict(m, x))
	// Output:
	// scores [1.3 -0.3]
	// probabilities [0.786 0.426]
	// labels [1 0]
}

func ExampleBatchGradient() {
	m := fl.NewPerceptron(2) // every probability is 0.5
	g := fl.BatchGradient(m, toy.X[:2], toy.Y[:2])
	fmt.Printf("dW %.3f, dB %.3f\n", g.W, g.B)
	// Output: dW [-0.425 -0.100], dB -0.500
}

func ExampleTrainStep() {
	m := fl.NewPerceptron(2)
	for range 3 {
		var acc float64
		m, acc = fl.TrainStep(m, toy.X, toy.Y, 1)
		fmt.Printf("accuracy before the step %.2f\n", acc)
	}
	// Output:
	// accuracy before the step 0.50
	// accuracy before the step 1.00
	// accuracy before the step 1.00
}

func ExampleTrain() {
	cfg := fl.TrainConfig{Epochs: 20, BatchSize: 4, LR: 1, OnEpoch: func(e fl.EpochMetrics) {
		if e.Epoch%10 == 9 {
			fmt.Printf("epoch %d: loss %.3f, train accuracy %.2f, test accuracy %.2f\n", e.Epoch, e.Loss, e.TrainAcc, e.TestAcc)
		}
	}}
	m, err := fl.Train(fl.NewPerceptron(2), toy, toy, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fl.Predict(m, [][]float64{{1, 0}, {0, 1}}))
	// Output:
	// epoch 9: loss 0.308, train accuracy 1.00, test accuracy 1.00
	// epoch 19: loss 0.187, train accuracy 1.00, test accuracy 1.00
	// [1 0]
}

// Each party computes its gradient on its own data; the server averages the
// gradients and steps.
func ExampleGradient() {
	parties, err := fl.PartyData(toy, 2, 4)
	if err != nil {
		log.Fatal(err)
	}
	w := fl.NewPerceptron(2)
	var grads []fl.Grad
	for _, p := range parties {
		grads = append(grads, fl.Gradient(w, p.X, p.Y, 2))
	}
	w = fl.Step(w, fl.Average(grads), 1)
	fmt.Printf("W %.3f, B %.3f\n", w.W, w.B)
	// Output: W [0.138 -0.144], B 0.000
}

func ExampleAverage() {
	g := fl.Average([]fl.Grad{{W: []float64{1, 2}, B: 0}, {W: []float64{3, 0}, B: 1}})
	fmt.Println(g.W, g.B)
	// Output: [2 1] 0.5
}

// Parties 0 and 2, and 1 and 3, share a secret and so a mask: each masked
// gradient is noise, but the masks cancel in the server's average.
func ExampleMaskedGradient() {
	const n = 4
	parties, err := fl.PartyData(toy, n, 2)
	if err != nil {
		log.Fatal(err)
	}
	w := fl.NewPerceptron(2)
	secrets, err := fl.PairSecrets(n, 42) // secrets[i]: the one party i shares with its partner
	if err != nil {
		log.Fatal(err)
	}
	var plain, masked []fl.Grad
	for i, p := range parties {
		plain = append(plain, fl.Gradient(w, p.X, p.Y, 2))
		masked = append(masked, fl.MaskedGradient(w, p.X, p.Y, 2, i, fl.Partner(i, n), secrets[i]))
	}
	fmt.Printf("party 0 sends %.3f instead of %.3f\n", masked[0].W, plain[0].W)
	fmt.Printf("average of masked %.5f, of plain %.5f\n", fl.Average(masked).W, fl.Average(plain).W)
	// Output:
	// party 0 sends [-99.380 20.645] instead of [-0.425 -0.100]
	// average of masked [-0.13750 0.14375], of plain [-0.13750 0.14375]
}

func ExampleFedSGD() {
	parties, err := fl.PartyData(toy, 4, 2)
	if err != nil {
		log.Fatal(err)
	}
	cfg := fl.FedConfig{Rounds: 30, BatchSize: 2, LR: 1, Fraction: 0.5, Seed: 1,
		OnRound: func(r fl.RoundMetrics) {
			if r.Round < 2 || r.Round == 29 {
				fmt.Printf("round %d: clients %v, train loss %.3f, test accuracy %.2f\n", r.Round, r.Clients, r.TrainLoss, r.TestAcc)
			}
		}}
	if _, err := fl.FedSGD(fl.NewPerceptron(2), parties, toy, cfg); err != nil {
		log.Fatal(err)
	}
	// Output:
	// round 0: clients [0 1], train loss 0.649, test accuracy 1.00
	// round 1: clients [0 2], train loss 0.633, test accuracy 0.50
	// round 29: clients [0 1], train loss 0.222, test accuracy 1.00
}

func ExampleFedAvg() {
	parties, err := fl.PartyData(toy, 2, 4)
	if err != nil {
		log.Fatal(err)
	}
	cfg := fl.FedConfig{Rounds: 5, BatchSize: 2, LR: 1, LocalEpochs: 2}
	m, err := fl.FedAvg(fl.NewPerceptron(2), parties, fl.Dataset{}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	loss, acc := fl.Evaluate(m, toy)
	fmt.Printf("loss %.3f, accuracy %.2f\n", loss, acc)
	// Output: loss 0.277, accuracy 1.00
}

func ExampleIID() {
	parts, err := fl.IID(10, 3, 3, 1) // 10 examples, 3 parties of 3: one example unused
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(parts), len(parts[0]), len(parts[1]), len(parts[2]))
	// Output: 3 3 3 3
}

func ExampleShards() {
	labels := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}
	parts, err := fl.Shards(labels, 3, 2, 1) // 6 shards of 2 examples, each of one label
	if err != nil {
		log.Fatal(err)
	}
	for p, idx := range parts {
		var ls []int
		for _, i := range idx {
			ls = append(ls, labels[i])
		}
		fmt.Println("party", p, "labels", ls)
	}
	// Output:
	// party 0 labels [2 2 0 0]
	// party 1 labels [1 1 1 1]
	// party 2 labels [0 0 2 2]
}

func ExampleDirichlet() {
	labels := make([]uint8, 1000)
	for i := range labels {
		labels[i] = uint8(i % 2)
	}
	for _, alpha := range []float64{0.1, 100} {
		parts, err := fl.Dirichlet(labels, 4, alpha, 7)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("alpha %v, ones per party:", alpha)
		for _, idx := range parts {
			ones := 0
			for _, i := range idx {
				ones += int(labels[i])
			}
			fmt.Printf(" %d/%d", ones, len(idx))
		}
		fmt.Println()
	}
	// Output:
	// alpha 0.1, ones per party: 0/0 15/163 485/837 0/0
	// alpha 100, ones per party: 134/274 132/257 123/258 111/211
}

// DP-FedSGD among 8 clients of one example each: each round samples every
// client with probability 0.5, clips their gradients to norm C = 0.5 and adds
// noise of standard deviation z·C = 0.5 to the sum; the accountant's ε grows
// with the rounds. The seeded source makes the run reproducible; a real run leaves
// Rand nil, so that nobody can subtract the noise.
func ExampleDPFedSGD() {
	clients, err := fl.PartyData(toy, 8, 1)
	if err != nil {
		log.Fatal(err)
	}
	cfg := fl.DPConfig{Rounds: 30, LR: 1, Sample: 0.5, Clip: 0.5, Noise: 1, Delta: 1e-3,
		Rand: rand.New(rand.NewPCG(1, 2)),
		OnRound: func(r fl.DPRoundMetrics) {
			if r.Round%10 == 9 {
				fmt.Printf("round %d: %d clients, %d clipped, epsilon %.2f\n", r.Round, len(r.Clients), r.Clipped, r.Epsilon)
			}
		}}
	m, err := fl.DPFedSGD(fl.NewPerceptron(2), clients, fl.Dataset{}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	_, acc := fl.Evaluate(m, toy)
	fmt.Printf("accuracy %.2f\n", acc)
	// Output:
	// round 9: 7 clients, 7 clipped, epsilon 8.59
	// round 19: 6 clients, 0 clipped, epsilon 12.67
	// round 29: 1 clients, 0 clipped, epsilon 16.24
	// accuracy 1.00
}
