package mnistio_test

import (
	"fmt"
	"log"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

func ExampleLoadData() {
	train, test, err := mnistio.LoadData()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("train:", train.Len(), "test:", test.Len(), "features:", train.Features())
	zeros, ones := test.Digits(0, 0), test.Digits(0, 1)
	fmt.Println("test zeros:", zeros.Len(), "ones:", ones.Len())
	// Output:
	// train: 60000 test: 10000 features: 784
	// test zeros: 980 ones: 1135
}

// The first 200 zeros and 200 ones of each set, scaled to [0, 1], as in
// the course notebook, then shared among 10 parties of 40 images.
func ExampleSet_Digits() {
	train, _, err := mnistio.LoadData()
	if err != nil {
		log.Fatal(err)
	}
	x := train.Digits(200, 0, 1).Shuffle(42)
	parts, err := x.Split(10, 40)
	if err != nil {
		log.Fatal(err)
	}
	rows := parts[0].Float64()
	fmt.Println(x, len(parts), parts[0].Len(), len(rows), len(rows[0]))
	// Output: Set{400 images 28×28} 10 40 40 784
}
