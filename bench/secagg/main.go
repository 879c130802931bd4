// Command secagg measures the secure aggregation of package secagg: client
// and server time and bytes sent for N clients with vectors of length M, with
// a share of the clients dropping out after sharing their keys (before
// sending their masked input, the costliest moment for the server), next to
// bounds measured in the same run:
//
//   - PRG bound: the AES-256-CTR key stream (crypto/aes, crypto/cipher) of
//     all the masks one client must generate (N-1 pairwise masks and its
//     self mask, or k+1 in SecAgg+; M 32-bit words each), produced into a
//     16 KiB buffer that stays in the L1 cache and not added anywhere: the
//     least it can cost to generate those bytes. It is measured with the
//     same parallelism as the clients, which run GOMAXPROCS at a time: as
//     many copies run at once, each timed on its own thread; the mean, best
//     of 3;
//   - X25519 floor: the PRG bound plus the 2(N-1)+2 (2k+2 in SecAgg+)
//     X25519 scalar multiplications a client cannot avoid (one agreement
//     per neighbour for each of its two key pairs, and its two public keys),
//     timed the same way with crypto/ecdh: the best client time reachable
//     with the standard library's X25519, as a ratio to the PRG bound;
//   - plain sum: the server adding N plain vectors (no security; best of 3).
//
// Times are CPU times (Linux thread and process CPU time), which do not count
// waiting for a core while other jobs share the machine. Client CPU is the
// mean over the clients that sent their masked input of their four steps
// (marshaling included, quantization not); each client runs on one thread,
// so its CPU time is also its wall time on an idle core (client wall is
// given too, and shows the load). Server CPU is the server's methods,
// unmarshaling included, summed over cores; server wall is the same in
// elapsed time (its mask expansion runs on all cores).
//
// The -k flag lists neighbour counts measured side by side for each (n, m,
// drop): 0 is the complete graph (SecAgg), "auto" SecAgg+ with the k and t
// that secagg.PlusParams derives from n, -corrupt and -dropout (Bell et
// al. 2020), a number that k with the package's default threshold. -reps
// repeats each group, so that the rows to compare are measured next to each
// other (interleaved) on a machine whose load changes.
//
// It prints a Markdown table. Usage:
//
//	go run ./bench/secagg -n 10,100,500 -m 10000,100000,1000000 -drop 0,10,30
//	go run ./bench/secagg -n 100,500 -m 10000,100000 -drop 10 -k 0,auto -reps 2
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	crand "crypto/rand"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppml-go/ppml/pkg/fl/secagg"
)

func main() {
	ns := flag.String("n", "10,100,500", "comma-separated numbers of clients")
	ms := flag.String("m", "10000,100000,1000000", "comma-separated vector lengths")
	drops := flag.String("drop", "0,10,30", "comma-separated dropout percentages")
	ks := flag.String("k", "0", `comma-separated SecAgg+ neighbour counts: 0 the complete graph (SecAgg), "auto" from secagg.PlusParams`)
	threshold := flag.Int("t", 0, "threshold for explicit k (0: the package default)")
	corrupt := flag.Float64("corrupt", 0.05, "fraction of clients that may collude with the server (for -k auto and the checks)")
	dropout := flag.Float64("dropout", 0.1, "fraction of clients that may drop out (for -k auto and the checks)")
	reps := flag.Int("reps", 1, "measure each group of rows this many times, interleaved")
	header := flag.Bool("header", true, "print the table header")
	flag.Parse()
	th := secagg.Threat{Corrupt: *corrupt, Dropout: *dropout}
	if err := run(*ns, *ms, *drops, *ks, *threshold, th, *reps, *header); err != nil {
		fmt.Fprintln(os.Stderr, "secagg bench:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("bad number %q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func run(nsArg, msArg, dropsArg, ksArg string, threshold int, th secagg.Threat, reps int, header bool) error {
	ns, err := ints(nsArg)
	if err != nil {
		return err
	}
	ms, err := ints(msArg)
	if err != nil {
		return err
	}
	drops, err := ints(dropsArg)
	if err != nil {
		return err
	}
	kArgs := strings.Split(ksArg, ",")
	if header {
		fmt.Printf("GOMAXPROCS=%d, %s\n\n", runtime.GOMAXPROCS(0), time.Now().Format(time.DateOnly))
		fmt.Println("| n | k | m | drop | client CPU | client wall | PRG bound | client/PRG | X25519 floor | client sent | expansion | server CPU | server wall | plain sum | server sent |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	}
	for _, m := range ms {
		for _, n := range ns {
			for _, d := range drops {
				for range reps {
					for _, ka := range kArgs {
						k, t := 0, threshold
						switch ka = strings.TrimSpace(ka); ka {
						case "auto":
							var err error
							if k, t, err = secagg.PlusParams(n, th); err != nil {
								return err
							}
						default:
							var err error
							if k, err = strconv.Atoi(ka); err != nil {
								return fmt.Errorf("bad -k %q: %w", ka, err)
							}
						}
						if err := row(n, m, d, k, t, th); err != nil {
							return fmt.Errorf("n=%d m=%d drop=%d%% k=%d: %w", n, m, d, k, err)
						}
					}
				}
			}
		}
	}
	return nil
}

func row(n, m, dropPct, k, threshold int, th secagg.Threat) error {
	cfg := secagg.Config{N: n, Dim: m, Neighbours: k, Threshold: threshold, Round: 1, Seed: 1,
		Corrupt: th.Corrupt, Dropout: th.Dropout}
	if _, err := crand.Read(cfg.GraphSeed[:]); err != nil {
		return err
	}
	// Every client gets the same input: values do not change the cost, and
	// one shared vector keeps the memory at n quantized copies.
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, m)
	for j := range x {
		x[j] = rng.NormFloat64()
	}
	inputs := make([][]float64, n)
	for i := range inputs {
		inputs[i] = x
	}
	dropped := n * dropPct / 100
	res, err := secagg.Run(cfg, inputs, []int{0, 0, dropped})
	if err != nil {
		return err
	}
	var clientCPU, clientWall time.Duration
	clientBytes := 0
	for _, i := range res.Contributors {
		clientCPU += res.Stats.ClientCPU[i]
		clientWall += res.Stats.ClientTime[i]
		clientBytes += res.Stats.ClientBytes[i]
	}
	clientCPU /= time.Duration(len(res.Contributors))
	clientWall /= time.Duration(len(res.Contributors))
	clientBytes /= len(res.Contributors)

	// PRG bound and X25519 floor of one client.
	masks := n // n-1 pairwise masks and the self mask
	if k > 0 && k < n-1 {
		masks = k + 1
	}
	prg := best(func() time.Duration { return parallel(func() { keyStreams(masks, m) }) })
	const mults = 64
	x25519, err := x25519Time(mults)
	if err != nil {
		return err
	}
	floor := prg + time.Duration(2*masks)*x25519

	// Plain sum: n vectors added with no protection.
	q, err := cfg.Quantize(0, x)
	if err != nil {
		return err
	}
	vs := make([][]uint32, n)
	for i := range vs {
		vs[i] = q
	}
	plain := best(func() time.Duration { return cpuTime(func() { secagg.SumFixed(vs) }) })

	kcol := "-"
	if k > 0 {
		kcol = fmt.Sprintf("%d (t=%d)", k, threshold)
	}
	fmt.Printf("| %d | %s | %d | %d%% | %s | %s | %s | %.2f | %.2f | %s | %.3f | %s | %s | %s | %s |\n",
		n, kcol, m, dropPct, dur(clientCPU), dur(clientWall), dur(prg), float64(clientCPU)/float64(prg),
		float64(floor)/float64(prg), size(clientBytes), float64(clientBytes)/float64(4*m),
		dur(res.Stats.ServerCPU), dur(res.Stats.ServerTime), dur(plain), size(res.Stats.ServerBytes))
	return nil
}

// keyStreams produces the AES-256-CTR key streams of masks masks of m
// words each into a buffer that stays in the L1 cache.
func keyStreams(masks, m int) {
	var key [32]byte
	var iv [aes.BlockSize]byte
	buf := make([]byte, 16<<10)
	zero := make([]byte, len(buf))
	for i := range masks {
		key[0], key[1] = byte(i), byte(i>>8)
		b, err := aes.NewCipher(key[:])
		if err != nil {
			panic(err) // unreachable: a 32-byte key
		}
		s := cipher.NewCTR(b, iv[:])
		for off := 0; off < 4*m; off += len(buf) {
			c := buf[:min(len(buf), 4*m-off)]
			s.XORKeyStream(c, zero[:len(c)])
		}
	}
}

// x25519Time returns the CPU time of one X25519 key agreement (crypto/ecdh),
// the mean of count agreements on each of GOMAXPROCS threads at once.
func x25519Time(count int) (time.Duration, error) {
	p, err := ecdh.X25519().GenerateKey(crand.Reader)
	if err != nil {
		return 0, err
	}
	q, err := ecdh.X25519().GenerateKey(crand.Reader)
	if err != nil {
		return 0, err
	}
	d := best(func() time.Duration {
		return parallel(func() {
			for range count {
				if _, err := p.ECDH(q.PublicKey()); err != nil {
					panic(err) // unreachable: valid keys
				}
			}
		})
	})
	return d / time.Duration(count), nil
}

// parallel runs f on GOMAXPROCS goroutines at once, as Run runs its
// clients, and returns the mean of their thread CPU times.
func parallel(f func()) time.Duration {
	w := runtime.GOMAXPROCS(0)
	times := make([]time.Duration, w)
	var wg sync.WaitGroup
	for i := range times {
		wg.Go(func() { times[i] = cpuTime(f) })
	}
	wg.Wait()
	var sum time.Duration
	for _, t := range times {
		sum += t
	}
	return sum / time.Duration(w)
}

// best returns the shortest of three timings.
func best(f func() time.Duration) time.Duration {
	var b time.Duration
	for i := range 3 {
		if d := f(); i == 0 || d < b {
			b = d
		}
	}
	return b
}

func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func size(b int) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%d B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
}
