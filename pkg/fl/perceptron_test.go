package fl

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSigmoid(t *testing.T) {
	tests := []struct {
		z, want float64
	}{
		{0, 0.5},
		{math.Log(3), 0.75},
		{-math.Log(3), 0.25},
		{800, 1},
		{-800, 0},
	}
	for _, tt := range tests {
		if got := Sigmoid(tt.z); math.Abs(got-tt.want) > 1e-15 {
			t.Errorf("Sigmoid(%v) = %v, want %v", tt.z, got, tt.want)
		}
	}
}

func TestForwardPredict(t *testing.T) {
	m := Perceptron{W: []float64{1, -2}, B: 0.5}
	x := [][]float64{{0, 0}, {1, 1}, {2, 0.25}}
	wantZ := []float64{0.5, -0.5, 2}
	z := Forward(m, x)
	for i := range wantZ {
		if z[i] != wantZ[i] {
			t.Errorf("Forward row %d = %v, want %v", i, z[i], wantZ[i])
		}
	}
	p := Probabilities(m, x)
	for i := range wantZ {
		if p[i] != Sigmoid(wantZ[i]) {
			t.Errorf("Probabilities row %d = %v, want %v", i, p[i], Sigmoid(wantZ[i]))
		}
	}
	pred := Predict(m, x)
	if want := []float64{1, 0, 1}; !slices.Equal(pred, want) {
		t.Errorf("Predict = %v, want %v", pred, want)
	}
	if got := Threshold(p, 0.5); !slices.Equal(got, pred) {
		t.Errorf("Threshold(probabilities, 0.5) = %v, want Predict's %v", got, pred)
	}
}

func TestAccuracy(t *testing.T) {
	tests := []struct {
		pred, y []float64
		want    float64
	}{
		{nil, nil, 0},
		{[]float64{1, 0, 1, 1}, []float64{1, 0, 0, 1}, 0.75},
		{[]float64{0, 0}, []float64{1, 1}, 0},
	}
	for _, tt := range tests {
		if got := Accuracy(tt.pred, tt.y); got != tt.want {
			t.Errorf("Accuracy(%v, %v) = %v, want %v", tt.pred, tt.y, got, tt.want)
		}
	}
}

// TestBatchGradientIsLossGradient checks BatchGradient against central
// differences of Loss, for every weight and the bias.
func TestBatchGradientIsLossGradient(t *testing.T) {
	d := separable(12, 5, 1)
	m := randomModel(5, 2)
	g := BatchGradient(m, d.X, d.Y)
	const h = 1e-6
	numeric := Grad{W: make([]float64, len(m.W))}
	for j := range m.W {
		plus, minus := clone(m), clone(m)
		plus.W[j] += h
		minus.W[j] -= h
		numeric.W[j] = (Loss(plus, d.X, d.Y) - Loss(minus, d.X, d.Y)) / (2 * h)
	}
	plus, minus := clone(m), clone(m)
	plus.B += h
	minus.B -= h
	numeric.B = (Loss(plus, d.X, d.Y) - Loss(minus, d.X, d.Y)) / (2 * h)
	assertClose(t, "BatchGradient vs finite differences", g, numeric, 1e-8)
}

func clone(m Perceptron) Perceptron {
	return Perceptron{W: append([]float64(nil), m.W...), B: m.B}
}

func TestLossFiniteAtSaturation(t *testing.T) {
	m := Perceptron{W: []float64{1000}}
	x := [][]float64{{1}, {-1}}
	if got := Loss(m, x, []float64{1, 0}); got > 1e-300 || got < 0 {
		t.Errorf("Loss of confident right answers = %v, want ~0", got)
	}
	if got := Loss(m, x, []float64{0, 1}); math.Abs(got-1000) > 1e-9 {
		t.Errorf("Loss of confident wrong answers = %v, want 1000", got)
	}
}

func TestStepLeavesModelUnchanged(t *testing.T) {
	m := Perceptron{W: []float64{1, 2}, B: 3}
	next := Step(m, Grad{W: []float64{10, -10}, B: 1}, 0.1)
	if want := (Perceptron{W: []float64{0, 3}, B: 2.9}); !slices.Equal(next.W, want.W) || next.B != want.B {
		t.Errorf("Step = %+v, want %+v", next, want)
	}
	if m.W[0] != 1 || m.W[1] != 2 || m.B != 3 {
		t.Errorf("Step changed its argument to %+v", m)
	}
}

func TestTrainStep(t *testing.T) {
	d := separable(16, 4, 3)
	m := randomModel(4, 4)
	next, acc := TrainStep(m, d.X, d.Y, 0.5)
	if want := Accuracy(Predict(m, d.X), d.Y); acc != want {
		t.Errorf("TrainStep accuracy = %v, want the model's before the step, %v", acc, want)
	}
	want := Step(m, BatchGradient(m, d.X, d.Y), 0.5)
	assertClose(t, "TrainStep model", Grad(next), Grad(want), 0)
}

func TestTrain(t *testing.T) {
	train, test := separable(200, 6, 5), separable(100, 6, 6)
	var metrics []EpochMetrics
	m0 := NewPerceptron(6)
	m, err := Train(m0, train, test, TrainConfig{Epochs: 30, BatchSize: 16, LR: 1,
		OnEpoch: func(e EpochMetrics) { metrics = append(metrics, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(metrics) != 30 {
		t.Fatalf("OnEpoch called %d times, want 30", len(metrics))
	}
	for i, e := range metrics {
		if e.Epoch != i {
			t.Errorf("metrics %d has epoch %d", i, e.Epoch)
		}
	}
	first, last := metrics[0], metrics[len(metrics)-1]
	if !(last.Loss < first.Loss/2) {
		t.Errorf("loss went from %v to %v, want it at least halved", first.Loss, last.Loss)
	}
	if last.TrainAcc < 0.95 || last.TestAcc < 0.9 {
		t.Errorf("last epoch: train accuracy %v, test accuracy %v; want >= 0.95 and >= 0.9", last.TrainAcc, last.TestAcc)
	}
	if _, acc := Evaluate(m, test); acc != last.TestAcc {
		t.Errorf("Evaluate of the trained model = %v, last epoch's test accuracy %v", acc, last.TestAcc)
	}
	if m0.B != 0 || m0.W[0] != 0 {
		t.Errorf("Train changed its argument")
	}
	if _, err := Train(m0, train, Dataset{}, TrainConfig{Epochs: 1, BatchSize: 16, LR: 1,
		OnEpoch: func(e EpochMetrics) {
			if !math.IsNaN(e.TestAcc) {
				t.Errorf("test accuracy without a test set = %v, want NaN", e.TestAcc)
			}
		}}); err != nil {
		t.Fatal(err)
	}
}

func TestTrainErrors(t *testing.T) {
	good := separable(10, 3, 7)
	ok := TrainConfig{Epochs: 1, BatchSize: 4, LR: 0.1}
	tests := []struct {
		name        string
		train, test Dataset
		cfg         TrainConfig
		want        string
	}{
		{"negative epochs", good, Dataset{}, TrainConfig{Epochs: -1, BatchSize: 4, LR: 0.1}, "epochs"},
		{"negative batch", good, Dataset{}, TrainConfig{Epochs: 1, BatchSize: -4, LR: 0.1}, "batch size"},
		{"zero lr", good, Dataset{}, TrainConfig{Epochs: 1, BatchSize: 4}, "learning rate"},
		{"NaN lr", good, Dataset{}, TrainConfig{Epochs: 1, BatchSize: 4, LR: math.NaN()}, "learning rate"},
		{"empty", Dataset{}, Dataset{}, ok, "empty"},
		{"lengths", Dataset{X: good.X, Y: good.Y[:3]}, Dataset{}, ok, "10 rows but 3 labels"},
		{"width", Dataset{X: [][]float64{{1, 2}}, Y: []float64{1}}, Dataset{}, ok, "row 0 has 2 features"},
		{"label", Dataset{X: [][]float64{{1, 2, 3}}, Y: []float64{7}}, Dataset{}, ok, "label 0 is 7"},
		{"NaN", Dataset{X: [][]float64{{1, math.NaN(), 3}}, Y: []float64{1}}, Dataset{}, ok, "feature 1 is NaN"},
		{"test width", good, Dataset{X: [][]float64{{1}}, Y: []float64{1}}, ok, "test set: row 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Train(NewPerceptron(3), tt.train, tt.test, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Train error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
