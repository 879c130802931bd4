package fedavg

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// aggregator collects the clients' updates of one round and returns the
// weighted mean delta and the round's metrics.
type aggregator interface {
	add(client int, u Update) error
	result() ([]float64, Metrics, error)
}

// newAggregator returns the round's aggregator: a plain weighted sum, or
// secure aggregation if the options ask for it.
func (p *Process) newAggregator(round, clients, dim int) (aggregator, error) {
	if p.opts.SecAgg != nil {
		return p.newSecureAggregator(round, clients, dim)
	}
	return &plainAggregator{dim: dim, updates: map[int]Update{}}, nil
}

// plainAggregator sums the updates in the clear, in client order so that
// the result does not depend on the order of arrival.
type plainAggregator struct {
	dim     int
	updates map[int]Update
}

func (a *plainAggregator) add(client int, u Update) error {
	if err := checkUpdate(client, u, a.dim); err != nil {
		return err
	}
	if _, dup := a.updates[client]; dup {
		return fmt.Errorf("fedavg: second update from client %d", client)
	}
	a.updates[client] = u
	return nil
}

func (a *plainAggregator) result() ([]float64, Metrics, error) {
	if len(a.updates) == 0 {
		return nil, Metrics{}, errors.New("fedavg: no client update to aggregate")
	}
	sum := make([]float64, a.dim)
	var weight, seen int
	var lossSum, correct float64
	clients := slices.Sorted(maps.Keys(a.updates))
	for _, k := range clients {
		u := a.updates[k]
		w := float64(u.Weight)
		for i, d := range u.Delta {
			sum[i] += w * float64(d)
		}
		weight += u.Weight
		seen += u.Seen
		lossSum += u.LossSum
		correct += u.Correct
	}
	for i := range sum {
		sum[i] /= float64(weight)
	}
	return sum, roundMetrics(lossSum, correct, seen, clients), nil
}

func roundMetrics(lossSum, correct float64, seen int, clients []int) Metrics {
	m := Metrics{Examples: seen, Clients: clients}
	if seen > 0 {
		m.Loss = lossSum / float64(seen)
		m.Accuracy = correct / float64(seen)
	}
	return m
}

// checkUpdate rejects an update that cannot be aggregated.
func checkUpdate(client int, u Update, dim int) error {
	switch {
	case len(u.Delta) != dim:
		return fmt.Errorf("fedavg: client %d sent a delta of %d values, want %d", client, len(u.Delta), dim)
	case u.Weight <= 0:
		return fmt.Errorf("fedavg: client %d sent weight %d, want > 0", client, u.Weight)
	case u.Seen < 0 || u.Correct < 0 || u.Correct > float64(u.Seen):
		return fmt.Errorf("fedavg: client %d sent inconsistent metrics (%v correct of %d seen)", client, u.Correct, u.Seen)
	}
	return nil
}
