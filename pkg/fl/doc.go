// Package fl is the federated learning of the course, in float64 on plain
// slices: a logistic perceptron trained by mini-batch SGD, the partition of a
// data set among parties, and the federated algorithms that train it without
// the parties' data leaving them: federated SGD, federated SGD with the
// notebook's pairwise masks, federated averaging, and federated SGD with
// differential privacy (DP-FedSGD).
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
//  2. The forward pass: [Forward] (scores W·x + B) and [Sigmoid].
//  3. The gradient and the update: [BatchGradient] (error p - y, gradient
//     averaged over the batch, bias included) and [Step].
//  4. One party's training loop: [Steps.TrainLocal], epochs of mini-batch SGD.
//  5. A party's gradient: [Gradient], the average of the batch gradients over
//     the party's OWN data (the original notebook read the global training
//     set instead, a bug).
//  6. The server's round loop: [Steps.FedSGD].
//  7. The masks: each pair of parties derives its [PairMask] from a secret
//     only the two share ([PairSecrets] simulates the agreement), and
//     [MaskedGradient] adds or subtracts it.
//  8. The masked round: [Steps.MaskedRound].
//
// The notebook's demonstrations then train with the student's functions:
// [Steps] holds them, and [Train], [FedSGD], [MaskedFedSGD], [FedAvg] and
// [DPFedSGD] run whichever they are given; [DPFedSGD] clips with the
// student's ClipL2 of the differential privacy exercise.
//
// [FedSGD], [MaskedFedSGD] and [FedAvg] are the whole round loops, with client
// sampling and a per-round callback; [DPFedSGD] is the round loop of
// DP-FedAvg (McMahan et al. 2018) with the clients' gradients as updates,
// built from package dp's sampling, clipping, noise and accountant. [IID],
// [Shards] and [Dirichlet] partition a data set among parties, from the
// notebook's equal split to strong label skew; [LoadZerosAndOnes] and
// [LoadDigitPair] load the notebook's tasks from MNIST.
//
// # Errors
//
// The functions of the exercises ([Forward], [BatchGradient], [Gradient],
// [Average], ...) are plain arithmetic and, like the standard library's,
// expect arguments of matching lengths: they panic on a mismatch, which is a
// programming error. The entry points that take a whole configuration or data
// set ([Train], [FedSGD], [MaskedFedSGD], [FedAvg], [DPFedSGD], the partitions,
// [PartyData], [PairSecrets]) check their arguments and return an error
// naming the problem.
package fl
