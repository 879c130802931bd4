package secagg

import (
	"crypto/ed25519"
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
	// Zero means holders - holders/3 (which tolerates a third of the
	// holders dropping out) if that meets the bounds of Corrupt and
	// Dropout, else the smallest threshold that does.
	Threshold int
	// Neighbours, if positive, selects SecAgg+ (Bell et al. 2020): each
	// client masks with and shares its secrets among only Neighbours other
	// clients (an even number, O(log N), see PlusParams) instead of all
	// N-1. The graph is a Harary graph on a random ring order derived from
	// GraphSeed. Zero (or any value >= N-1) is the complete graph of SecAgg.
	Neighbours int
	// GraphSeed is public randomness that all parties agree on (e.g. drawn
	// by the server from crypto/rand and announced with the
	// configuration); it fixes the SecAgg+ neighbour graph and is required
	// (nonzero) when Neighbours selects SecAgg+. The guarantee holds over
	// its random choice: it must not be chosen after the corrupted clients.
	GraphSeed [32]byte
	// Corrupt and Dropout are the fractions of the N clients that may
	// collude with the server (γ) and that may drop out (δ). Neighbours and
	// Threshold are checked against them (see PlusParams); the zero values
	// claim that no client colludes and none drops, so only the runtime
	// checks (connected survivors, t holders) protect the round.
	Corrupt, Dropout float64
	// Identities, if not nil, selects the protocol against an actively
	// malicious server (Bonawitz et al. 2017, section 6): client i signs its
	// AdvertiseKeys with the ed25519 key whose public half is Identities[i]
	// (known to all from registration; see Client.SetIdentity), and a
	// consistency-check round (StageConsistencyCheck) makes the survivors
	// sign the survivor list before anyone reveals a share.
	Identities []ed25519.PublicKey
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
	if c.Neighbours > 0 && c.GraphSeed == ([32]byte{}) {
		return c, fmt.Errorf("secagg: SecAgg+ with Neighbours=%d needs a random GraphSeed agreed by all parties, got zero", c.Neighbours)
	}
	if c.Identities != nil {
		if len(c.Identities) != c.N {
			return c, fmt.Errorf("secagg: %d identity keys for N=%d clients", len(c.Identities), c.N)
		}
		for i, k := range c.Identities {
			if len(k) != ed25519.PublicKeySize {
				return c, fmt.Errorf("secagg: identity key of client %d has %d bytes, want %d", i, len(k), ed25519.PublicKeySize)
			}
		}
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
	if err := c.threat().check(); err != nil {
		return c, err
	}
	h := c.holders()
	if c.Threshold == 0 {
		c.Threshold = h - h/3
		if c.checkParams() != nil && c.Neighbours > 0 {
			if lo, hi, ok := plusRange(c.N, c.Neighbours, c.threat()); ok && lo <= hi {
				c.Threshold = lo
			}
		}
	}
	if c.Threshold < 1 || c.Threshold > h {
		return c, fmt.Errorf("secagg: threshold %d must be in [1, %d] (each client's secrets go to %d holders)", c.Threshold, h, h)
	}
	return c, c.checkParams()
}

// threat returns what c claims to withstand.
func (c Config) threat() Threat {
	return Threat{Corrupt: c.Corrupt, Dropout: c.Dropout, Active: c.Identities != nil}
}

// active reports whether c runs the protocol against a malicious server.
func (c Config) active() bool { return c.Identities != nil }

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

// holds reports whether v holds shares of o's secrets (o itself included).
func (g *graph) holds(v, o int) bool { return v == o || g.adjacent(o, v) }

// connected reports whether the graph induced on the clients in alive is
// connected: if it is not, the pairwise masks cancel within each component
// and the server can compute each component's sum.
func (g *graph) connected(alive map[int]bool) bool {
	if g.k == 0 || len(alive) <= 1 {
		return true
	}
	var start int
	for u := range alive {
		start = u
		break
	}
	seen := map[int]bool{start: true}
	stack := []int{start}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range g.neighbours(u) {
			if alive[v] && !seen[v] {
				seen[v] = true
				stack = append(stack, v)
			}
		}
	}
	return len(seen) == len(alive)
}

// checkSurvivors checks that the survivors' graph is connected and that,
// for every client in owners, at least t of its share holders survive: the
// conditions under which revealing shares for survivors tells the server
// only the survivors' sum.
func (g *graph) checkSurvivors(survivors map[int]bool, owners []int, t int) error {
	if !g.connected(survivors) {
		return fmt.Errorf("%w: the graph of the %d survivors is disconnected, so partial sums would be computable", ErrDisconnected, len(survivors))
	}
	for _, o := range owners {
		alive := 0
		if g.k == 0 {
			alive = len(survivors)
		} else {
			if survivors[o] {
				alive++
			}
			for _, v := range g.neighbours(o) {
				if survivors[v] {
					alive++
				}
			}
		}
		if alive < t {
			return fmt.Errorf("%w: %d of client %d's share holders survived, threshold %d", ErrTooFewSurvivors, alive, o, t)
		}
	}
	return nil
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
