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
// With Options.SecAgg the deltas are summed by secure aggregation
// (package secagg): each client quantizes n_k*delta to fixed point in
// Z_{2^32}, masks it, and the server learns only the sum of the weighted
// deltas and the sum of the counts, which is all a weighted mean needs.
// Quantization changes the result by at most SecAggOptions.Bound.
//
// Server and Client run the same rounds over ZeroMQ between processes: the
// server never sees a client's data, only model parameters and updates
// cross the wire, and a client that stops answering is dropped from the round
// after a timeout.
package fedavg
