package fedavg

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The DP-FedAvg scale test: 100 clients in two processes over loopback
// ZeroMQ, each round samples 10% of them, secure aggregation among the
// sample, and 10% of each round's sample (rounded up) drops out after
// sharing its keys.
const (
	dpClients = 100
	dpImages  = 6000 // MNIST prefix: about 12 images of 0s and 1s per client
	dpRounds  = 4
	dpSeed    = 8
)

var dpScale = DPOptions{Clip: 0.05, Noise: 1, Sample: 0.1, Seed: 21}

func dpScaleOptions(o *DPOptions) Options {
	return Options{LocalEpochs: 1, BatchSize: 16, Seed: dpSeed, SecAgg: &SecAggOptions{}, DP: o}
}

// dpDrops returns, for each round, the clients that drop out of it: one in
// ten of the round's sampled clients still there (positions 0, 10, ...).
func dpDrops(o DPOptions, n, rounds int) ([]map[int]bool, error) {
	gone := map[int]bool{}
	drops := make([]map[int]bool, rounds)
	for r := range drops {
		sampled, err := o.sample(n, r)
		if err != nil {
			return nil, err
		}
		drops[r] = map[int]bool{}
		i := 0
		for _, id := range sampled {
			if gone[id] {
				continue
			}
			if i%10 == 0 {
				drops[r][id], gone[id] = true, true
			}
			i++
		}
	}
	return drops, nil
}

// helperDPClients runs the clients lo-hi of the scale test in this process;
// each stands still (and goes silent) when it starts training in the round
// it drops out of. It returns when the others are done.
func helperDPClients(ids string) error {
	los, his, _ := strings.Cut(ids, "-")
	lo, err1 := strconv.Atoi(los)
	hi, err2 := strconv.Atoi(his)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("bad FEDAVG_DP_IDS %q", ids)
	}
	sets, err := mnist() // load before joining, not while others wait
	if err != nil {
		return err
	}
	drops, err := dpDrops(dpScale, dpClients, dpRounds)
	if err != nil {
		return err
	}
	var (
		once  sync.Once
		parts []Dataset
		perr  error
	)
	done := make(chan error)
	staying := 0
	for id := lo; id <= hi; id++ {
		ctx, cancel := context.WithCancel(context.Background())
		leaves := false
		for _, d := range drops {
			leaves = leaves || d[id]
		}
		if !leaves {
			staying++
		}
		opts := ClientOptions{
			ID: id,
			Data: func(clients int, seed int64) (Dataset, error) {
				once.Do(func() { parts, perr = DigitClients(sets[0].Slice(0, dpImages), clients, seed, 0, 1) })
				if perr != nil {
					return Dataset{}, perr
				}
				return parts[id], nil
			},
			JoinTimeout: time.Minute,
			Logger: lineLogger(func(line string) {
				for r, d := range drops {
					if d[id] && strings.HasSuffix(line, fmt.Sprintf(": round %d: training", r)) {
						fmt.Fprintf(os.Stderr, "client %d drops out of round %d\n", id, r)
						cancel()
						select {} // silent from now on
					}
				}
			}),
		}
		go func() {
			err := RunClient(ctx, os.Getenv("FEDAVG_ENDPOINT"), DenseModel(784, 16, 2, 0), opts)
			if !leaves {
				done <- err
			}
		}()
	}
	for range staying {
		if err := <-done; err != nil {
			return err
		}
	}
	return nil
}

// DP-FedAvg with 100 clients over ZeroMQ, q = 0.1, secure aggregation among
// each round's sample and 10% of the sample dropping out: every round
// completes, aggregates exactly the survivors, and gives their clipped sum
// plus the seeded noise over q*N, within the quantization bound. Round
// times and memory are logged (go test -v) for bench/RESULTS.md.
func TestDPFedAvg100ClientsSecAggDropouts(t *testing.T) {
	o := dpScale
	p := newProcess(t, dpScaleOptions(&o))
	drops, err := dpDrops(o, dpClients, dpRounds)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var mu sync.Mutex
	srv, err := p.Listen("tcp://127.0.0.1:0", ServerOptions{Clients: dpClients, DataSeed: dpSeed, Timeout: 3 * time.Second,
		Logger: lineLogger(func(line string) {
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var procs []*clientProc
	for _, ids := range []string{"0-49", "50-99"} {
		t.Setenv("FEDAVG_DP_IDS", ids)
		procs = append(procs, startClient(t, srv.Addr(), -1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := srv.WaitClients(ctx); err != nil {
		t.Fatal(err)
	}
	data, _ := smallClients(t, dpImages, dpClients, dpSeed)
	plain := newProcess(t, Options{LocalEpochs: 1, BatchSize: 16, Seed: dpSeed})
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	gone := map[int]bool{}
	var total time.Duration
	for r := range dpRounds {
		start := time.Now()
		next, m, err := srv.Next(ctx, state)
		elapsed := time.Since(start)
		total += elapsed
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		sampled, _ := o.sample(dpClients, r)
		var survivors, dropped []int
		for _, id := range sampled {
			if gone[id] || drops[r][id] {
				dropped = append(dropped, id)
			} else {
				survivors = append(survivors, id)
			}
		}
		for id := range drops[r] {
			gone[id] = true
		}
		if !slices.Equal(m.Sampled, sampled) || !slices.Equal(m.Clients, survivors) || !slices.Equal(m.Dropped, dropped) {
			t.Fatalf("round %d sampled %v, aggregated %v, dropped %v; want %v, %v, %v", r, m.Sampled, m.Clients, m.Dropped, sampled, survivors, dropped)
		}
		if len(survivors) < 2 {
			t.Fatalf("round %d has %d survivors: pick another DPOptions.Seed for the test", r, len(survivors))
		}
		want, _ := dpWant(t, plain, o, state, data, dpClients, survivors)
		c := len(survivors)
		bound := ulps(want) + o.secAgg().Bound(len(sampled), c, c)*float64(c)/(o.Sample*dpClients)
		if d := maxDiff(next.Params, want); d > bound {
			t.Fatalf("round %d differs from the survivors' clipped noisy mean by %g (bound %g)", r, d, bound)
		}
		eps, delta, order, err := o.Epsilon(dpClients, r+1)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d sampled, %d aggregated, dropped %v; epsilon %.4f (delta %g, order %g); %.2f s",
			r, len(sampled), c, dropped, eps, delta, order, elapsed.Seconds())
		state = next
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	srv.Close()
	var rss []string
	for i, c := range procs {
		if err := c.exitStatus(t); err != nil {
			t.Errorf("client process %d exited with %v", i, err)
			continue
		}
		if u, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = append(rss, fmt.Sprintf("%d MiB", u.Maxrss/1024))
		}
	}
	mu.Lock()
	for _, l := range lines {
		if strings.Contains(l, "secure aggregation among") {
			t.Log(l)
		}
	}
	mu.Unlock()
	t.Logf("%d rounds in %.2f s (%.2f s per round, each waiting %v to drop its silent clients); test process (server and reference) heap in use %d MiB, sys %d MiB; client processes (50 clients each) max RSS %s",
		dpRounds, total.Seconds(), total.Seconds()/dpRounds, 3*time.Second, ms.HeapInuse>>20, ms.Sys>>20, strings.Join(rss, ", "))
}

// A DP-FedAvg round between client processes, recorded on the wire: with
// secure aggregation among the sample no sampled client's clipped delta
// appears in it (its last 8 values, as float32 bits); without, every one
// does, which shows the search would find them.
func TestDPSecAggWireCaptureHoldsNoClippedDelta(t *testing.T) {
	const seed, n = 5, 3
	clients, _ := smallClients(t, remoteImages, n, seed)
	for _, secure := range []bool{false, true} {
		o := DPOptions{Clip: 0.05, Noise: 1, Seed: 3} // q = 1: all three clients
		opts := Options{LocalEpochs: 1, BatchSize: 16, Seed: seed, DP: &o}
		if secure {
			opts.SecAgg = &SecAggOptions{}
		}
		capture, state, m := tappedRound(t, newProcess(t, opts), n, seed)
		if len(m.Clients) != n {
			t.Fatalf("aggregated %v, want all %d clients", m.Clients, n)
		}
		plain := newProcess(t, Options{LocalEpochs: 1, BatchSize: 16, Seed: seed})
		model, err := plain.instance()
		if err != nil {
			t.Fatal(err)
		}
		for k, d := range clients {
			u, err := LocalUpdate(model, state.Params, d, plain.trainConfig(), state.Round, k)
			if err != nil {
				t.Fatal(err)
			}
			c, err := clipUpdate(u, o.Clip)
			if err != nil {
				t.Fatal(err)
			}
			var tail []byte
			for _, v := range c.Delta[len(c.Delta)-8:] {
				tail = binary.LittleEndian.AppendUint32(tail, math.Float32bits(v))
			}
			found := bytes.Contains(capture, tail)
			if found == secure {
				t.Errorf("secure %v: client %d's clipped delta found on the wire: %v (%d captured bytes)", secure, k, found, len(capture))
			}
		}
	}
}
