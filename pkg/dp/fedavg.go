package dp

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// Float is the element type of an update: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// L2Norm returns the Euclidean norm of v, computed in float64.
func L2Norm[F Float](v []F) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// ClipL2 scales v in place so that its L2 norm is at most c, the clipping of
// DP-FedAvg (McMahan et al., ICLR 2018): v·min(1, c/‖v‖). It returns the norm
// before clipping and whether v was scaled down. c must be positive.
func ClipL2[F Float](v []F, c float64) (norm float64, clipped bool, err error) {
	if math.IsNaN(c) || c <= 0 || math.IsInf(c, 1) {
		return 0, false, fmt.Errorf("dp: clipping norm %v, want a finite c > 0", c)
	}
	norm = L2Norm(v)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, false, fmt.Errorf("dp: update of norm %v cannot be clipped", norm)
	}
	if norm <= c {
		return norm, false, nil
	}
	s := c / norm
	for i := range v {
		v[i] = F(float64(v[i]) * s)
	}
	return norm, true, nil
}

// AddGaussianNoise adds independent Gaussian noise of standard deviation z·c
// to each coordinate of sum, in place: the noise of the sampled Gaussian
// mechanism on a sum of updates clipped to norm c with noise multiplier z. The
// noise comes from r; use [NewCryptoRand] for training and a seeded
// rand.Rand for reproducible tests.
func AddGaussianNoise[F Float](sum []F, z, c float64, r *rand.Rand) error {
	if math.IsNaN(z) || z < 0 || math.IsInf(z, 1) {
		return fmt.Errorf("dp: noise multiplier %v, want a finite z >= 0", z)
	}
	if math.IsNaN(c) || c <= 0 || math.IsInf(c, 1) {
		return fmt.Errorf("dp: clipping norm %v, want a finite c > 0", c)
	}
	if r == nil {
		return fmt.Errorf("dp: no random source for the noise")
	}
	std := z * c
	for i := range sum {
		sum[i] = F(float64(sum[i]) + std*r.NormFloat64())
	}
	return nil
}

// cryptoSource is a rand.Source reading the operating system's CSPRNG.
type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	crand.Read(b[:]) // never returns an error (Go 1.24 and later)
	return binary.LittleEndian.Uint64(b[:])
}

// NewCryptoRand returns a rand.Rand drawing from crypto/rand, for the noise
// and the sampling of a real run: an adversary who knows a seed can subtract
// the noise.
func NewCryptoRand() *rand.Rand { return rand.New(cryptoSource{}) }

// SampleClients returns the clients of one round of DP-FedAvg: each of the
// clients 0..n-1 independently with probability q (Poisson sampling, the
// sampling the accountant assumes), in increasing order. The round may have
// no client at all.
func SampleClients(n int, q float64, r *rand.Rand) ([]int, error) {
	if n < 0 {
		return nil, fmt.Errorf("dp: %d clients, want >= 0", n)
	}
	if math.IsNaN(q) || q < 0 || q > 1 {
		return nil, fmt.Errorf("dp: sampling probability %v, want 0 <= q <= 1", q)
	}
	if r == nil {
		return nil, fmt.Errorf("dp: no random source for the sampling")
	}
	var ids []int
	for i := range n {
		if r.Float64() < q {
			ids = append(ids, i)
		}
	}
	return ids, nil
}

// NoisyMean returns the DP-FedAvg estimate of the mean update from the noisy
// sum of the sampled clients' clipped updates: sum/(q·n), dividing by the
// expected number of clients rather than the number sampled, whose value
// would itself leak (McMahan et al. 2018, the fixed-denominator estimator).
func NoisyMean[F Float](sum []F, q float64, n int) ([]F, error) {
	if n <= 0 || math.IsNaN(q) || q <= 0 || q > 1 {
		return nil, fmt.Errorf("dp: mean over q = %v of %d clients, want 0 < q <= 1 and n > 0", q, n)
	}
	d := q * float64(n)
	m := make([]F, len(sum))
	for i, x := range sum {
		m[i] = F(float64(x) / d)
	}
	return m, nil
}
