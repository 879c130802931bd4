package secagg

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Config is what the server and all clients of one aggregation agree on
// before it starts. Clients have ids 0..N-1.
type Config struct {
	// N is the number of clients.
	N int
	// Dim is the length m of every input vector.
	Dim int
	// Threshold is t: the secrets of each client are shared t-of-(number
	// of holders), so the sum is recovered if, for every client, at least t
	// of its share holders (itself included) survive to the last stage.
	// It must exceed half the holders. Zero means holders - holders/3,
	// which tolerates a third of the clients dropping out.
	Threshold int
	// Neighbours, if positive, selects SecAgg+ (Bell et al. 2020): each
	// client masks with and shares its secrets among only Neighbours other
	// clients (an even number, O(log N) in practice) instead of all N-1.
	// The graph is a Harary graph on a random ring order derived from
	// GraphSeed. Zero (or any value >= N-1) is the complete graph of SecAgg.
	Neighbours int
	// GraphSeed is public randomness that all parties agree on (e.g. drawn
	// by the server and announced with the configuration); it fixes the
	// SecAgg+ neighbour graph.
	GraphSeed [32]byte
	// Round numbers the aggregation (e.g. the training round). It is bound
	// into every derived key and every authenticated message, so messages
	// of another round are rejected. Clients draw fresh keys every round.
	Round uint64
	// Quantizer encodes float inputs; the zero value means
	// DefaultQuantizer(). N*Range must stay below 2^32.
	Quantizer Quantizer
	// Seed seeds the stochastic rounding of the quantization: client i
	// draws from the PCG stream (Seed, i). It affects only rounding, not
	// any key or mask (those always come from crypto/rand).
	Seed uint64
}

// normalize fills the defaults of c and checks it.
func (c Config) normalize() (Config, error) {
	if c.N < 2 {
		return c, fmt.Errorf("secagg: need at least 2 clients, got N=%d", c.N)
	}
	if c.N > 1<<20 {
		return c, fmt.Errorf("secagg: N=%d clients is more than this implementation supports (2^20)", c.N)
	}
	if c.Dim < 1 {
		return c, fmt.Errorf("secagg: vector length Dim=%d must be positive", c.Dim)
	}
	if c.Neighbours < 0 || c.Neighbours%2 != 0 {
		return c, fmt.Errorf("secagg: Neighbours=%d must be a non-negative even number", c.Neighbours)
	}
	if c.Neighbours >= c.N-1 {
		c.Neighbours = 0
	}
	if c.Quantizer == (Quantizer{}) {
		c.Quantizer = DefaultQuantizer()
	}
	if err := c.Quantizer.check(); err != nil {
		return c, err
	}
	if uint64(c.N)*uint64(c.Quantizer.Range) >= 1<<32 {
		return c, fmt.Errorf("secagg: a sum of N=%d inputs in [0, %d] can wrap around 2^32; lower Quantizer.Range", c.N, c.Quantizer.Range)
	}
	h := c.holders()
	if c.Threshold == 0 {
		c.Threshold = h - h/3
	}
	if c.Threshold <= h/2 || c.Threshold > h {
		return c, fmt.Errorf("secagg: threshold %d must be in (%d/2, %d] (each client's secrets go to %d holders)", c.Threshold, h, h, h)
	}
	return c, nil
}

// holders is the number of clients that hold shares of one client's
// secrets, the client itself included.
func (c Config) holders() int {
	if c.Neighbours == 0 {
		return c.N
	}
	return c.Neighbours + 1
}

// Quantize encodes client id's input as that client does (deterministic in
// c.Seed and id). The server's result is the sum mod 2^32 of these.
func (c Config) Quantize(id int, v []float64) ([]uint32, error) {
	c, err := c.normalize()
	if err != nil {
		return nil, err
	}
	if id < 0 || id >= c.N {
		return nil, fmt.Errorf("secagg: client id %d out of range [0, %d)", id, c.N)
	}
	if len(v) != c.Dim {
		return nil, fmt.Errorf("secagg: input of client %d has length %d, want Dim=%d", id, len(v), c.Dim)
	}
	return c.Quantizer.Quantize(v, rand.New(rand.NewPCG(c.Seed, uint64(id))))
}

// graph is the neighbour graph of a normalized Config.
type graph struct {
	n, k int   // k == 0: complete graph
	pos  []int // position of each client on the ring (SecAgg+)
	ring []int // client at each position
}

func newGraph(c Config) *graph {
	g := &graph{n: c.N, k: c.Neighbours}
	if g.k > 0 {
		g.ring = rand.New(rand.NewChaCha8(c.GraphSeed)).Perm(c.N)
		g.pos = make([]int, c.N)
		for p, u := range g.ring {
			g.pos[u] = p
		}
	}
	return g
}

// adjacent reports whether u and v (u != v) mask with each other and hold
// each other's shares.
func (g *graph) adjacent(u, v int) bool {
	if u == v {
		return false
	}
	if g.k == 0 {
		return true
	}
	d := g.pos[u] - g.pos[v]
	if d < 0 {
		d = -d
	}
	return min(d, g.n-d) <= g.k/2
}

// neighbours returns the neighbours of u in increasing id order.
func (g *graph) neighbours(u int) []int {
	var out []int
	if g.k == 0 {
		out = make([]int, 0, g.n-1)
		for v := range g.n {
			if v != u {
				out = append(out, v)
			}
		}
		return out
	}
	out = make([]int, 0, g.k)
	for d := 1; d <= g.k/2; d++ {
		out = append(out, g.ring[(g.pos[u]+d)%g.n], g.ring[(g.pos[u]-d+g.n)%g.n])
	}
	slices.Sort(out)
	return out
}
