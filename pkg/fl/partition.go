package fl

// Partitions of a data set among parties, as index sets: part p lists the
// indices of the examples party p holds (apply one with Split). All are
// deterministic in their seed.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Label is a type that can hold class labels: mnistio's uint8 labels,
// Dataset's float64 0/1 labels, or plain ints.
type Label interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// newRand returns the package's generator for a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9a27))
}

// IID deals n examples at random to the parties, perParty each, as the
// original notebook does (it shuffles, then gives party i the i-th block).
// A perParty of 0 gives each party n/parties examples. Examples left over
// belong to no party.
func IID(n, parties, perParty int, seed uint64) ([][]int, error) {
	if parties <= 0 {
		return nil, fmt.Errorf("fl: %d parties: must be at least 1", parties)
	}
	if perParty == 0 {
		perParty = n / parties
	}
	if perParty <= 0 || parties*perParty > n {
		return nil, fmt.Errorf("fl: %d parties of %d examples: need 1 to %d examples each for %d examples",
			parties, perParty, n/parties, n)
	}
	perm := newRand(seed).Perm(n)
	parts := make([][]int, parties)
	for p := range parts {
		parts[p] = perm[p*perParty : (p+1)*perParty : (p+1)*perParty]
	}
	return parts, nil
}

// Shards is McMahan et al.'s pathological non-IID partition: it sorts the
// examples by label, cuts them into parties·shardsPerParty shards of
// consecutive examples (sizes differing by at most one, so every example is
// dealt), and gives each party shardsPerParty shards at random. With shards
// no larger than a class, each party sees at most about shardsPerParty labels.
func Shards[L Label](labels []L, parties, shardsPerParty int, seed uint64) ([][]int, error) {
	if parties <= 0 || shardsPerParty <= 0 {
		return nil, fmt.Errorf("fl: %d parties of %d shards: both must be at least 1", parties, shardsPerParty)
	}
	shards := parties * shardsPerParty
	if shards > len(labels) {
		return nil, fmt.Errorf("fl: %d shards of %d examples: more shards than examples", shards, len(labels))
	}
	byLabel := make([]int, len(labels))
	for i := range byLabel {
		byLabel[i] = i
	}
	slices.SortStableFunc(byLabel, func(a, b int) int { return compare(labels[a], labels[b]) })
	order := newRand(seed).Perm(shards) // order[k]: the shard dealt k-th
	parts := make([][]int, parties)
	for k, s := range order {
		p := k / shardsPerParty
		lo, hi := s*len(labels)/shards, (s+1)*len(labels)/shards
		parts[p] = append(parts[p], byLabel[lo:hi]...)
	}
	return parts, nil
}

// compare orders labels, NaN-free.
func compare[L Label](a, b L) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Dirichlet is the distribution-based label skew of the non-IID literature
// (Yurochkin et al. 2019; Li et al.'s NIID-Bench, 2021): for each class it
// draws the parties' shares q ~ Dir(alpha, ..., alpha) and deals the class's
// examples, shuffled, in those proportions. A small alpha (0.1) gives
// each party few classes in very unequal amounts; a large one (100) gives
// every party nearly the global label mix. Every example is dealt; a party
// may get none, mostly when alpha is small and the parties many.
func Dirichlet[L Label](labels []L, parties int, alpha float64, seed uint64) ([][]int, error) {
	if parties <= 0 {
		return nil, fmt.Errorf("fl: %d parties: must be at least 1", parties)
	}
	if !(alpha > 0) || math.IsInf(alpha, 1) {
		return nil, fmt.Errorf("fl: Dirichlet concentration %v: must be positive and finite", alpha)
	}
	classes := map[L][]int{}
	var keys []L
	for i, l := range labels {
		if l != l {
			return nil, fmt.Errorf("fl: label %d is NaN", i)
		}
		if _, ok := classes[l]; !ok {
			keys = append(keys, l)
		}
		classes[l] = append(classes[l], i)
	}
	slices.Sort(keys) // map order is random: go through the classes in a fixed order
	rng := newRand(seed)
	parts := make([][]int, parties)
	for _, l := range keys {
		idx := classes[l]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		q := dirichletSample(rng, alpha, parties)
		var cum float64
		lo := 0
		for p := range parties {
			cum += q[p]
			hi := int(math.Round(cum * float64(len(idx))))
			if p == parties-1 {
				hi = len(idx) // rounding must not lose the last examples
			}
			hi = max(lo, min(hi, len(idx)))
			parts[p] = append(parts[p], idx[lo:hi]...)
			lo = hi
		}
	}
	return parts, nil
}

// dirichletSample draws q ~ Dir(alpha, ..., alpha) with k components, as
// normalized Gamma(alpha) draws. It works with the logarithms of the draws,
// which a small alpha would underflow to 0.
func dirichletSample(rng *rand.Rand, alpha float64, k int) []float64 {
	q := make([]float64, k)
	top := math.Inf(-1)
	for i := range q {
		q[i] = logGamma(rng, alpha)
		top = max(top, q[i])
	}
	var sum float64
	for i := range q {
		q[i] = math.Exp(q[i] - top)
		sum += q[i]
	}
	for i := range q {
		q[i] /= sum
	}
	return q
}

// logGamma returns the logarithm of a draw from Gamma(shape, 1), shape > 0.
// For shape >= 1 it uses Marsaglia and Tsang's method (2000); below 1 it
// draws Gamma(shape+1) and multiplies by U^(1/shape), which is Gamma(shape)
// (same paper), in logarithms.
func logGamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := 1 - rng.Float64() // in (0, 1]: its log is finite
		return logGamma(rng, shape+1) + math.Log(u)/shape
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < x*x/2+d*(1-v+math.Log(v)) {
			return math.Log(d * v)
		}
	}
}
