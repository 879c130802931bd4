package secagg

import (
	"crypto/ed25519"
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
	// message of Stage s (StageConsistencyCheck exists only in the active
	// option; in the passive one a client dropped there sends nothing more,
	// as one dropped before StageUnmask).
	Dropped [StageDone][]int
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
// before sending their message of Stage s (s < StageDone; a missing entry
// means none). Every message goes through MarshalBinary and Unmarshal, as it
// would over a network. Clients run concurrently on GOMAXPROCS goroutines.
// For the active option (cfg.Identities set) use RunWithIdentities.
func Run(cfg Config, inputs [][]float64, dropouts []int) (*Result, error) {
	return RunWithIdentities(cfg, nil, inputs, dropouts)
}

// RunWithIdentities is Run for the active option: identities[i] is client
// i's ed25519 identity key, whose public half is cfg.Identities[i].
func RunWithIdentities(cfg Config, identities []ed25519.PrivateKey, inputs [][]float64, dropouts []int) (*Result, error) {
	if len(inputs) != cfg.N {
		return nil, fmt.Errorf("secagg: %d inputs for N=%d clients", len(inputs), cfg.N)
	}
	if len(dropouts) > int(StageDone) {
		return nil, fmt.Errorf("secagg: dropouts for %d stages, the protocol has %d", len(dropouts), StageDone)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xd5091))
	order := rng.Perm(cfg.N)
	var drop [StageDone][]int
	total := 0
	for s, d := range dropouts {
		if d < 0 || total+d > cfg.N {
			return nil, fmt.Errorf("secagg: %d dropouts in stage %d with %d of %d clients left", d, s, cfg.N-total, cfg.N)
		}
		drop[s] = slices.Sorted(slices.Values(order[total : total+d]))
		total += d
	}
	sim, err := newSimulation(cfg, identities, inputs, drop)
	if err != nil {
		return nil, err
	}
	return sim.run()
}

// party is one client in a simulation with its measurements.
type party struct {
	c         *Client
	time, cpu time.Duration
	bytes     int
}

// simulation is one in-process aggregation: a server, its clients, the
// clients still alive, and the measurements. Its stages are those of
// Flower's SecAgg+ workflow: setup (advertise keys), share keys, collect
// masked vectors, and unmask (preceded in the active option by the
// consistency check).
type simulation struct {
	server   *Server
	parties  []*party
	alive    []int
	drop     [StageDone][]int
	res      *Result
	serverMu sync.Mutex

	keyList, bundles func(id int) []byte // the server's answers to each client
}

func newSimulation(cfg Config, identities []ed25519.PrivateKey, inputs [][]float64, drop [StageDone][]int) (*simulation, error) {
	server, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	if server.cfg.active() && len(identities) != cfg.N {
		return nil, fmt.Errorf("secagg: the active option needs %d identity keys, got %d", cfg.N, len(identities))
	}
	sim := &simulation{server: server, drop: drop, res: &Result{Dropped: drop}}
	for i := range cfg.N {
		c, err := NewClient(cfg, i, inputs[i])
		if err != nil {
			return nil, err
		}
		if identities != nil {
			if err := c.SetIdentity(identities[i]); err != nil {
				return nil, err
			}
		}
		sim.parties = append(sim.parties, &party{c: c})
		sim.alive = append(sim.alive, i)
	}
	return sim, nil
}

func (sim *simulation) run() (*Result, error) {
	if err := sim.setup(); err != nil {
		return nil, err
	}
	if err := sim.shareKeys(); err != nil {
		return nil, err
	}
	req, err := sim.collectMaskedVectors()
	if err != nil {
		return nil, err
	}
	if sim.server.cfg.active() {
		if req, err = sim.consistencyCheck(req); err != nil {
			return nil, err
		}
	}
	return sim.unmask(req)
}

// setup: the clients advertise their keys; the server broadcasts the list.
func (sim *simulation) setup() error {
	if err := sim.step(StageAdvertiseKeys, nil, func(c *Client, _ Message) (Message, error) { return c.AdvertiseKeys() }); err != nil {
		return err
	}
	// Each client gets its neighbours' keys (all keys in SecAgg).
	var to []int
	out, err := sim.closeStage(func() ([]Message, error) {
		if _, err := sim.server.KeyList(); err != nil {
			return nil, err
		}
		var ms []Message
		for _, id := range sim.alive {
			l, err := sim.server.KeyListFor(id)
			if err != nil {
				return nil, err
			}
			ms = append(ms, l)
			to = append(to, id)
		}
		return ms, nil
	})
	if err != nil {
		return err
	}
	sim.keyList = sim.unicast(to, out)
	return nil
}

// shareKeys: the clients share their seeds; the server forwards them.
func (sim *simulation) shareKeys() error {
	if err := sim.step(StageShareKeys, sim.keyList, func(c *Client, m Message) (Message, error) { return c.ShareKeys(m.(*KeyList)) }); err != nil {
		return err
	}
	var to []int
	out, err := sim.closeStage(func() ([]Message, error) {
		bs, err := sim.server.ShareBundles()
		ms := make([]Message, len(bs))
		for i, b := range bs {
			ms[i] = b
			to = append(to, b.To)
		}
		return ms, err
	})
	if err != nil {
		return err
	}
	sim.bundles = sim.unicast(to, out)
	return nil
}

// collectMaskedVectors: the clients send their masked inputs; the server
// sums them and answers with the survivor list.
func (sim *simulation) collectMaskedVectors() (func(int) []byte, error) {
	if err := sim.step(StageMaskedInput, sim.bundles, func(c *Client, m Message) (Message, error) { return c.MaskedInput(m.(*ShareBundle)) }); err != nil {
		return nil, err
	}
	out, err := sim.closeStage(func() ([]Message, error) { r, err := sim.server.UnmaskRequest(); return []Message{r}, err })
	if err != nil {
		return nil, err
	}
	return sim.broadcast(out[0]), nil
}

// consistencyCheck (active option): the survivors sign the list; the
// server answers with the signatures.
func (sim *simulation) consistencyCheck(req func(int) []byte) (func(int) []byte, error) {
	if err := sim.step(StageConsistencyCheck, req, func(c *Client, m Message) (Message, error) { return c.ConsistencyCheck(m.(*UnmaskRequest)) }); err != nil {
		return nil, err
	}
	out, err := sim.closeStage(func() ([]Message, error) { r, err := sim.server.SignedUnmaskRequest(); return []Message{r}, err })
	if err != nil {
		return nil, err
	}
	return sim.broadcast(out[0]), nil
}

// unmask: the survivors reveal their shares; the server removes the masks.
func (sim *simulation) unmask(req func(int) []byte) (*Result, error) {
	if err := sim.step(StageUnmask, req, func(c *Client, m Message) (Message, error) { return c.Unmask(m.(*UnmaskRequest)) }); err != nil {
		return nil, err
	}
	res := sim.res
	start, cpu := time.Now(), processCPU()
	sum, err := sim.server.Result()
	res.Stats.ServerTime += time.Since(start)
	res.Stats.ServerCPU += processCPU() - cpu
	if err != nil {
		return nil, err
	}
	res.Quantized = sum
	res.Contributors = sim.server.Contributors()
	res.Sum = sim.server.cfg.Quantizer.Dequantize(res.Quantized, len(res.Contributors))
	for _, p := range sim.parties {
		res.Stats.ClientTime = append(res.Stats.ClientTime, p.time)
		res.Stats.ClientCPU = append(res.Stats.ClientCPU, p.cpu)
		res.Stats.ClientBytes = append(res.Stats.ClientBytes, p.bytes)
	}
	return res, nil
}

// serve hands a marshaled client message to the server.
func (sim *simulation) serve(b []byte) error {
	sim.serverMu.Lock()
	defer sim.serverMu.Unlock()
	start, cpu := time.Now(), threadCPU()
	defer func() {
		sim.res.Stats.ServerTime += time.Since(start)
		sim.res.Stats.ServerCPU += threadCPU() - cpu
	}()
	m, err := Unmarshal(b)
	if err != nil {
		return err
	}
	return sim.server.Receive(m)
}

// closeStage runs a server closing method and marshals its answers.
func (sim *simulation) closeStage(f func() ([]Message, error)) ([][]byte, error) {
	start, cpu := time.Now(), processCPU() // no client runs meanwhile
	defer func() {
		sim.res.Stats.ServerTime += time.Since(start)
		sim.res.Stats.ServerCPU += processCPU() - cpu
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

// unicast counts the messages out[i] sent to client to[i].
func (sim *simulation) unicast(to []int, out [][]byte) func(int) []byte {
	byID := make(map[int][]byte, len(out))
	for i, b := range out {
		byID[to[i]] = b
		sim.res.Stats.ServerBytes += len(b)
	}
	return func(id int) []byte { return byID[id] }
}

// broadcast counts a message sent to every client alive in the next stage.
func (sim *simulation) broadcast(b []byte) func(int) []byte {
	sim.res.Stats.ServerBytes += len(b) * len(sim.alive)
	return func(int) []byte { return b }
}

// step runs one client step on all clients still alive, concurrently,
// each with the server's answer addressed to it (answer is nil in the first
// stage). The clients dropped before stage leave first.
func (sim *simulation) step(stage Stage, answer func(id int) []byte, do func(c *Client, m Message) (Message, error)) error {
	sim.alive = slices.DeleteFunc(sim.alive, func(id int) bool { return slices.Contains(sim.drop[stage], id) })
	if stage == StageUnmask && !sim.server.cfg.active() {
		sim.alive = slices.DeleteFunc(sim.alive, func(id int) bool { return slices.Contains(sim.drop[StageConsistencyCheck], id) })
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sim.alive))
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			runtime.LockOSThread() // for threadCPU
			defer runtime.UnlockOSThread()
			for k := range next {
				errs[k] = sim.play(sim.parties[sim.alive[k]], answer, do)
			}
		})
	}
	for k := range sim.alive {
		next <- k
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// play runs one client's step and hands its message to the server.
func (sim *simulation) play(p *party, answer func(id int) []byte, do func(c *Client, m Message) (Message, error)) error {
	start, cpu := time.Now(), threadCPU()
	var in Message
	if answer != nil {
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
	return sim.serve(b)
}
