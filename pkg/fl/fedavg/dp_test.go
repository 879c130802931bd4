package fedavg

import (
	"math"
	"slices"
	"testing"

	"github.com/ppml-go/ppml/pkg/dp"
	"github.com/ppml-go/ppml/pkg/fl/secagg"
	"github.com/ppml-go/ppml/pkg/nn"
)

// dpWant is DP-FedAvg's round computed from its definition: the listed
// clients train from state, each delta is clipped to L2 norm o.Clip, the
// sum gets the round's seeded noise and is divided by q*n, and the server
// step (learning rate 1) applies it.
func dpWant(t *testing.T, p *Process, o DPOptions, state State, data []Dataset, n int, clients []int) (want []float32, clipped int) {
	t.Helper()
	m, err := p.instance()
	if err != nil {
		t.Fatal(err)
	}
	sum := make([]float64, len(state.Params))
	for _, k := range clients {
		u, err := LocalUpdate(m, state.Params, data[k], p.trainConfig(), state.Round, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, c, err := dp.ClipL2(u.Delta, o.Clip); err != nil {
			t.Fatal(err)
		} else if c {
			clipped++
		}
		for i, d := range u.Delta {
			sum[i] += float64(d)
		}
	}
	mean, err := o.noisyMean(sum, n, state.Round)
	if err != nil {
		t.Fatal(err)
	}
	return applyDelta(state.Params, mean, 1), clipped
}

// With noise 0, a DP-FedAvg round is exactly the sum of the sampled
// clients' clipped deltas over q*n (plain) or within the quantization bound
// (secure aggregation among the sample); with noise, the same plus the
// seeded noise.
func TestDPRoundIsClippedNoisySum(t *testing.T) {
	const n, seed = 8, 3
	data, _ := smallClients(t, 1500, n, seed)
	for _, tc := range []struct {
		name   string
		noise  float64
		secure bool
	}{
		{"plain", 0, false},
		{"plain noise", 1, false},
		{"secure", 0, true},
		{"secure noise", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DPOptions{Clip: 0.05, Noise: tc.noise, Sample: 0.5, Seed: 11}
			opts := Options{LocalEpochs: 1, BatchSize: 16, Seed: seed, DP: &o}
			if tc.secure {
				opts.SecAgg = &SecAggOptions{}
			}
			p := newProcess(t, opts)
			state, err := p.Initialize()
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				got, m, err := p.Next(state, data)
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Sampled) == 0 || len(m.Sampled) == n || !slices.Equal(m.Clients, m.Sampled) {
					t.Fatalf("round %d sampled %v and aggregated %v; want a proper sample, all aggregated", state.Round, m.Sampled, m.Clients)
				}
				want, clipped := dpWant(t, newProcess(t, Options{LocalEpochs: 1, BatchSize: 16, Seed: seed}), o, state, data, n, m.Sampled)
				if clipped == 0 {
					t.Fatalf("no delta was clipped: the test does not test clipping")
				}
				bound := ulps(want)
				if tc.secure {
					c := len(m.Clients)
					bound += o.secAgg().Bound(c, c, c) * float64(c) / (o.Sample * n)
				}
				if d := maxDiff(got.Params, want); d > bound {
					t.Fatalf("round %d differs from the clipped noisy mean by %g (bound %g)", state.Round, d, bound)
				}
				state = got
			}
		})
	}
}

// The noise has the standard deviation z*C/(q*n) on the mean, and a seeded
// run is reproducible.
func TestDPNoiseScale(t *testing.T) {
	const n, seed = 6, 5
	data, _ := smallClients(t, 1500, n, seed)
	round := func(noise float64) State {
		o := DPOptions{Clip: 0.1, Noise: noise, Sample: 0.5, Seed: 9}
		p := newProcess(t, Options{Seed: seed, DP: &o})
		state, err := p.Initialize()
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := p.Next(state, data)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	quiet, noisy, again := round(0), round(2), round(2)
	if !slices.Equal(noisy.Params, again.Params) {
		t.Fatal("two seeded runs differ")
	}
	var sum, sq float64
	for i := range quiet.Params {
		d := float64(noisy.Params[i]) - float64(quiet.Params[i])
		sum += d
		sq += d * d
	}
	dim := float64(len(quiet.Params))
	mean, std := sum/dim, math.Sqrt(sq/dim-(sum/dim)*(sum/dim))
	want := 2 * 0.1 / (0.5 * n)
	// dim ~ 12,600: the sample standard deviation is within 4% of the true
	// one with overwhelming probability (its relative error is about
	// 1/sqrt(2 dim) = 0.6%), and so is the mean within 5 standard errors.
	if math.Abs(std/want-1) > 0.04 || math.Abs(mean) > 5*want/math.Sqrt(dim) {
		t.Fatalf("noise on the mean has mean %g and std %g, want 0 and %g", mean, std, want)
	}
}

func TestDPEpsilon(t *testing.T) {
	o := DPOptions{Clip: 1, Noise: 1, Sample: 0.1}
	eps, delta, order, err := o.Epsilon(100, 10)
	if err != nil {
		t.Fatal(err)
	}
	want, wantOrder, err := dp.EpsilonForTraining(0.1, 1, 10, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if eps != want || order != wantOrder || delta != 1e-5 {
		t.Fatalf("epsilon %v at order %v with delta %v, want %v at %v with 1e-5", eps, order, delta, want, wantOrder)
	}
	more, _, _, _ := o.Epsilon(100, 20)
	o.Noise = 2
	less, _, _, _ := o.Epsilon(100, 10)
	if !(more > eps && less < eps) {
		t.Fatalf("epsilon %v after 10 rounds, %v after 20, %v with twice the noise: want more rounds to cost more and more noise less", eps, more, less)
	}
	o.Noise = 0
	if inf, _, _, _ := o.Epsilon(100, 1); !math.IsInf(inf, 1) {
		t.Fatalf("epsilon without noise %v, want +Inf", inf)
	}
	if d := DefaultDelta(1_000_000); d != math.Pow(1e6, -1.1) {
		t.Fatalf("DefaultDelta(1e6) = %v, want 1e6^-1.1", d)
	}
}

func TestDPOptionsValidate(t *testing.T) {
	for _, o := range []DPOptions{
		{Clip: 0},
		{Clip: math.Inf(1)},
		{Clip: 1, Noise: -1},
		{Clip: 1, Sample: 1.5},
		{Clip: 1, Sample: math.NaN()},
		{Clip: 1, Delta: 1},
		{Clip: 1, Threat: secagg.Threat{Dropout: 1}},
		{Clip: 1, Threat: secagg.Threat{Active: true}},
	} {
		if _, err := New(DenseModel(4, 2, 2, 0), nn.SGD{LearningRate: 0.1}, Options{DP: &o}); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}

// The secure aggregation of a sample uses SecAgg+ with PlusParams' k and t
// when some k < n-1 meets the threat and the complete graph otherwise.
func TestDPSampleGraph(t *testing.T) {
	o := DPOptions{Clip: 1}
	for _, n := range []int{2, 3, 10, 500} {
		s := o.newSampleRound(make([]int, n), 0)
		th := o.sampleThreat(n)
		k, tt, err := secagg.PlusParams(n, th)
		if err != nil {
			k, tt = 0, 0
		}
		if s.Neighbours != k || s.Threshold != tt || (k > 0) != (s.GraphSeed != [32]byte{}) {
			t.Errorf("a sample of %d uses k=%d t=%d, want %d and %d (PlusParams: %v) and a graph seed with SecAgg+", n, s.Neighbours, s.Threshold, k, tt, err)
		}
		if _, err := s.config(o.secAgg(), 10, 0); err != nil {
			t.Errorf("sample of %d: %v", n, err)
		}
	}
	for _, tc := range []struct {
		n                int
		corrupt, dropout float64
	}{
		{2, 0.05, 0.1}, // one and one would be all: secagg's counts (none)
		{3, 1.0 / 3, 1.0 / 3},
		{10, 0.1, 0.1},
		{20, 0.05, 0.1},
		{500, 0.05, 0.1},
	} {
		if th := o.sampleThreat(tc.n); math.Abs(th.Corrupt-tc.corrupt) > 1e-12 || math.Abs(th.Dropout-tc.dropout) > 1e-12 {
			t.Errorf("threat of a sample of %d: %+v, want corrupt %v and dropout %v", tc.n, th, tc.corrupt, tc.dropout)
		}
	}
	if s := o.newSampleRound(make([]int, 3), 0); s.Neighbours != 0 {
		t.Errorf("a sample of 3 uses %d neighbours, want the complete graph", s.Neighbours)
	}
	if s := o.newSampleRound(make([]int, 500), 0); s.Neighbours == 0 {
		t.Errorf("a sample of 500 uses the complete graph, want SecAgg+")
	}
}

func TestTrainMsgWithSample(t *testing.T) {
	s := &sampleRound{Members: []int{2, 5, 7}, Neighbours: 2, Threshold: 2, Corrupt: 0.05, Dropout: 0.1}
	s.GraphSeed[3] = 9
	in := trainMsg{Round: 4, Config: TrainConfig{LocalEpochs: 1, BatchSize: 2, LearningRate: 0.1, Seed: 3}, Params: []float32{1, 2}, Sample: s}
	k, d, err := parseMsg(in.encode())
	if err != nil || k != kindTrain {
		t.Fatal(k, err)
	}
	out, err := decodeTrain(d)
	if err != nil {
		t.Fatal(err)
	}
	if out.Sample == nil || !slices.Equal(out.Sample.Members, s.Members) || out.Sample.GraphSeed != s.GraphSeed ||
		out.Sample.Neighbours != 2 || out.Sample.Threshold != 2 || out.Sample.Corrupt != 0.05 || out.Sample.Dropout != 0.1 {
		t.Fatalf("decoded sample %+v, want %+v", out.Sample, s)
	}
	w := welcomeMsg{Clients: 3, Heartbeat: 10, SecAgg: &SecAggOptions{Clip: 1, MaxWeight: 1}, DPClip: 0.5}
	_, d, _ = parseMsg(w.encode())
	if got, err := decodeWelcome(d); err != nil || got.DPClip != 0.5 {
		t.Fatalf("welcome decoded as %+v (%v)", got, err)
	}
}

// NoiseSweep gives one point per noise multiplier, ε falling as the noise
// grows, and the accuracy of the noiseless run at least that of a run with
// noise that swamps the updates.
func TestNoiseSweep(t *testing.T) {
	const n, seed = 20, 2
	data, test := smallClients(t, 3000, n, seed)
	opts := Options{LocalEpochs: 1, BatchSize: 16, Seed: seed, DP: &DPOptions{Clip: 0.5, Sample: 0.5, Seed: 4}}
	pts, err := NoiseSweep(DenseModel(784, 16, 2, 7), nn.SGD{LearningRate: 0.05}, opts, data, test, 3, []float64{0, 1, 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || pts[0].Noise != 0 || pts[2].Noise != 50 || pts[1].Rounds != 3 {
		t.Fatalf("points %+v", pts)
	}
	if !math.IsInf(pts[0].Epsilon, 1) || !(pts[1].Epsilon > pts[2].Epsilon) || pts[1].Delta != 1e-5 {
		t.Fatalf("epsilons %v, %v, %v (delta %v): want +Inf, then falling", pts[0].Epsilon, pts[1].Epsilon, pts[2].Epsilon, pts[1].Delta)
	}
	if pts[0].Accuracy < 0.9 || pts[0].Accuracy <= pts[2].Accuracy {
		t.Fatalf("accuracy %v without noise, %v with z = 50: want the first above 0.9 and above the second", pts[0].Accuracy, pts[2].Accuracy)
	}
	t.Logf("%+v", pts)
}

// A round whose sample is empty, or holds a single client under secure
// aggregation, releases the noise alone: without noise the model stays.
func TestDPRoundWithTooSmallSample(t *testing.T) {
	const n, seed = 4, 1
	data, _ := smallClients(t, 1500, n, seed)
	for _, size := range []int{0, 1} {
		o := DPOptions{Clip: 0.1, Sample: 0.2}
		for o.Seed = 1; ; o.Seed++ { // the first seed whose round 0 samples size clients
			if s, _ := o.sample(n, 0); len(s) == size {
				break
			}
		}
		for _, secure := range []bool{false, true} {
			opts := Options{Seed: seed, DP: &o}
			if secure {
				opts.SecAgg = &SecAggOptions{}
			}
			p := newProcess(t, opts)
			state, err := p.Initialize()
			if err != nil {
				t.Fatal(err)
			}
			next, m, err := p.Next(state, data)
			if err != nil {
				t.Fatalf("sample of %d, secure %v: %v", size, secure, err)
			}
			alone := size == 0 || secure
			if len(m.Sampled) != size || (len(m.Clients) == 0) != alone || slices.Equal(next.Params, state.Params) != alone {
				t.Errorf("sample of %d, secure %v: sampled %v, aggregated %v, model changed %v; want the noise alone: %v",
					size, secure, m.Sampled, m.Clients, !slices.Equal(next.Params, state.Params), alone)
			}
		}
	}
}
