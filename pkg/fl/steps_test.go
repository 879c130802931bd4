package fl

import "testing"

// TestStepsReference checks that the exercise-shaped loops are the library's
// loops: TrainLocal is Train, Steps.FedSGD is FedSGD and MaskedRound is a
// round of FedSGD.
func TestStepsReference(t *testing.T) {
	const features = 12
	data := make([]Dataset, 4)
	for i := range data {
		data[i] = separable(20, features, uint64(30+i))
	}
	var s Steps
	epochs := 0
	local := s.TrainLocal(NewPerceptron(features), data[0], 3, 8, 0.5, func(e int, m Perceptron) {
		if e != epochs {
			t.Errorf("onEpoch(%d), want epoch %d", e, epochs)
		}
		epochs++
	})
	want, err := Train(NewPerceptron(features), data[0], Dataset{}, TrainConfig{Epochs: 3, BatchSize: 8, LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "TrainLocal", Grad(local), Grad(want), 0)
	if epochs != 3 {
		t.Errorf("onEpoch called %d times, want 3", epochs)
	}

	fed := s.FedSGD(NewPerceptron(features), data, 5, 8, 0.5, nil)
	want, err = FedSGD(NewPerceptron(features), data, Dataset{}, FedConfig{Rounds: 5, BatchSize: 8, LR: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "Steps.FedSGD", Grad(fed), Grad(want), 0)

	secrets, err := PairSecrets(len(data), 1)
	if err != nil {
		t.Fatal(err)
	}
	masked, received := s.MaskedRound(NewPerceptron(features), data, 8, 0.5, secrets)
	want = s.FedSGD(NewPerceptron(features), data, 1, 8, 0.5, nil)
	assertClose(t, "MaskedRound", Grad(masked), Grad(want), 1e-12*MaskScale)
	for i, r := range received {
		if d := maxDiff(r, Gradient(NewPerceptron(features), data[i].X, data[i].Y, 8)); d < 1 {
			t.Errorf("the server received party %d's gradient within %g of the plain one", i, d)
		}
	}
}

// TestStepsAreUsed checks that the loops run the functions they are given: a
// Step that returns the model unchanged trains nothing.
func TestStepsAreUsed(t *testing.T) {
	const features = 12
	data := []Dataset{separable(20, features, 1), separable(20, features, 2)}
	frozen := Steps{Step: func(m Perceptron, _ Grad, _ float64) Perceptron { return m }}
	zero := NewPerceptron(features)
	models := map[string]Perceptron{
		"TrainLocal": frozen.TrainLocal(zero, data[0], 3, 8, 0.5, nil),
		"FedSGD":     frozen.FedSGD(zero, data, 3, 8, 0.5, nil),
	}
	m, err := FedAvg(zero, data, Dataset{}, FedConfig{Rounds: 2, LocalEpochs: 2, BatchSize: 8, LR: 0.5, Steps: frozen})
	if err != nil {
		t.Fatal(err)
	}
	models["FedAvg"] = m
	for name, m := range models {
		assertClose(t, name+" with a Step that does nothing", Grad(m), Grad(zero), 0)
	}
	calls := 0
	counted := Steps{Gradient: func(m Perceptron, x [][]float64, y []float64, bs int) Grad {
		calls++
		return Gradient(m, x, y, bs)
	}}
	if _, err := FedSGD(zero, data, Dataset{}, FedConfig{Rounds: 3, LR: 0.1, Steps: counted}); err != nil {
		t.Fatal(err)
	}
	if calls != 6 {
		t.Errorf("FedSGD called the given Gradient %d times, want 3 rounds x 2 parties", calls)
	}
}
