// Package fedavg is federated averaging (McMahan et al., AISTATS 2017) with
// the shape of TensorFlow Federated's build_federated_averaging_process.
//
// A Process is built from a model function (any GoMLX model wrapped by
// pkg/nn: DenseModel, CNNModel, SequentialModel, or nn.New of a GoMLX model
// function) and a client optimizer (SGD with a learning rate), and
// optionally a server optimizer (by default SGD with learning rate 1.0 on
// the averaged model delta, as in TFF). Initialize returns the server
// State; Next runs one round, and Run is the loop of rounds (over clients
// in this process, Process.Local, or remote ones, Server.Round):
//
//  1. the server broadcasts the global parameters;
//  2. each client trains a copy for Options.LocalEpochs epochs over its own
//     data, in shuffled mini-batches of Options.BatchSize (the shuffling is
//     seeded by Options.Seed, the round and the client's index), and reports
//     its delta (trained minus global parameters), its example count n_k and
//     the loss and accuracy it measured while training;
//  3. the server averages the deltas weighted by n_k and applies the average
//     with its optimizer.
//
// The round's Metrics are TFF's: the example-weighted means over all clients
// of the loss and sparse categorical accuracy measured on each training batch
// (before the step on that batch).
//
// With Options.SecAgg the updates are summed by secure aggregation
// (package secagg, Bonawitz et al. 2017, passive option): each client clips
// its delta to [-Clip, Clip], quantizes n_k*delta to fixed point in
// Z_{2^32} and appends its example count, loss sum and correct count as
// exact integers, masks the whole vector, and the server learns only the
// sums: the weighted sum of the deltas and the totals, which is all a
// weighted mean and the round's metrics need. That holds against an
// honest-but-curious server (one that follows the protocol): a server that
// substitutes clients' keys can read one client's update (see package
// secagg's doc and its attack tests), and what the sum itself reveals
// (e.g. with few clients) is not hidden; combine with differential privacy
// for that. With SecAgg a round fails if fewer than SecAggOptions.Threshold
// clients are left at any stage. Quantization changes the result by at most
// SecAggOptions.Bound.
//
// With Options.DP the process is DP-FedAvg (McMahan et al., "Learning
// Differentially Private Recurrent Language Models", ICLR 2018; see
// DPOptions): each round samples each client with probability q, the
// sampled clients clip their deltas to an L2 norm C, the server adds
// Gaussian noise N(0, (zC)²) to their sum (also when it is computed by
// secure aggregation, then among the round's sample only) and divides by
// the expected number of clients qN; DPOptions.Epsilon gives the run's
// (ε, δ) by the RDP accountant of package dp, and NoiseSweep the accuracy
// against the noise multiplier.
//
// Server and Client run the same rounds over ZeroMQ between processes: the
// server never sees a client's data, only model parameters and updates
// cross the wire, and a client that stops answering is dropped from the round
// after a timeout.
package fedavg
