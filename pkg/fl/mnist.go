package fl

import (
	"fmt"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

// FromMNIST returns the images of s as a Dataset: one row of pixels/255 per
// image, labelled by its digit. Use it on sets of zeros and ones, whose
// digits are the 0/1 labels the perceptron needs.
func FromMNIST(s mnistio.Set) Dataset {
	return Dataset{X: s.Float64(), Y: s.LabelsFloat64()}
}

// LoadZerosAndOnes loads the original notebook's task: the first perDigit
// zeros and the first perDigit ones of MNIST's training set, shuffled with
// seed, and of its test set, in order (zeros first), with pixels/255 and label
// 0 or 1. The notebook uses perDigit = 200.
func LoadZerosAndOnes(perDigit int, seed int64) (train, test Dataset, err error) {
	trainSet, testSet, err := mnistio.LoadData()
	if err != nil {
		return Dataset{}, Dataset{}, fmt.Errorf("fl: %w", err)
	}
	return FromMNIST(trainSet.Digits(perDigit, 0, 1).Shuffle(seed)),
		FromMNIST(testSet.Digits(perDigit, 0, 1)), nil
}
