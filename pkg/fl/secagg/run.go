package secagg

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Result is the outcome of an in-process aggregation by Run.
type Result struct {
	// Sum is the dequantized sum of the contributors' inputs.
	Sum []float64
	// Quantized is the sum mod 2^32 of the contributors' quantized inputs
	// (cfg.Quantize of each input), exactly.
	Quantized []uint32
	// Contributors are the clients whose inputs are in the sum (U3).
	Contributors []int
	// Dropped[s] are the clients that dropped out before sending their
	// message of stage s.
	Dropped [4][]int
	Stats   Stats
}

// Stats measures an aggregation: time spent and bytes sent (marshaled
// messages) by each party. CPU times (Linux only, zero elsewhere) do not
// count waiting for a core, so they stay meaningful on a busy machine.
type Stats struct {
	ClientTime  []time.Duration // per client: wall time in its four steps, marshaling included
	ClientCPU   []time.Duration // per client: CPU time of the same
	ClientBytes []int           // per client: bytes of the messages it sent
	ServerTime  time.Duration   // wall time in the server's methods, unmarshaling included
	ServerCPU   time.Duration   // CPU time of the same, summed over the cores it used
	ServerBytes int             // bytes of the messages the server sent, counted per recipient
}

// Run runs one aggregation in process: client i holds inputs[i], and
// dropouts[s] randomly chosen clients (deterministic in cfg.Seed) drop out
// before sending their message of stage s (s = 0..3; a missing entry means
// none). Every message goes through MarshalBinary and Unmarshal, as it would
// over a network. Clients run concurrently on GOMAXPROCS goroutines.
func Run(cfg Config, inputs [][]float64, dropouts []int) (*Result, error) {
	if len(inputs) != cfg.N {
		return nil, fmt.Errorf("secagg: %d inputs for N=%d clients", len(inputs), cfg.N)
	}
	if len(dropouts) > 4 {
		return nil, fmt.Errorf("secagg: dropouts for %d stages, the protocol has 4", len(dropouts))
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xd5091))
	order := rng.Perm(cfg.N)
	var drop [4][]int
	total := 0
	for s, d := range dropouts {
		if d < 0 || total+d > cfg.N {
			return nil, fmt.Errorf("secagg: %d dropouts in stage %d with %d of %d clients left", d, s, cfg.N-total, cfg.N)
		}
		drop[s] = slices.Sorted(slices.Values(order[total : total+d]))
		total += d
	}
	return run(cfg, inputs, drop)
}

// party is one client in run with its measurements.
type party struct {
	c         *Client
	time, cpu time.Duration
	bytes     int
}

func run(cfg Config, inputs [][]float64, drop [4][]int) (*Result, error) {
	server, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Dropped: drop}
	parties := make([]*party, cfg.N)
	for i := range parties {
		c, err := NewClient(cfg, i, inputs[i])
		if err != nil {
			return nil, err
		}
		parties[i] = &party{c: c}
	}
	alive := make([]int, 0, cfg.N)
	for i := range cfg.N {
		alive = append(alive, i)
	}
	var serverMu sync.Mutex
	// serve hands a marshaled client message to the server.
	serve := func(b []byte) error {
		serverMu.Lock()
		defer serverMu.Unlock()
		start, cpu := time.Now(), threadCPU()
		defer func() {
			res.Stats.ServerTime += time.Since(start)
			res.Stats.ServerCPU += threadCPU() - cpu
		}()
		m, err := Unmarshal(b)
		if err != nil {
			return err
		}
		return server.Receive(m)
	}
	// closeStage runs a server closing method and marshals its answers.
	closeStage := func(f func() ([]Message, error)) ([][]byte, error) {
		start, cpu := time.Now(), processCPU() // no client runs meanwhile
		defer func() {
			res.Stats.ServerTime += time.Since(start)
			res.Stats.ServerCPU += processCPU() - cpu
		}()
		ms, err := f()
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(ms))
		for i, m := range ms {
			if out[i], err = m.MarshalBinary(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// step runs one client step on all clients still alive, concurrently,
	// each with the server's answer addressed to it.
	step := func(stage int, answer func(id int) []byte, do func(c *Client, m Message) (Message, error)) error {
		alive = slices.DeleteFunc(alive, func(id int) bool { return slices.Contains(drop[stage], id) })
		var wg sync.WaitGroup
		errs := make([]error, len(alive))
		next := make(chan int)
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				runtime.LockOSThread() // for threadCPU
				defer runtime.UnlockOSThread()
				for k := range next {
					p := parties[alive[k]]
					errs[k] = func() error {
						start, cpu := time.Now(), threadCPU()
						var in Message
						if stage > 0 {
							var err error
							if in, err = Unmarshal(answer(p.c.id)); err != nil {
								return err
							}
						}
						out, err := do(p.c, in)
						if err != nil {
							return err
						}
						b, err := out.MarshalBinary()
						if err != nil {
							return err
						}
						p.time += time.Since(start)
						p.cpu += threadCPU() - cpu
						p.bytes += len(b)
						return serve(b)
					}()
				}
			})
		}
		for k := range alive {
			next <- k
		}
		close(next)
		wg.Wait()
		return errors.Join(errs...)
	}
	broadcast := func(b []byte, to int) func(int) []byte {
		res.Stats.ServerBytes += len(b) * to
		return func(int) []byte { return b }
	}

	if err := step(0, nil, func(c *Client, _ Message) (Message, error) { return c.AdvertiseKeys() }); err != nil {
		return nil, err
	}
	out, err := closeStage(func() ([]Message, error) { l, err := server.KeyList(); return []Message{l}, err })
	if err != nil {
		return nil, err
	}
	keyList := broadcast(out[0], len(alive))
	if err := step(1, keyList, func(c *Client, m Message) (Message, error) { return c.ShareKeys(m.(*KeyList)) }); err != nil {
		return nil, err
	}
	var to []int
	out, err = closeStage(func() ([]Message, error) {
		bs, err := server.ShareBundles()
		ms := make([]Message, len(bs))
		for i, b := range bs {
			ms[i] = b
			to = append(to, b.To)
		}
		return ms, err
	})
	if err != nil {
		return nil, err
	}
	bundles := make(map[int][]byte, len(out))
	for i, b := range out {
		bundles[to[i]] = b
		res.Stats.ServerBytes += len(b)
	}
	if err := step(2, func(id int) []byte { return bundles[id] }, func(c *Client, m Message) (Message, error) { return c.MaskedInput(m.(*ShareBundle)) }); err != nil {
		return nil, err
	}
	out, err = closeStage(func() ([]Message, error) { r, err := server.UnmaskRequest(); return []Message{r}, err })
	if err != nil {
		return nil, err
	}
	request := broadcast(out[0], len(alive)-len(drop[3]))
	if err := step(3, request, func(c *Client, m Message) (Message, error) { return c.Unmask(m.(*UnmaskRequest)) }); err != nil {
		return nil, err
	}
	start, cpu := time.Now(), processCPU()
	res.Quantized, err = server.Result()
	res.Stats.ServerTime += time.Since(start)
	res.Stats.ServerCPU += processCPU() - cpu
	if err != nil {
		return nil, err
	}
	res.Contributors = server.Contributors()
	res.Sum = server.cfg.Quantizer.Dequantize(res.Quantized, len(res.Contributors))
	for _, p := range parties {
		res.Stats.ClientTime = append(res.Stats.ClientTime, p.time)
		res.Stats.ClientCPU = append(res.Stats.ClientCPU, p.cpu)
		res.Stats.ClientBytes = append(res.Stats.ClientBytes, p.bytes)
	}
	return res, nil
}
