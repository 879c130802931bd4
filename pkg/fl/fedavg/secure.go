package fedavg

import (
	"context"
	"errors"
)

// SecAggOptions configure secure aggregation of the weighted deltas.
type SecAggOptions struct {
	// Clip bounds every entry of a client's weighted delta n_k*delta to
	// [-Clip, Clip] before quantization (default 65536).
	Clip float64
}

func (o *SecAggOptions) validate() error { return nil }

func newSecureAggregator(o SecAggOptions, round, clients, dim int) (aggregator, error) {
	return nil, errors.New("fedavg: secure aggregation is not available yet")
}

func (s *Server) secureRound(ctx context.Context, state State, ids []int) (aggregator, error) {
	return nil, errors.New("fedavg: secure aggregation is not available yet")
}

func (w *worker) secureRound(ctx context.Context, m trainMsg) error {
	return errors.New("fedavg: secure aggregation is not available yet")
}
