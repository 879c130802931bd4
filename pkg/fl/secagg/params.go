package secagg

import (
	"errors"
	"fmt"
	"math"
)

// SecAgg+ gives its guarantees with a probability over the random neighbour
// graph, as Bell et al. (CCS 2020, "Secure Single-Server Aggregation with
// (Poly)Logarithmic Overhead", IACR ePrint 2020/704) state them: for n
// clients of which at most a fraction Corrupt collude with the server and at
// most a fraction Dropout drop out, the graph and threshold must make three
// bad events unlikely:
//
//   - the graph of the honest survivors is disconnected (the server, with the
//     coalition, could then compute the sum of one component): the
//     disconnection of a Harary graph of degree k on a random ring needs k/2
//     consecutive removed clients at two places, and the union bound over
//     those n(n-k-1)/2 pairs of gaps gives the probability bound used here;
//   - some honest client has t or more corrupted neighbours (they would hold
//     enough shares to rebuild its secrets): its number of corrupted
//     neighbours is hypergeometric (k draws among n clients, Corrupt*n of
//     them corrupted);
//   - some client keeps fewer than t surviving neighbours (the sum could not
//     be recovered): hypergeometric likewise.
//
// The first two are kept below 2^-(SecurityBits+1) each (per client, with a
// union bound over the n clients), the last below 2^-CorrectnessBits. This
// is the parameter search of the paper's authors' implementation (Google's
// federated-compute, fcp/secagg/server/graph_parameter_finder), rewritten
// here; TestPlusParamsTable checks it against that implementation's table.
// For an actively malicious server (Config.Identities set) the threshold
// must also exceed half of the honest holders plus the corrupted ones, so
// that no two survivor lists can both gather t signatures from one client's
// share holders: 2t > k + 1 + (corrupted neighbours), with the k+1 holders
// of this package (a client holds a share of its own secrets).

// SecurityBits and CorrectnessBits are the statistical parameters of
// PlusParams: a privacy failure has probability below 2^-SecurityBits and
// an abort for too few survivors below 2^-CorrectnessBits, over the choice of
// the graph, for the fractions of corrupted and dropped clients given.
const (
	SecurityBits    = 40
	CorrectnessBits = 20
)

// ErrInsecureParams is wrapped by the errors of configurations whose
// neighbour count and threshold do not give SecAgg+'s guarantee for the
// stated fractions of corrupted and dropped clients.
var ErrInsecureParams = errors.New("secagg: parameters do not meet the security bound")

// Threat is what a configuration must withstand: the fractions of the N
// clients that may collude with the server and that may drop out, and
// whether the server may deviate from the protocol (then clients need
// identity keys, Config.Identities).
type Threat struct {
	Corrupt float64 // γ in [0, 1)
	Dropout float64 // δ in [0, 1)
	Active  bool
}

// small keeps floating-point rounding of a fraction times n from rounding a
// count down by one (in the insecure direction).
const small = 1e-14

func (th Threat) check() error {
	if !(th.Corrupt >= 0 && th.Corrupt < 1) || !(th.Dropout >= 0 && th.Dropout < 1) {
		return fmt.Errorf("secagg: corrupted fraction %v and dropout fraction %v must be in [0, 1)", th.Corrupt, th.Dropout)
	}
	if !th.Active && th.Corrupt+th.Dropout > 0.9 || th.Active && th.Corrupt+2*th.Dropout > 0.9 {
		return fmt.Errorf("%w: corrupted fraction %v with dropout fraction %v leaves too few honest survivors (at most 0.9 together, dropouts counted twice against an active server)", ErrInsecureParams, th.Corrupt, th.Dropout)
	}
	return nil
}

func (th Threat) counts(n int) (corrupt, dropped int) {
	return int(math.Floor((th.Corrupt + small) * float64(n))), int(math.Floor((th.Dropout + small) * float64(n)))
}

// PlusParams returns the smallest even neighbour count k (and with it the
// smallest threshold t) for which SecAgg+ among n clients meets the bounds
// above against th; t counts share holders, the client itself included. It
// fails if no k below n-1 does (use the complete graph then).
func PlusParams(n int, th Threat) (k, t int, err error) {
	if err := th.check(); err != nil {
		return 0, 0, err
	}
	if k, t, ok := plusSearch(n, th, 1); ok {
		return k, t, nil
	}
	return 0, 0, fmt.Errorf("%w: no neighbour count below %d meets it for %d clients with %+v; use the complete graph", ErrInsecureParams, n-1, n, th)
}

// plusSearch returns the smallest even k < n-1 with a nonempty range of
// thresholds and the smallest of them; selfHolder is 1 when a client holds a
// share of its own secrets (this package), 0 as in the reference
// implementation.
func plusSearch(n int, th Threat, selfHolder int) (k, t int, ok bool) {
	for k := 2; k < n-1; k += 2 {
		if lo, hi, ok := thresholds(n, k, th, selfHolder); ok && lo <= hi {
			return k, lo, true
		}
	}
	return 0, 0, false
}

// plusRange returns the thresholds [lo, hi] that give the guarantee with k
// neighbours, and whether the graph stays connected with k.
func plusRange(n, k int, th Threat) (lo, hi int, ok bool) { return thresholds(n, k, th, 1) }

func thresholds(n, k int, th Threat, selfHolder int) (lo, hi int, ok bool) {
	corrupt, dropped := th.counts(n)
	if logDisconnected(n, k, corrupt+dropped) >= -(SecurityBits+1)*math.Ln2 {
		return 0, 0, false
	}
	perClient := math.Ldexp(1, -(SecurityBits+1)) / float64(n)
	// t1: the fewest shares that corrupted neighbours exceed with
	// probability below perClient (tail sums from the top, where the
	// probabilities are tiny).
	adv := hypergeometric{n: n, marked: corrupt, draws: k}.pmf()
	t1, tail := k, 0.0
	for t1 > 0 && tail+adv[t1] < perClient {
		tail += adv[t1]
		t1--
	}
	lo = t1 + 1
	if th.Active {
		lo = max(lo, (k+selfHolder+t1)/2+1) // 2t > k + 1 + t1
	}
	// hi: the largest t whose survivors fall short with probability below
	// 2^-CorrectnessBits / n: P(survivors <= t-1) < fail.
	surv := hypergeometric{n: n, marked: n - dropped, draws: k}.pmf()
	fail := math.Ldexp(1, -CorrectnessBits) / float64(n)
	hi, cdf := 0, surv[0]
	for hi < k && cdf < fail {
		hi++
		cdf += surv[hi]
	}
	return max(lo, 2), hi, true
}

// logDisconnected bounds the log of the probability that removing bad
// clients at random disconnects the Harary graph of degree k on n clients:
// pairs of gaps times the probability that the k clients of one pair of
// gaps are all removed.
func logDisconnected(n, k, bad int) float64 {
	if k > bad {
		return math.Inf(-1)
	}
	return math.Log(float64(n)) + math.Log(float64(n-k-1)) - math.Ln2 +
		lgamma(bad+1) + lgamma(n-k+1) - lgamma(n+1) - lgamma(bad-k+1)
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}

// hypergeometric is the number of marked items in draws items drawn
// without replacement from n items of which marked are marked.
type hypergeometric struct{ n, marked, draws int }

func (h hypergeometric) logPMF(x int) float64 {
	if x < 0 || x > h.draws || x > h.marked || h.draws-x > h.n-h.marked {
		return math.Inf(-1)
	}
	return lgamma(h.marked+1) - lgamma(x+1) - lgamma(h.marked-x+1) +
		lgamma(h.n-h.marked+1) - lgamma(h.draws-x+1) - lgamma(h.n-h.marked-h.draws+x+1) -
		(lgamma(h.n+1) - lgamma(h.draws+1) - lgamma(h.n-h.draws+1))
}

// pmf returns P(X = x) for x = 0..draws.
func (h hypergeometric) pmf() []float64 {
	p := make([]float64, h.draws+1)
	for x := range p {
		p[x] = math.Exp(h.logPMF(x))
	}
	return p
}

// checkParams checks a normalized configuration's neighbour count and
// threshold against its threat.
func (c Config) checkParams() error {
	th := c.threat()
	if err := th.check(); err != nil {
		return err
	}
	corrupt, dropped := th.counts(c.N)
	h, t := c.holders(), c.Threshold
	if c.Neighbours == 0 {
		// Complete graph (Bonawitz et al. 2017): every client holds a share
		// of every other; a coalition of fewer than t learns nothing, the
		// survivors always number at least N - dropped, and against an
		// active server 2t > N + corrupt.
		switch {
		case t <= corrupt:
			return fmt.Errorf("%w: threshold %d does not exceed the %d corrupted clients of %d", ErrInsecureParams, t, corrupt, c.N)
		case t > c.N-dropped:
			return fmt.Errorf("%w: threshold %d exceeds the %d clients left after %d dropouts", ErrInsecureParams, t, c.N-dropped, dropped)
		case th.Active && 2*t <= h+corrupt:
			return fmt.Errorf("%w: against an active server 2t must exceed N + corrupted clients (%d + %d); t = %d", ErrInsecureParams, h, corrupt, t)
		}
		return nil
	}
	lo, hi, ok := plusRange(c.N, c.Neighbours, th)
	if !ok {
		return fmt.Errorf("%w: with %d neighbours the graph of %d clients is disconnected by %d corrupted and %d dropped clients with probability above 2^-%d; see PlusParams", ErrInsecureParams, c.Neighbours, c.N, corrupt, dropped, SecurityBits+1)
	}
	if t < lo || t > hi {
		return fmt.Errorf("%w: with %d neighbours among %d clients (%d corrupted, %d dropped) the threshold must be in [%d, %d], got %d; see PlusParams", ErrInsecureParams, c.Neighbours, c.N, corrupt, dropped, lo, hi, t)
	}
	return nil
}
