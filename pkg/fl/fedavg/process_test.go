package fedavg

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
)

var mnist = sync.OnceValues(func() ([2]mnistio.Set, error) {
	train, test, err := mnistio.LoadData()
	return [2]mnistio.Set{train, test}, err
})

// smallClients returns the 0/1 digits among the first n training images,
// partitioned among clients as the original does, and the 0/1 test digits
// among the first 1000 test images.
func smallClients(t testing.TB, n, clients int, seed int64) ([]Dataset, Dataset) {
	t.Helper()
	sets, err := mnist()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := DigitClients(sets[0].Slice(0, n), clients, seed, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	test, err := DigitData(sets[1].Slice(0, 1000), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return parts, test
}

func newProcess(t testing.TB, opts Options) *Process {
	t.Helper()
	p, err := New(DenseModel(784, 16, 2, 7), nn.SGD{LearningRate: 0.02}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t testing.TB, p *Process, clients []Dataset, rounds int) (State, []Metrics) {
	t.Helper()
	var ms []Metrics
	state, err := p.Run(rounds, p.Local(clients), func(round int, m Metrics) error {
		if round != len(ms)+1 {
			t.Errorf("onRound called for round %d after %d rounds", round, len(ms))
		}
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state, ms
}

func TestNewRejectsBadOptions(t *testing.T) {
	model := DenseModel(784, 8, 2, 1)
	neg := nn.SGD{LearningRate: -1}
	for _, tc := range []struct {
		name   string
		model  ModelFunc
		client nn.SGD
		opts   Options
		want   string
	}{
		{"nil model", nil, nn.SGD{LearningRate: 0.1}, Options{}, "nil model"},
		{"zero client rate", model, nn.SGD{}, Options{}, "client learning rate"},
		{"NaN client rate", model, nn.SGD{LearningRate: math.NaN()}, Options{}, "client learning rate"},
		{"negative epochs", model, nn.SGD{LearningRate: 0.1}, Options{LocalEpochs: -1}, "local epochs"},
		{"negative batch", model, nn.SGD{LearningRate: 0.1}, Options{BatchSize: -3}, "batch size"},
		{"negative server rate", model, nn.SGD{LearningRate: 0.1}, Options{Server: &neg}, "server learning rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.model, tc.client, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDatasetValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Dataset
		want string
	}{
		{"ok", Dataset{Features: 2, X: []float32{1, 2, 3, 4}, Y: []int32{0, 1}}, ""},
		{"no features", Dataset{X: []float32{1}, Y: []int32{0}}, "features"},
		{"empty", Dataset{Features: 2}, "empty"},
		{"short X", Dataset{Features: 2, X: []float32{1, 2, 3}, Y: []int32{0, 1}}, "3 values for 2 examples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestNextRejectsBadData(t *testing.T) {
	p := newProcess(t, Options{})
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	good := Dataset{Features: 784, X: make([]float32, 784), Y: []int32{1}}
	for _, tc := range []struct {
		name string
		data []Dataset
		want string
	}{
		{"no clients", nil, "no clients"},
		{"empty client", []Dataset{good, {Features: 784}}, "client 1: fedavg: dataset is empty"},
		{"wrong width", []Dataset{{Features: 10, X: make([]float32, 10), Y: []int32{0}}}, "10 features, the model takes 784"},
		{"bad label", []Dataset{{Features: 784, X: make([]float32, 784), Y: []int32{5}}}, "label 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, _, err := p.Next(state, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Next: error %v, want one containing %q", err, tc.want)
			}
			if next.Round != state.Round {
				t.Errorf("a failed round advanced the state to round %d", next.Round)
			}
		})
	}
}

// The server applies the example-weighted mean of the clients' deltas: with
// server learning rate 1 the new model is the weighted mean of the clients'
// trained models, and with rate 0.5 it moves half way.
func TestNextAveragesDeltasWeightedByExamples(t *testing.T) {
	clients, _ := smallClients(t, 1500, 3, 1)
	clients[2] = Dataset{Features: 784, X: clients[2].X[:784*20], Y: clients[2].Y[:20]} // unequal weights
	for _, lr := range []float64{1, 0.5} {
		p := newProcess(t, Options{LocalEpochs: 2, BatchSize: 8, Seed: 3, Server: &nn.SGD{LearningRate: lr}})
		state, err := p.Initialize()
		if err != nil {
			t.Fatal(err)
		}
		next, metrics, err := p.Next(state, clients)
		if err != nil {
			t.Fatal(err)
		}
		m, err := DenseModel(784, 16, 2, 7)()
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(state.Params))
		var total, seen int
		var lossSum float64
		for k, d := range clients {
			u, err := LocalUpdate(m, state.Params, d, p.trainConfig(), 0, k)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range u.Delta {
				want[i] += float64(u.Weight) * float64(v)
			}
			total += d.Len()
			seen += u.Seen
			lossSum += u.LossSum
		}
		for i := range want {
			want[i] = float64(state.Params[i]) + lr*want[i]/float64(total)
			if d := math.Abs(want[i] - float64(next.Params[i])); d > 1e-6 {
				t.Fatalf("lr %v: parameter %d is %v, want the weighted mean %v", lr, i, next.Params[i], want[i])
			}
		}
		if next.Round != 1 || metrics.Examples != seen || seen != 2*total {
			t.Errorf("round %d, %d examples seen; want round 1, %d", next.Round, metrics.Examples, 2*total)
		}
		if math.Abs(metrics.Loss-lossSum/float64(seen)) > 1e-12 || len(metrics.Clients) != 3 {
			t.Errorf("metrics %+v, want loss %v over 3 clients", metrics, lossSum/float64(seen))
		}
	}
}

// Training is a function of the seeds: two processes give the same models,
// and another seed gives another one.
func TestNextIsDeterministic(t *testing.T) {
	clients, _ := smallClients(t, 1000, 2, 5)
	opts := Options{LocalEpochs: 2, BatchSize: 16, Seed: 11}
	a, _ := run(t, newProcess(t, opts), clients, 2)
	b, _ := run(t, newProcess(t, opts), clients, 2)
	if !slices.Equal(a.Params, b.Params) {
		t.Fatal("two runs with the same seeds differ")
	}
	opts.Seed = 12
	c, _ := run(t, newProcess(t, opts), clients, 2)
	if slices.Equal(a.Params, c.Params) {
		t.Fatal("another shuffling seed gave the same model")
	}
}

func TestTrainingLearns(t *testing.T) {
	clients, test := smallClients(t, 3000, 3, 2)
	p := newProcess(t, Options{LocalEpochs: 1, BatchSize: 32, Seed: 1})
	state, ms := run(t, p, clients, 3)
	if ms[2].Loss >= ms[0].Loss {
		t.Errorf("training loss went from %v to %v", ms[0].Loss, ms[2].Loss)
	}
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.98 {
		t.Errorf("test accuracy %v after 3 rounds, want >= 0.98", acc)
	}
}

// The course's configuration: all 0/1 training digits (12665 images) among
// 3 clients, batch 32, 10 local epochs, SGD lr 0.02, 10 rounds.
func TestAcceptanceNotebookConfiguration(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 10 rounds on 12665 images")
	}
	sets, err := mnist()
	if err != nil {
		t.Fatal(err)
	}
	clients, err := DigitClients(sets[0], 3, 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	test, err := DigitData(sets[1], 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := clients[0].Len() * 3; n != 12663 || test.Len() != 2115 {
		t.Fatalf("%d training images in clients and %d test images, want 12663 (12665 // 3 * 3) and 2115", n, test.Len())
	}
	p, err := New(DenseModel(784, 64, 2, 1), nn.SGD{LearningRate: 0.02}, Options{LocalEpochs: 10, BatchSize: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	state, ms := run(t, p, clients, 10)
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("last round %+v; test accuracy %.4f", ms[9], acc)
	if acc < 0.995 {
		t.Errorf("test accuracy %.4f, want >= 0.995", acc)
	}
}

// TestCNNFederated trains the small CNN (nn.MNISTCNN) on 10-class MNIST
// among 3 clients through the same Process as the dense model: it learns.
func TestCNNFederated(t *testing.T) {
	sets, err := mnist()
	if err != nil {
		t.Fatal(err)
	}
	digits := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	clients, err := DigitClients(sets[0].Slice(0, 1800), 3, 1, digits...)
	if err != nil {
		t.Fatal(err)
	}
	test, err := DigitData(sets[1].Slice(0, 1000), digits...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(CNNModel(10, 1), nn.SGD{LearningRate: 0.1}, Options{LocalEpochs: 2, BatchSize: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	state, ms := run(t, p, clients, 3)
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rounds %+v; test accuracy %.4f", ms, acc)
	if ms[2].Loss >= ms[0].Loss || acc < 0.75 {
		t.Errorf("training loss %v -> %v, test accuracy %.4f; want a falling loss and >= 0.75", ms[0].Loss, ms[2].Loss, acc)
	}
}

// TestGoMLXModelFederated averages a model written as a GoMLX model
// function (ml/layers), not built by nn.Sequential: it learns the 0/1
// digits like the course's model.
func TestGoMLXModelFederated(t *testing.T) {
	clients, test := smallClients(t, 3000, 3, 2)
	modelFn := func() (*nn.Model, error) {
		m, err := nn.New(func(scope *model.Scope, x *graph.Node) *graph.Node {
			h := activation.Relu(layers.DenseWithBias(scope.In("hidden"), x, 16))
			return layers.DenseWithBias(scope.In("logits"), h, 2)
		}, nn.Softmax, 784)
		if err != nil {
			return nil, err
		}
		return m, m.Initialize(nn.GlorotUniform, 7)
	}
	p, err := New(modelFn, nn.SGD{LearningRate: 0.02}, Options{LocalEpochs: 1, BatchSize: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := run(t, p, clients, 3)
	_, acc, err := p.Evaluate(state, test)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.98 {
		t.Errorf("test accuracy %v after 3 rounds, want >= 0.98", acc)
	}
}
