// Package fl is the federated learning of the course, in float64 on plain
// slices: a logistic perceptron trained by mini-batch SGD, the partition of a
// data set among parties, and the federated algorithms that train it without
// the parties' data leaving them: federated SGD, federated SGD with the
// notebook's pairwise masks, and federated averaging.
//
// The model is a [Perceptron] (weights W and bias B) predicting
// P(y = 1 | x) = σ(W·x + B), trained on the binary cross-entropy loss. A
// [Grad] has the same shape: a gradient, or any update of the model.
//
// # The notebook's exercises
//
// The course notebook has students write the small functions below, in this
// order; the functions of this package are the reference solutions, which the
// notebook's tests compare with:
//
//  1. Each party's data: [PartyData] (party i gets examples i·n to (i+1)·n-1
//     of the shuffled training set).
//  2. One party's training step: [Forward] (scores W·x + B), [Sigmoid],
//     [BatchGradient] (error p - y, gradient averaged over the batch, bias
//     included), [Step] (the update), [Predict] and [Accuracy]; [TrainStep]
//     puts them together, and [Train] runs the epochs.
//  3. getGradient: [Gradient], the average of the batch gradients over the
//     party's OWN data (the original notebook read the global training set
//     instead, a bug).
//  4. The server's averaging and update: [Average], then [Step] with the
//     average.
//  5. The shared masks and getGradientMasked: the masks are
//     secagg.NewPairMasks (one per pair of parties p and p + n/2), and
//     [MaskedGradient] adds or subtracts the pair's mask.
//
// [FedSGD], [MaskedFedSGD] and [FedAvg] are the whole round loops, with client
// sampling and a per-round callback; [IID], [Shards] and [Dirichlet] partition
// a data set among parties, from the notebook's equal split to strong label
// skew; [LoadZerosAndOnes] loads the notebook's task from MNIST.
//
// # Errors
//
// The functions of the exercises ([Forward], [BatchGradient], [Gradient],
// [Average], ...) are plain arithmetic and, like the standard library's,
// expect arguments of matching lengths: they panic on a mismatch, which is a
// programming error. The entry points that take a whole configuration or data
// set ([Train], [FedSGD], [MaskedFedSGD], [FedAvg], the partitions,
// [PartyData], [MaskedGradient]) check their arguments and return an error
// naming the problem.
package fl
