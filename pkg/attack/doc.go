// Package attack measures what still leaks from federated and split learning:
// gradient inversion, which recovers a client's training images from the
// update it sends, and label leakage, which recovers the labels a split
// learning data party was never given from the cut gradients it receives;
// and it measures the defences against them (secure aggregation, DP-FedAvg
// noise, larger batches, gradient noise at the cut).
//
// # Gradient inversion
//
//   - [InvertDense]: the analytic inversion of a Dense layer with a bias on
//     one example, x = dL/dW[:, i] / dL/db[i] for any unit i with
//     dL/db[i] != 0 (Phong et al., "Privacy-Preserving Deep Learning via
//     Additively Homomorphic Encryption", 2017; Geiping et al., "Inverting
//     Gradients - How easy is it to break privacy in federated learning?",
//     NeurIPS 2020). [InvertPerceptron] is the same on the course's
//     perceptron (package fl). Exact up to rounding.
//   - [Labels]: the labels from the sign of the last bias gradient (Zhao,
//     Mopuri and Bilen, "iDLG: Improved Deep Leakage from Gradients", 2020).
//   - [DLG]: Deep Leakage from Gradients (Zhu, Liu and Han, NeurIPS 2019):
//     dummy images optimised by Adam so that their gradient matches the
//     observed one, the gradient of the matching loss taken by GoMLX's
//     second-order reverse-mode autodiff.
//   - Peeling ([DLGOptions].Peel): the examples of a batch that some hidden
//     unit of the first layer sees alone are recovered exactly by the
//     analytic inversion of that unit, with the label that makes its bias
//     gradient come out; their gradients are subtracted and the rest goes to
//     DLG. It recovers batches of 8, and secure-aggregation sums of 10
//     one-image clients, exactly (bench/RESULTS.md).
//   - [AttackGradients]: the attacks against what a server sees in a
//     [Setting]: one client's gradient, the secure-aggregation sum of several
//     clients' gradients, or a DP-FedAvg noised sum (package dp), scored by
//     [PSNR] and [MSE] on pixels in [0, 1].
//
// The networks are GoMLX model functions of their own ([Net]): the course's
// perceptron and its federated MLP (784-64-10).
//
// # Label leakage at the split cut
//
// Li et al., "Label Leakage and Protection in Two-party Split Learning"
// (ICLR 2022): the data party of a two-party split network receives, for
// each example, the gradient of the loss with respect to its cut-layer
// output. [NormScores] (the norm attack) and [CosineScores] (the cosine
// attack) turn those gradients into label scores, and [AUC] measures the leak.
// [SplitLabelLeak] trains the course's split network 784-128-640 | 640-1 on
// a binary MNIST task with the cut gradient, attacks every epoch's cut
// gradients, and applies a [Defence]: isotropic noise or Li et al.'s
// max-norm heuristic (not their Marvell, which optimises the noise's
// covariance).
package attack
