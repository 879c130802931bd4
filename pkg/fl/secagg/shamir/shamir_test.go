package shamir

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

var bigPrime = new(big.Int).SetUint64(Prime)

func TestFieldAgainstBig(t *testing.T) {
	f := func(a, b uint64) bool {
		a, b = a%Prime, b%Prime
		ba, bb := new(big.Int).SetUint64(a), new(big.Int).SetUint64(b)
		mul := new(big.Int).Mod(new(big.Int).Mul(ba, bb), bigPrime).Uint64()
		add := new(big.Int).Mod(new(big.Int).Add(ba, bb), bigPrime).Uint64()
		sub := new(big.Int).Mod(new(big.Int).Sub(ba, bb), bigPrime).Uint64()
		ok := Mul(a, b) == mul && Add(a, b) == add && Sub(a, b) == sub
		if a != 0 {
			ok = ok && Mul(a, Inv(a)) == 1
		}
		return ok
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
	for _, a := range []uint64{0, 1, 2, Prime - 1, Prime - 2, 1 << 60} {
		for _, b := range []uint64{0, 1, Prime - 1, 1 << 60} {
			if !f(a, b) {
				t.Errorf("field operations wrong at %d, %d", a, b)
			}
		}
	}
}

// splitCase is a random sharing problem for testing/quick.
type splitCase struct {
	Secret []uint64
	T      int
	Xs     []uint64
	Pick   []int // a random permutation of the holders
}

func newSplitCase(rng *rand.Rand) splitCase {
	n := 1 + rng.IntN(40)
	c := splitCase{T: 1 + rng.IntN(n), Secret: make([]uint64, 1+rng.IntN(6))}
	for i := range c.Secret {
		c.Secret[i] = rng.Uint64N(Prime)
	}
	seen := map[uint64]bool{}
	for len(c.Xs) < n {
		x := 1 + rng.Uint64N(Prime-1)
		if rng.IntN(2) == 0 {
			x = 1 + rng.Uint64N(1000) // small ids as in the protocol
		}
		if !seen[x] {
			seen[x] = true
			c.Xs = append(c.Xs, x)
		}
	}
	c.Pick = rng.Perm(n)
	return c
}

func TestSplitCombineProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := func(seed uint64) bool {
		c := newSplitCase(rand.New(rand.NewPCG(seed, rng.Uint64())))
		shares, err := Split(c.Secret, c.T, c.Xs, nil)
		if err != nil {
			t.Log(err)
			return false
		}
		// Any t or more shares, in any order, recover the secret.
		for _, k := range []int{c.T, len(c.Xs)} {
			sub := make([]Share, k)
			for i := range sub {
				sub[i] = shares[c.Pick[i]]
			}
			got, err := Combine(sub)
			if err != nil || !slices.Equal(got, c.Secret) {
				t.Logf("t=%d n=%d k=%d: got %v, %v, want %v", c.T, len(c.Xs), k, got, err, c.Secret)
				return false
			}
		}
		// t-1 shares give something else (for t >= 2, except with
		// probability about 2^-61).
		if c.T >= 2 {
			sub := make([]Share, c.T-1)
			for i := range sub {
				sub[i] = shares[c.Pick[i]]
			}
			got, _ := Combine(sub)
			if slices.Equal(got, c.Secret) {
				t.Logf("t=%d: %d shares recovered the secret", c.T, c.T-1)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Error(err)
	}
}

// With t = 2, a single share of a fixed secret is uniform: its top bits over
// many sharings fill 16 buckets evenly.
func TestSingleShareUniform(t *testing.T) {
	const runs, buckets = 16000, 16
	var count [buckets]int
	secret := []uint64{42}
	for range runs {
		s, err := Split(secret, 2, []uint64{1, 2, 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		count[s[1].Y[0]>>57]++ // top 4 of the 61 bits
	}
	chi2 := 0.0
	for _, c := range count {
		d := float64(c) - runs/buckets
		chi2 += d * d / (runs / buckets)
	}
	if chi2 > 37.7 { // 15 degrees of freedom, p = 0.001
		t.Errorf("chi-square %.1f over %v", chi2, count)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []uint64
		t      int
		xs     []uint64
	}{
		{"threshold 0", []uint64{1}, 0, []uint64{1, 2}},
		{"threshold above holders", []uint64{1}, 3, []uint64{1, 2}},
		{"zero point", []uint64{1}, 1, []uint64{0, 2}},
		{"duplicate point", []uint64{1}, 1, []uint64{2, 2}},
		{"point outside field", []uint64{1}, 1, []uint64{Prime}},
		{"secret outside field", []uint64{Prime}, 1, []uint64{1}},
	} {
		if _, err := Split(tc.secret, tc.t, tc.xs, nil); err == nil {
			t.Errorf("%s: Split did not fail", tc.name)
		}
	}
	if _, err := Combine(nil); err == nil {
		t.Error("Combine(nil) did not fail")
	}
	if _, err := Combine([]Share{{X: 1, Y: []uint64{1}}, {X: 1, Y: []uint64{2}}}); err == nil {
		t.Error("Combine accepted two shares at the same point")
	}
	if _, err := Combine([]Share{{X: 1, Y: []uint64{1}}, {X: 2, Y: []uint64{2, 3}}}); err == nil {
		t.Error("Combine accepted shares of different widths")
	}
	if _, err := Combine([]Share{{X: 1, Y: []uint64{Prime}}}); err == nil {
		t.Error("Combine accepted a value outside the field")
	}
	c, _ := NewCombiner([]uint64{1, 2})
	if _, err := c.Combine([]Share{{X: 1, Y: []uint64{1}}, {X: 3, Y: []uint64{2}}}); err == nil {
		t.Error("Combiner accepted a share at a foreign point")
	}
}

func FuzzSplitCombine(f *testing.F) {
	f.Add(uint64(7), uint64(3), uint8(2), uint8(5))
	f.Add(uint64(Prime-1), uint64(0), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, s0, s1 uint64, th, n uint8) {
		if n == 0 || th == 0 || th > n {
			return
		}
		secret := []uint64{s0 % Prime, s1 % Prime}
		xs := make([]uint64, n)
		for i := range xs {
			xs[i] = uint64(i) + 1
		}
		shares, err := Split(secret, int(th), xs, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Combine(shares[int(n)-int(th):])
		if err != nil || !slices.Equal(got, secret) {
			t.Fatalf("got %v, %v, want %v", got, err, secret)
		}
	})
}

func BenchmarkSplit500(b *testing.B) {
	xs := make([]uint64, 500)
	for i := range xs {
		xs[i] = uint64(i + 1)
	}
	secret := make([]uint64, 5)
	for b.Loop() {
		if _, err := Split(secret, 334, xs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The field operations must not branch on their operands (a branch on a
// share or secret value leaks it through timing): their bodies hold no
// if, switch or loop.
func TestFieldOpsBranchFree(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "shamir.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"reduce": true, "Add": true, "Sub": true, "Mul": true}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !want[fn.Name.Name] {
			continue
		}
		delete(want, fn.Name.Name)
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.IfStmt, *ast.SwitchStmt, *ast.ForStmt, *ast.RangeStmt:
				t.Errorf("%s branches at %T", fn.Name.Name, n)
			}
			return true
		})
	}
	if len(want) > 0 {
		t.Errorf("functions not found: %v", want)
	}
}
