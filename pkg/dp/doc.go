// Package dp is differential privacy for federated learning: a Rényi
// differential privacy (RDP) accountant for the sampled Gaussian mechanism,
// and the building blocks of DP-FedAvg.
//
// # The accountant
//
// A mechanism is (α, ε)-RDP when the Rényi divergence of order α between its
// outputs on neighbouring data sets is at most ε (Mironov, "Rényi
// Differential Privacy", CSF 2017). RDP composes by addition: T steps of an
// (α, r)-RDP mechanism are (α, T·r)-RDP. The sampled Gaussian mechanism
// (each record joins a step with probability q, the sum of the clipped
// contributions gets Gaussian noise of standard deviation z times the clipping
// norm) has the RDP of Mironov, Talwar and Zhang, "Rényi Differential Privacy
// of the Sampled Gaussian Mechanism" (2019): [SampledGaussianRDP] computes it
// by the binomial expansion at integer orders and by the two-sided series of
// that paper at fractional orders, as TF Privacy and Google's dp_accounting
// do. [Epsilon] converts RDP to (ε, δ)-DP with the bound of Balle et al.
// (2020) that dp_accounting and Opacus use:
//
//	ε = min over α of  r(α) + log1p(-1/α) - log(δ·α)/(α - 1).
//
// [Accountant] keeps the RDP of a whole training run on [DefaultOrders], and
// [EpsilonForTraining] is TF Privacy's compute_dp_sgd_privacy.
//
// # DP-FedAvg
//
// McMahan, Ramage, Talwar and Zhang, "Learning Differentially Private
// Recurrent Language Models" (ICLR 2018): each round samples every client with
// probability q ([SampleClients]), clips each client's update to L2 norm C
// ([ClipL2]), sums the clipped updates (also through secure aggregation), adds
// Gaussian noise N(0, (zC)²) to each coordinate of the sum ([AddGaussianNoise])
// and divides by the expected number of clients qN. The round is one step of
// the sampled Gaussian mechanism with sampling rate q and noise multiplier z
// at the level of clients, which the [Accountant] counts.
//
// The noise is drawn in float64 by the standard library's normal sampler. A
// floating-point Gaussian is not exactly the mechanism analysed (Mironov,
// "On Significance of the Least Significant Bits for Differential Privacy",
// CCS 2012, shows attacks on the low bits of the Laplace case): the ε printed
// is the ε of the ideal mechanism.
package dp
