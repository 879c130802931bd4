package fedavg

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppml-go/ppml/pkg/nn"
)

// maxDiff returns the largest |a[i]-b[i]|.
func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// ulps returns the largest float32 spacing among the values of a.
func ulps(a []float32) float64 {
	u := 0.0
	for _, v := range a {
		u = max(u, float64(math.Nextafter32(float32(math.Abs(float64(v))), math.MaxFloat32)-float32(math.Abs(float64(v)))))
	}
	return u
}

// One round with secure aggregation gives the plain round's model up to the
// documented bound (scaled by the server's learning rate, plus one float32
// rounding), for several client counts and learning rates.
func TestSecAggRoundWithinBound(t *testing.T) {
	for _, tc := range []struct {
		clients   int
		serverLR  float64
		maxWeight int
	}{
		{2, 1, 0},
		{3, 1, 0},
		{3, 0.5, 4096},
		{5, 1, 0},
	} {
		clients, _ := smallClients(t, 2000, tc.clients, 3)
		opts := Options{LocalEpochs: 2, BatchSize: 16, Seed: 9, Server: &nn.SGD{LearningRate: tc.serverLR}}
		plain := newProcess(t, opts)
		opts.SecAgg = &SecAggOptions{MaxWeight: tc.maxWeight}
		secure := newProcess(t, opts)
		state, err := plain.Initialize()
		if err != nil {
			t.Fatal(err)
		}
		want, wm, err := plain.Next(state, clients)
		if err != nil {
			t.Fatal(err)
		}
		got, gm, err := secure.Next(state, clients)
		if err != nil {
			t.Fatal(err)
		}
		examples := 0
		for _, d := range clients {
			examples += d.Len()
		}
		bound := tc.serverLR*opts.SecAgg.Bound(tc.clients, tc.clients, examples) + ulps(want.Params)
		if d := maxDiff(got.Params, want.Params); d > bound || gm.Clipped != 0 {
			t.Errorf("%d clients, lr %v: secure and plain models differ by %g (bound %g), %d entries clipped", tc.clients, tc.serverLR, d, bound, gm.Clipped)
		}
		// The counts are exact integers in the secure sum, the loss sum
		// fixed point with 32 fractional bits per client.
		lossBound := float64(tc.clients) * 0x1p-32 / float64(wm.Examples)
		if math.Abs(gm.Loss-wm.Loss) > lossBound || gm.Accuracy != wm.Accuracy || gm.Examples != wm.Examples || !slices.Equal(gm.Clients, wm.Clients) {
			t.Errorf("%d clients: secure metrics %+v, plain %+v", tc.clients, gm, wm)
		}
	}
}

// Over several rounds the secure model stays next to the plain one and
// classifies the test digits the same.
func TestSecAggFinalModelMatchesPlain(t *testing.T) {
	clients, test := smallClients(t, 3000, 3, 1)
	opts := Options{LocalEpochs: 1, BatchSize: 32, Seed: 1}
	plain := newProcess(t, opts)
	want, _ := run(t, plain, clients, 3)
	opts.SecAgg = &SecAggOptions{}
	secure := newProcess(t, opts)
	got, _ := run(t, secure, clients, 3)
	if d := maxDiff(got.Params, want.Params); d > 1e-5 {
		t.Errorf("after 3 rounds the secure and plain models differ by %g", d)
	}
	_, pa, _ := plain.Evaluate(want, test)
	_, sa, _ := secure.Evaluate(got, test)
	if pa != sa {
		t.Errorf("test accuracy %v with secure aggregation, %v without", sa, pa)
	}
}

// Entries beyond the clip range are clipped, counted, and reported with a
// warning.
func TestSecAggCountsClipping(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	clients, _ := smallClients(t, 1000, 2, 1)
	p := newProcess(t, Options{LocalEpochs: 2, BatchSize: 8, SecAgg: &SecAggOptions{Clip: 1e-3}})
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, m, err := p.Next(state, clients); err != nil || m.Clipped == 0 {
		t.Fatalf("Next: %v, %d clipped entries; want some clipped", err, m.Clipped)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "clipped") {
		t.Errorf("no clipping warning in the log: %q", logs.String())
	}
}

// The clip bounds the model delta each client computes, whatever its
// example count: two clients with the same delta and 10 and 1000 examples
// are clipped alike (it used to bound n_k*delta, clipping the client with
// more data harder), and the weighted mean of the clipped deltas comes out.
func TestSecAggClipOnDelta(t *testing.T) {
	o := SecAggOptions{Clip: 1, MaxWeight: 1000}
	q := o.quantizer(2)
	cfgSum := func(delta float32) (secureSum, error) {
		sum := make([]uint32, 2+metaWords)
		for k, w := range []int{10, 1000} {
			in, err := o.secureInput(q, Update{Delta: []float32{delta, -delta}, Weight: w, Seen: w, Correct: 1, LossSum: 0.5}, 1, 0, k)
			if err != nil {
				return secureSum{}, err
			}
			for i, x := range in {
				sum[i] += x
			}
		}
		return decodeSum(q, sum, 2)
	}
	s, err := cfgSum(0.9)
	if err != nil || s.clipped != 0 || math.Abs(s.avg[0]-float64(float32(0.9))) > o.Bound(2, 2, 1010) || s.weight != 1010 || s.seen != 1010 || s.correct != 2 || s.lossSum != 1 {
		t.Errorf("delta 0.9 under clip 1: %+v, %v; want nothing clipped, mean 0.9, exact totals", s, err)
	}
	s, err = cfgSum(1.5)
	if err != nil || s.clipped != 4 || math.Abs(s.avg[0]-1) > o.Bound(2, 2, 1010) || math.Abs(s.avg[1]+1) > o.Bound(2, 2, 1010) {
		t.Errorf("delta 1.5 under clip 1: %+v, %v; want 4 entries clipped to ±1", s, err)
	}
	if _, err := o.secureInput(q, Update{Delta: []float32{0}, Weight: 1001, Seen: 1}, 1, 0, 0); err == nil || !strings.Contains(err.Error(), "MaxWeight") {
		t.Errorf("a client above MaxWeight: %v", err)
	}
}

func TestSecAggOptionsValidate(t *testing.T) {
	for _, o := range []SecAggOptions{{Clip: -1}, {Clip: math.Inf(1)}, {Threshold: -2}, {MaxWeight: -1}} {
		if _, err := New(DenseModel(784, 8, 2, 1), nn.SGD{LearningRate: 0.1}, Options{SecAgg: &o}); err == nil || !strings.Contains(err.Error(), "secure aggregation") {
			t.Errorf("options %+v: error %v", o, err)
		}
	}
	p := newProcess(t, Options{SecAgg: &SecAggOptions{}})
	state, _ := p.Initialize()
	clients, _ := smallClients(t, 500, 1, 1)
	if _, _, err := p.Next(state, clients); err == nil || !strings.Contains(err.Error(), "at least 2 clients") {
		t.Errorf("secure round with one client: %v", err)
	}
}

// Client processes with secure aggregation give exactly the in-process
// secure model: quantization is seeded and the masked sum is exact.
func TestRemoteSecAggMatchesInProcess(t *testing.T) {
	const seed = 8
	opts := Options{LocalEpochs: 2, BatchSize: 16, Seed: seed, SecAgg: &SecAggOptions{}}
	clients, _ := smallClients(t, remoteImages, 3, seed)
	want, wantMetrics := run(t, newProcess(t, opts), clients, 2)
	p := newProcess(t, opts)
	srv, procs := startRemote(t, p, 3, seed, 5*time.Second)
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		var m Metrics
		if state, m, err = srv.Next(context.Background(), state); err != nil {
			t.Fatal(err)
		}
		if !metricsEqual(m, wantMetrics[r]) {
			t.Errorf("round %d: remote metrics %+v, in-process %+v", r, m, wantMetrics[r])
		}
	}
	if !slices.Equal(state.Params, want.Params) {
		t.Fatalf("remote secure model differs from the in-process one by %g", maxDiff(state.Params, want.Params))
	}
	srv.Close()
	for id, c := range procs {
		if err := c.exitStatus(t); err != nil {
			t.Errorf("client %d exited with %v", id, err)
		}
	}
}

// A client killed while it trains, after it has shared its keys, is dropped;
// its masks are removed through the unmasking stage and the round gives
// the survivors' average.
func TestRemoteSecAggClientKilledMidRound(t *testing.T) {
	const seed = 6
	opts := Options{LocalEpochs: 3, BatchSize: 8, Seed: seed, SecAgg: &SecAggOptions{}}
	p := newProcess(t, opts)
	t.Setenv("FEDAVG_HANG", "1:round 0: training") // it stands still there until killed
	srv, procs := startRemote(t, p, 3, seed, time.Second)
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for line := range procs[1].lines {
			if strings.Contains(line, "round 0: training") {
				procs[1].cmd.Process.Kill()
				return
			}
		}
	})
	got, m, err := srv.Next(context.Background(), state)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Clients, []int{0, 2}) || !slices.Equal(m.Dropped, []int{1}) {
		t.Fatalf("aggregated %v and dropped %v; want [0 2] and [1]", m.Clients, m.Dropped)
	}
	clients, _ := smallClients(t, remoteImages, 3, seed)
	opts.SecAgg = nil
	plain := newProcess(t, opts)
	var survivors = []Dataset{clients[0], clients[1], clients[2]}
	// The plain round of clients 0 and 2 alone, with their own indices.
	want := plainRoundOf(t, plain, state, survivors, []int{0, 2})
	bound := SecAggOptions{}.Bound(3, 2, clients[0].Len()+clients[2].Len()) + ulps(want)
	if d := maxDiff(got.Params, want); d > bound {
		t.Fatalf("round without client 1 differs from the survivors' plain round by %g (bound %g)", d, bound)
	}
	srv.Close()
	for _, id := range []int{0, 2} {
		if err := procs[id].exitStatus(t); err != nil {
			t.Errorf("client %d exited with %v", id, err)
		}
	}
}

// plainRoundOf runs a plain round of the given clients (by index into data)
// and returns the new parameters.
func plainRoundOf(t *testing.T, p *Process, state State, data []Dataset, ids []int) []float32 {
	t.Helper()
	m, err := p.instance()
	if err != nil {
		t.Fatal(err)
	}
	agg := &plainAggregator{dim: len(state.Params), updates: map[int]Update{}}
	for _, k := range ids {
		u, err := LocalUpdate(m, state.Params, data[k], p.trainConfig(), state.Round, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := agg.add(k, u); err != nil {
			t.Fatal(err)
		}
	}
	next, _, err := p.finish(state, agg)
	if err != nil {
		t.Fatal(err)
	}
	return next.Params
}
