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
	return LoadDigitPair(0, 1, perDigit, seed)
}

// LoadDigitPair is LoadZerosAndOnes for any two digits: the first perDigit
// images of digit a (label 0) and of digit b (label 1) of MNIST's training
// set, shuffled with seed, and of its test set, in order. A perDigit of 0 or
// less takes every image of the two digits. Some pairs (4 and 9, 3 and 5) are much
// harder for a linear model than 0 and 1.
func LoadDigitPair(a, b, perDigit int, seed int64) (train, test Dataset, err error) {
	if a == b || a < 0 || b < 0 || a > 9 || b > 9 {
		return Dataset{}, Dataset{}, fmt.Errorf("fl: digits %d and %d: want two different digits 0 to 9", a, b)
	}
	trainSet, testSet, err := mnistio.LoadData()
	if err != nil {
		return Dataset{}, Dataset{}, fmt.Errorf("fl: %w", err)
	}
	pair := func(s mnistio.Set) Dataset {
		d := FromMNIST(s)
		for i, l := range s.Labels {
			d.Y[i] = 0
			if int(l) == b {
				d.Y[i] = 1
			}
		}
		return d
	}
	return pair(trainSet.Digits(perDigit, a, b).Shuffle(seed)), pair(testSet.Digits(perDigit, a, b)), nil
}
