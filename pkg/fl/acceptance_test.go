package fl

import (
	"errors"
	"sync"
	"testing"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

// notebookData loads the original notebook's task (200 zeros and 200 ones
// of MNIST's training and test sets, the training set shuffled) and gives 10
// parties 32 examples each. It skips the test when the MNIST files are not
// installed.
func notebookData(t testing.TB) (parties []Dataset, test Dataset) {
	t.Helper()
	train, test, err := loadNotebookData()
	if errors.Is(err, mnistio.ErrNoData) {
		t.Skipf("MNIST not installed: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 400 || test.Len() != 400 || len(train.X[0]) != 784 {
		t.Fatalf("got %d training and %d test images of %d pixels, want 400, 400, 784", train.Len(), test.Len(), len(train.X[0]))
	}
	parties, err = PartyData(train, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return parties, test
}

// loadNotebookData loads the data once for all the tests.
func loadNotebookData() (train, test Dataset, err error) {
	notebook.once.Do(func() { notebook.train, notebook.test, notebook.err = LoadZerosAndOnes(200, 1) })
	return notebook.train, notebook.test, notebook.err
}

var notebook struct {
	once        sync.Once
	train, test Dataset
	err         error
}

// TestNotebookAcceptance runs the original notebook's three trainings at its
// sizes (batch 16, learning rate 0.1, 10 epochs or rounds): party 0 alone on
// its own labels, FedSGD and masked FedSGD; each must reach 99% accuracy on
// the 400 test images. FedAvg (one local epoch) must too.
func TestNotebookAcceptance(t *testing.T) {
	parties, test := notebookData(t)
	const bs, lr, epochs = 16, 0.1, 10
	fed := FedConfig{Rounds: epochs, BatchSize: bs, LR: lr, Seed: 1}
	runs := []struct {
		name string
		run  func() (Perceptron, error)
	}{
		{"single party", func() (Perceptron, error) {
			return Train(NewPerceptron(784), parties[0], test, TrainConfig{Epochs: epochs, BatchSize: bs, LR: lr})
		}},
		{"FedSGD", func() (Perceptron, error) { return FedSGD(NewPerceptron(784), parties, test, fed) }},
		{"masked FedSGD", func() (Perceptron, error) { return MaskedFedSGD(NewPerceptron(784), parties, test, fed) }},
		{"FedAvg", func() (Perceptron, error) {
			cfg := fed
			cfg.LocalEpochs = 1
			return FedAvg(NewPerceptron(784), parties, test, cfg)
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			m, err := r.run()
			if err != nil {
				t.Fatal(err)
			}
			loss, acc := Evaluate(m, test)
			t.Logf("test loss %.4f, test accuracy %.4f", loss, acc)
			if acc < 0.99 {
				t.Errorf("test accuracy %.4f, want >= 0.99", acc)
			}
		})
	}
}

// TestNotebookMaskedAggregate checks, on the notebook's data, that the server's
// average of the masked gradients is the average of the plain ones up to
// float rounding, and that the masked FedSGD model is FedSGD's.
func TestNotebookMaskedAggregate(t *testing.T) {
	parties, test := notebookData(t)
	m := NewPerceptron(784)
	secrets, err := PairSecrets(len(parties), 3)
	if err != nil {
		t.Fatal(err)
	}
	plainGrads := make([]Grad, len(parties))
	maskedGrads := make([]Grad, len(parties))
	for i, p := range parties {
		plainGrads[i] = Gradient(m, p.X, p.Y, 16)
		maskedGrads[i] = MaskedGradient(m, p.X, p.Y, 16, i, Partner(i, len(parties)), secrets[i])
	}
	assertClose(t, "average of masked gradients", Average(maskedGrads), Average(plainGrads), 1e-12*MaskScale)

	cfg := FedConfig{Rounds: 10, BatchSize: 16, LR: 0.1, Seed: 2}
	plain, err := FedSGD(NewPerceptron(784), parties, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	masked, err := MaskedFedSGD(NewPerceptron(784), parties, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(Grad(masked), Grad(plain)); d > 1e-10 {
		t.Errorf("masked and plain FedSGD models differ by up to %g", d)
	}
}
