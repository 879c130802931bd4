package dp

import (
	"errors"
	"fmt"
	"math"
)

// DefaultOrders are the RDP orders α the accountant tracks, those of TF
// Privacy and Opacus: 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, the
// integers 5 to 63, 128, 256 and 512.
var DefaultOrders = defaultOrders()

func defaultOrders() []float64 {
	o := []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5}
	for a := 5; a <= 63; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512)
}

// maxSeriesTerms bounds the series of a fractional order, as dp_accounting
// does. The terms' linear parts cancel and they decay only like a power of
// the index when z is small, but by then each is below e^-27 while the sum A
// is at least 1.
const maxSeriesTerms = 1000

// SampledGaussianRDP returns the RDP at order α of one step of the sampled
// Gaussian mechanism with sampling rate q (0 ≤ q ≤ 1) and noise multiplier z
// (the noise's standard deviation over the L2 sensitivity), after Mironov,
// Talwar and Zhang (2019): log(A_α)/(α - 1), with A_α the α-th moment of the
// likelihood ratio, by the binomial expansion when α is an integer and by the
// paper's series otherwise. It is 0 for q = 0, α/(2z²) for q = 1 (the
// Gaussian mechanism) and +Inf for z = 0 or α = +Inf.
func SampledGaussianRDP(q, z, alpha float64) (float64, error) {
	switch {
	case math.IsNaN(q) || q < 0 || q > 1:
		return 0, fmt.Errorf("dp: sampling rate q = %v, want 0 <= q <= 1", q)
	case math.IsNaN(z) || z < 0:
		return 0, fmt.Errorf("dp: noise multiplier z = %v, want z >= 0", z)
	case math.IsNaN(alpha) || alpha <= 1:
		return 0, fmt.Errorf("dp: RDP order %v, want an order > 1", alpha)
	}
	switch {
	case q == 0:
		return 0, nil
	case z == 0 || math.IsInf(alpha, 1):
		return math.Inf(1), nil
	case q == 1:
		return alpha / (2 * z * z), nil
	}
	var logA float64
	if alpha == math.Trunc(alpha) && alpha < 1<<20 {
		logA = logAInt(q, z, int(alpha))
	} else {
		var err error
		if logA, err = logAFrac(q, z, alpha); err != nil {
			return 0, err
		}
	}
	return logA / (alpha - 1), nil
}

// logAInt is log A_α for an integer α by the binomial expansion:
// A_α = Σ_k C(α,k) q^k (1-q)^(α-k) exp((k² - k)/(2z²)).
func logAInt(q, z float64, alpha int) float64 {
	logA := math.Inf(-1)
	lq, l1q := math.Log(q), math.Log1p(-q)
	for k := 0; k <= alpha; k++ {
		fk := float64(k)
		s := logBinom(float64(alpha), fk) + fk*lq + float64(alpha-k)*l1q + (fk*fk-fk)/(2*z*z)
		logA = logAdd(logA, s)
	}
	return logA
}

// logAFrac is log A_α for a fractional α by the series of Mironov, Talwar and
// Zhang (2019, Section 3.3): two sums over i ≥ 0 split at z0 = z²·log(1/q - 1)
// + 1/2, whose terms have the sign of the generalised binomial coefficient.
func logAFrac(q, z, alpha float64) (float64, error) {
	a0, a1 := math.Inf(-1), math.Inf(-1)
	lq, l1q := math.Log(q), math.Log1p(-q)
	z0 := z*z*math.Log(1/q-1) + 0.5
	for i := 0; i < maxSeriesTerms; i++ { // as dp_accounting, at most maxSeriesTerms
		fi := float64(i)
		logCoef, sign := logAbsBinom(alpha, fi)
		j := alpha - fi
		t0 := logCoef + fi*lq + j*l1q
		t1 := logCoef + j*lq + fi*l1q
		e0 := math.Log(0.5) + logErfc((fi-z0)/(math.Sqrt2*z))
		e1 := math.Log(0.5) + logErfc((z0-j)/(math.Sqrt2*z))
		s0 := t0 + (fi*fi-fi)/(2*z*z) + e0
		s1 := t1 + (j*j-j)/(2*z*z) + e1
		if sign > 0 {
			a0, a1 = logAdd(a0, s0), logAdd(a1, s1)
		} else {
			var err0, err1 error
			a0, err0 = logSub(a0, s0)
			a1, err1 = logSub(a1, s1)
			if err := errors.Join(err0, err1); err != nil {
				return 0, fmt.Errorf("dp: series of order %v (q %v, z %v): %w", alpha, q, z, err)
			}
		}
		if max(s0, s1) < -30 {
			break
		}
	}
	return logAdd(a0, a1), nil
}

// logBinom is log C(n, k) for real n ≥ k ≥ 0 with n - k > -1.
func logBinom(n, k float64) float64 {
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, _ := math.Lgamma(n - k + 1)
	return a - b - c
}

// logAbsBinom returns log |C(α, k)| and its sign for a real α and an integer
// k ≥ 0: Γ(α - k + 1) changes sign between the poles at the negative
// integers, and math.Lgamma reports that sign.
func logAbsBinom(alpha, k float64) (float64, int) {
	a, _ := math.Lgamma(alpha + 1)
	b, _ := math.Lgamma(k + 1)
	c, sign := math.Lgamma(alpha - k + 1)
	return a - b - c, sign
}

// logAdd is log(e^a + e^b).
func logAdd(a, b float64) float64 {
	lo, hi := min(a, b), max(a, b)
	if math.IsInf(lo, -1) {
		return hi
	}
	return math.Log1p(math.Exp(lo-hi)) + hi
}

// logSub is log(e^a - e^b), which must not be negative.
func logSub(a, b float64) (float64, error) {
	switch {
	case a < b:
		return 0, fmt.Errorf("log-space subtraction %v - %v is negative", a, b)
	case math.IsInf(b, -1):
		return a, nil
	case a == b:
		return math.Inf(-1), nil
	}
	return math.Log(math.Expm1(a-b)) + b, nil
}

// logErfc is log(erfc(x)), also where erfc underflows (x above about 26): there
// it uses the asymptotic expansion erfc(x) ≈ e^(-x²)/(x√π)·(1 - 1/(2x²) +
// 3/(4x⁴) - 15/(8x⁶) + 105/(16x⁸)).
func logErfc(x float64) float64 {
	if r := math.Erfc(x); r > 0 && x < 25 {
		return math.Log(r)
	}
	x2 := x * x
	return -x2 - math.Log(x) - 0.5*math.Log(math.Pi) +
		math.Log1p(-1/(2*x2)+3/(4*x2*x2)-15/(8*x2*x2*x2)+105/(16*x2*x2*x2*x2))
}

// Epsilon converts the RDP r[i] at orders[i] of a mechanism to the ε of
// (ε, δ)-DP and returns the smallest ε with the order that gives it, by the
// conversion of Balle et al. ("Hypothesis Testing Interpretations and Rényi
// Differential Privacy", AISTATS 2020) that dp_accounting and Opacus use:
//
//	ε(α) = r + log1p(-1/α) - log(δ·α)/(α - 1),
//
// and ε(α) = 0 where δ² + expm1(-r) ≥ 0 (the RDP is so small that (0, δ)-DP
// holds). Orders at most 1.01 give no bound.
func Epsilon(orders, r []float64, delta float64) (eps, order float64, err error) {
	if len(orders) != len(r) {
		return 0, 0, fmt.Errorf("dp: %d orders but %d RDP values", len(orders), len(r))
	}
	if len(orders) == 0 {
		return 0, 0, errors.New("dp: no RDP orders")
	}
	if math.IsNaN(delta) || delta <= 0 || delta >= 1 {
		return 0, 0, fmt.Errorf("dp: delta = %v, want 0 < delta < 1", delta)
	}
	eps, order = math.Inf(1), orders[0]
	for i, a := range orders {
		if math.IsNaN(a) || a < 1 {
			return 0, 0, fmt.Errorf("dp: RDP order %v, want >= 1", a)
		}
		if math.IsNaN(r[i]) || r[i] < 0 {
			return 0, 0, fmt.Errorf("dp: RDP %v at order %v, want >= 0", r[i], a)
		}
		e := math.Inf(1)
		switch {
		case delta*delta+math.Expm1(-r[i]) >= 0:
			e = 0
		case a > 1.01:
			e = r[i] + math.Log1p(-1/a) - math.Log(delta*a)/(a-1)
		}
		if e < eps {
			eps, order = e, a
		}
	}
	return max(0, eps), order, nil
}

// Accountant adds up the RDP of the steps of a training run at a fixed set of
// orders. The zero Accountant tracks [DefaultOrders].
type Accountant struct {
	// Orders are the RDP orders tracked; nil means DefaultOrders. Do not
	// change them after the first step.
	Orders []float64
	rdp    []float64

	// The RDP of one step at the last (q, z), which a training run repeats:
	// the series of the fractional orders takes up to a thousand terms.
	lastQ, lastZ float64
	lastStep     []float64
}

func (a *Accountant) orders() []float64 {
	if a.Orders == nil {
		return DefaultOrders
	}
	return a.Orders
}

// Step adds steps steps of the sampled Gaussian mechanism with sampling rate q
// and noise multiplier z.
func (a *Accountant) Step(q, z float64, steps int) error {
	if steps < 0 {
		return fmt.Errorf("dp: %d steps, want >= 0", steps)
	}
	orders := a.orders()
	if a.rdp == nil {
		a.rdp = make([]float64, len(orders))
	}
	if a.lastStep == nil || q != a.lastQ || z != a.lastZ {
		one := make([]float64, len(orders))
		for i, o := range orders {
			r, err := SampledGaussianRDP(q, z, o)
			if err != nil {
				return err
			}
			one[i] = r
		}
		a.lastQ, a.lastZ, a.lastStep = q, z, one
	}
	for i, r := range a.lastStep {
		a.rdp[i] += r * float64(steps)
	}
	return nil
}

// RDP returns a copy of the RDP accumulated at each order.
func (a *Accountant) RDP() []float64 {
	r := make([]float64, len(a.orders()))
	copy(r, a.rdp)
	return r
}

// Epsilon returns the ε of (ε, δ)-DP of the steps so far and the order that
// gives it (see [Epsilon]).
func (a *Accountant) Epsilon(delta float64) (eps, order float64, err error) {
	return Epsilon(a.orders(), a.RDP(), delta)
}

// StepsForEpochs returns the number of steps of epochs passes over n examples
// in batches of batch: ceil(epochs·n/batch), as TF Privacy's
// compute_dp_sgd_privacy counts them.
func StepsForEpochs(n, batch int, epochs float64) (int, error) {
	if n <= 0 || batch <= 0 || batch > n {
		return 0, fmt.Errorf("dp: %d examples in batches of %d, want 0 < batch <= examples", n, batch)
	}
	if math.IsNaN(epochs) || epochs < 0 {
		return 0, fmt.Errorf("dp: %v epochs, want >= 0", epochs)
	}
	return int(math.Ceil(epochs * float64(n) / float64(batch))), nil
}

// EpsilonForTraining returns the ε, and the order giving it, of steps steps of
// the sampled Gaussian mechanism with sampling rate q and noise multiplier z
// at the given δ, on [DefaultOrders].
func EpsilonForTraining(q, z float64, steps int, delta float64) (eps, order float64, err error) {
	var a Accountant
	if err := a.Step(q, z, steps); err != nil {
		return 0, 0, err
	}
	return a.Epsilon(delta)
}
