// Package shamir implements Shamir's t-of-n secret sharing of vectors of
// elements of the prime field GF(2^61-1).
//
// A secret is a vector of field elements; each element is shared with its
// own random polynomial of degree t-1, all evaluated at the same points, so a
// share is one point x and one value per element. Any t shares recover the
// secret; any t-1 of them are independent of it (information-theoretically).
//
// The Mersenne prime 2^61-1 keeps every multiplication in two machine words,
// which makes sharing among hundreds of holders cost microseconds rather
// than the milliseconds of a 256-bit field in math/big; a 32-byte key is
// obtained by sharing a seed of a few elements (5 elements carry 305 bits)
// and deriving the key from it.
package shamir

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
)

// Prime is the field's modulus, the Mersenne prime 2^61 - 1.
const Prime = 1<<61 - 1

// Share is the share of one holder: the evaluation point X (never 0, below
// Prime) and one value per element of the secret.
type Share struct {
	X uint64
	Y []uint64
}

// The field operations run in constant time: they never branch on their
// operands (share values and secrets), only on public loop bounds. A
// conditional subtraction is a subtraction whose borrow selects, as a mask,
// which result to keep.

// reduce returns s mod Prime for s < 2 Prime, without branching.
func reduce(s uint64) uint64 {
	d, borrow := bits.Sub64(s, Prime, 0) // borrow = 1 iff s < Prime
	mask := -borrow
	return s&mask | d&^mask
}

// Add returns a + b mod Prime for a, b < Prime.
func Add(a, b uint64) uint64 {
	return reduce(a + b) // < 2^62, no overflow
}

// Sub returns a - b mod Prime for a, b < Prime.
func Sub(a, b uint64) uint64 {
	d, borrow := bits.Sub64(a, b, 0)
	return d + Prime&-borrow
}

// Mul returns a * b mod Prime for a, b < Prime.
func Mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b) // a*b < 2^122: hi < 2^58
	// a*b = hi*2^64 + lo = (hi<<3 | lo>>61)*2^61 + (lo & Prime), and 2^61 = 1.
	return reduce((hi<<3 | lo>>61) + (lo & Prime))
}

// Inv returns the multiplicative inverse of a != 0 mod Prime (a^(Prime-2)).
func Inv(a uint64) uint64 {
	r, e := uint64(1), uint64(Prime-2)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = Mul(r, a)
		}
		a = Mul(a, a)
	}
	return r
}

// RandomElements fills dst with independent uniform elements of the field
// read from r (crypto/rand.Reader if r is nil), by rejection sampling.
func RandomElements(dst []uint64, r io.Reader) error {
	if r == nil {
		r = rand.Reader
	}
	var buf [8 * 16]byte
	for i := 0; i < len(dst); {
		n := min(len(dst)-i, 16)
		if _, err := io.ReadFull(r, buf[:8*n]); err != nil {
			return fmt.Errorf("shamir: reading randomness: %w", err)
		}
		for k := 0; k < n; k++ {
			v := binary.LittleEndian.Uint64(buf[8*k:]) & Prime // 61 uniform bits
			if v != Prime {                                    // reject the one value >= Prime
				dst[i] = v
				i++
			}
		}
	}
	return nil
}

func checkPoints(xs []uint64) error {
	seen := make(map[uint64]bool, len(xs))
	for _, x := range xs {
		if x == 0 || x >= Prime {
			return fmt.Errorf("shamir: evaluation point %d outside [1, 2^61-1)", x)
		}
		if seen[x] {
			return fmt.Errorf("shamir: evaluation point %d given twice", x)
		}
		seen[x] = true
	}
	return nil
}

// Split shares secret among the holders at points xs with threshold t: any
// t of the returned shares (one per point, in the order of xs) recover the
// secret. Every element of secret must be below Prime, points must be
// distinct and nonzero, 1 <= t <= len(xs). Random coefficients are read from
// r (crypto/rand.Reader if nil).
func Split(secret []uint64, t int, xs []uint64, r io.Reader) ([]Share, error) {
	if t < 1 || t > len(xs) {
		return nil, fmt.Errorf("shamir: threshold %d outside [1, %d holders]", t, len(xs))
	}
	for i, s := range secret {
		if s >= Prime {
			return nil, fmt.Errorf("shamir: secret element %d = %d is not below 2^61-1", i, s)
		}
	}
	if err := checkPoints(xs); err != nil {
		return nil, err
	}
	// coef[d*w + e] is the coefficient of x^d of element e's polynomial;
	// evaluating the w polynomials side by side keeps w independent
	// multiply-add chains in flight.
	w := len(secret)
	coef := make([]uint64, t*w)
	copy(coef, secret)
	if err := RandomElements(coef[w:], r); err != nil {
		return nil, err
	}
	shares := make([]Share, len(xs))
	ys := make([]uint64, len(xs)*w)
	for h, x := range xs {
		y := ys[h*w : (h+1)*w : (h+1)*w]
		copy(y, coef[(t-1)*w:])
		for d := t - 2; d >= 0; d-- { // Horner
			c := coef[d*w : (d+1)*w]
			for e := range y {
				y[e] = Add(Mul(y[e], x), c[e])
			}
		}
		shares[h] = Share{X: x, Y: y}
	}
	return shares, nil
}

// Combiner recovers secrets from the shares of a fixed set of holders. It
// computes the Lagrange coefficients at 0 once, so recovering many secrets
// shared among the same points costs one multiplication per share and
// element.
type Combiner struct {
	xs     []uint64
	lambda []uint64
}

// NewCombiner returns a Combiner for shares at the distinct nonzero points
// xs. Combining recovers the secret if it was shared with threshold at most
// len(xs).
func NewCombiner(xs []uint64) (*Combiner, error) {
	if len(xs) == 0 {
		return nil, errors.New("shamir: no shares to combine")
	}
	if err := checkPoints(xs); err != nil {
		return nil, err
	}
	// lambda_j = prod_{m != j} x_m / (x_m - x_j).
	lambda := make([]uint64, len(xs))
	for j, xj := range xs {
		num, den := uint64(1), uint64(1)
		for m, xm := range xs {
			if m != j {
				num = Mul(num, xm)
				den = Mul(den, Sub(xm, xj))
			}
		}
		lambda[j] = Mul(num, Inv(den))
	}
	return &Combiner{xs: append([]uint64(nil), xs...), lambda: lambda}, nil
}

// Combine recovers the secret from shares at exactly the Combiner's points,
// in any order.
func (c *Combiner) Combine(shares []Share) ([]uint64, error) {
	if len(shares) != len(c.xs) {
		return nil, fmt.Errorf("shamir: combiner for %d shares got %d", len(c.xs), len(shares))
	}
	width := len(shares[0].Y)
	secret := make([]uint64, width)
	for i, s := range shares {
		j := i // shares usually come in the order of the points
		if s.X != c.xs[i] {
			j = slices.Index(c.xs, s.X)
		}
		if j < 0 {
			return nil, fmt.Errorf("shamir: share at point %d not among the combiner's points", s.X)
		}
		if len(s.Y) != width {
			return nil, fmt.Errorf("shamir: share at point %d has %d elements, want %d", s.X, len(s.Y), width)
		}
		for e, y := range s.Y {
			if y >= Prime {
				return nil, fmt.Errorf("shamir: share at point %d has element %d not below 2^61-1", s.X, y)
			}
			secret[e] = Add(secret[e], Mul(c.lambda[j], y))
		}
	}
	return secret, nil
}

// Combine recovers a secret from its shares; the result is the secret if at
// least t (the threshold used by Split) distinct shares are given, and an
// unrelated vector otherwise.
func Combine(shares []Share) ([]uint64, error) {
	xs := make([]uint64, len(shares))
	for i, s := range shares {
		xs[i] = s.X
	}
	c, err := NewCombiner(xs)
	if err != nil {
		return nil, err
	}
	return c.Combine(shares)
}
