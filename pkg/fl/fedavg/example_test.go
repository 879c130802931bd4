package fedavg_test

import (
	"fmt"
	"log"

	"github.com/ppml-go/ppml/pkg/fl/fedavg"
	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
)

// The course's TFF cell in Go: build the process from a model function and
// a client optimizer, initialize, and run rounds over the clients' data.
func Example() {
	train, test, err := mnistio.LoadData()
	if err != nil {
		log.Fatal(err)
	}
	// The 0/1 digits among the first 3000 training images, in 3 clients.
	clients, err := fedavg.DigitClients(train.Slice(0, 3000), 3, 1, 0, 1)
	if err != nil {
		log.Fatal(err)
	}
	testData, err := fedavg.DigitData(test, 0, 1)
	if err != nil {
		log.Fatal(err)
	}
	model := func() (*nn.Model, error) {
		m, err := nn.Sequential(784, nn.Dense(64, nn.ReLU), nn.Dense(2, nn.Softmax))
		if err != nil {
			return nil, err
		}
		return m, m.Initialize(nn.GlorotUniform, 1)
	}
	process, err := fedavg.New(model, nn.SGD{LearningRate: 0.02}, fedavg.Options{LocalEpochs: 2, BatchSize: 32, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	state, err := process.Initialize()
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		var metrics fedavg.Metrics
		state, metrics, err = process.Next(state, clients)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("round %d: %d clients, %d examples, training accuracy above 90%%: %v\n",
			state.Round, len(metrics.Clients), metrics.Examples, metrics.Accuracy > 0.9)
	}
	_, acc, err := process.Evaluate(state, testData)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("test accuracy above 99%%: %v\n", acc > 0.99)
	// Output:
	// round 1: 3 clients, 1248 examples, training accuracy above 90%: true
	// round 2: 3 clients, 1248 examples, training accuracy above 90%: true
	// round 3: 3 clients, 1248 examples, training accuracy above 90%: true
	// test accuracy above 99%: true
}

// With secure aggregation the server learns only the sum of the clients'
// weighted deltas and of their example counts; the result differs from the
// plain one by at most the quantization bound.
func ExampleSecAggOptions_Bound() {
	o := fedavg.SecAggOptions{} // default clip 1 on each delta entry, clients of up to 2^16 examples
	fmt.Printf("3 clients, 12663 examples: averaged delta within %.1e\n", o.Bound(3, 3, 12663))
	// Output:
	// 3 clients, 12663 examples: averaged delta within 2.2e-08
}
