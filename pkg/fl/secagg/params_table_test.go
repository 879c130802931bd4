package secagg

import (
	"crypto/ed25519"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The parameter table of the authors' implementation of Bell et al.
// (google-parfait/federated-compute, fcp/secagg/server/
// graph_parameter_finder_test.cc): for n clients, corrupted fraction γ and
// dropout fraction δ, 2^-40 security and 2^-20 correctness, the smallest
// even degree k and a threshold t that meet the bounds. Passive rows are
// their CURIOUS_SERVER rows, active rows their SEMI_MALICIOUS_SERVER rows.
var plusTable = []struct {
	n                int
	corrupt, dropout float64
	active           bool
	k, t             int
}{
	{100, 0.45, 0.45, false, 92, 46},
	{1000, 0.45, 0.45, false, 822, 417},
	{10000, 0.45, 0.45, false, 3494, 1771},
	{10, 0.33, 0.33, false, 8, 4},
	{100, 0.33, 0.33, false, 68, 34},
	{1000, 0.33, 0.33, false, 286, 150},
	{10000, 0.33, 0.33, false, 422, 221},
	{100000, 0.33, 0.33, false, 480, 251},
	{100, 0.3, 0.3, true, 92, 62},
	{1000, 0.3, 0.3, true, 872, 584},
	{10000, 0.3, 0.3, true, 4822, 3230},
	{10, 0.05, 0.33, false, 4, 2},
	{100, 0.05, 0.33, false, 28, 6},
	{1000, 0.05, 0.33, false, 72, 24},
	{10000, 0.05, 0.33, false, 86, 29},
	{100000, 0.05, 0.33, false, 96, 32},
	{1000000, 0.05, 0.33, false, 102, 34},
	{10, 0.05, 0.33, true, 8, 5},
	{100, 0.05, 0.33, true, 72, 39},
	{1000, 0.05, 0.33, true, 398, 223},
	{10000, 0.05, 0.33, true, 746, 420},
	{100000, 0.05, 0.33, true, 882, 496},
	{10, 0.33, 0.05, false, 4, 4},
	{100, 0.33, 0.05, false, 34, 29},
	{1000, 0.33, 0.05, false, 78, 60},
	{10000, 0.33, 0.05, false, 92, 70},
	{100000, 0.33, 0.05, false, 102, 77},
	{1000000, 0.33, 0.05, false, 110, 83},
	{10, 0.33, 0.05, true, 4, 4},
	{100, 0.33, 0.05, true, 42, 37},
	{1000, 0.33, 0.05, true, 132, 109},
	{10000, 0.33, 0.05, true, 178, 146},
	{100000, 0.33, 0.05, true, 196, 160},
}

// TestPlusParamsTable checks the parameter search against the reference
// table. With the reference's rule (a client holds no share of its own
// secrets) every row matches but one: for n=10, γ=0.05, δ=0.33 the
// reference clamps t up to 2, above its own correctness bound (a client
// keeps a single surviving neighbour with probability 1/30), where this
// search moves on to k=6. This package's clients do hold a share of their
// own, so against an active server its t (2t > k+1+t1) and sometimes its k
// are a little larger; never smaller.
func TestPlusParamsTable(t *testing.T) {
	for _, r := range plusTable {
		if testing.Short() && r.n > 1000 {
			continue
		}
		th := Threat{Corrupt: r.corrupt, Dropout: r.dropout, Active: r.active}
		wantK, wantT := r.k, r.t
		if r.n == 10 && r.corrupt == 0.05 && !r.active {
			wantK = 6
		}
		k, tt, ok := plusSearch(r.n, th, 0)
		if !ok || k != wantK || tt > wantT {
			t.Errorf("n=%d %+v: reference rule gives k=%d t=%d (%v), want k=%d t<=%d", r.n, th, k, tt, ok, wantK, wantT)
		}
		pk, pt, err := PlusParams(r.n, th)
		if err != nil || pk < k || pt < tt || !r.active && (pk != k || pt != tt) {
			t.Errorf("n=%d %+v: PlusParams gives k=%d t=%d (%v), reference rule k=%d t=%d", r.n, th, pk, pt, err, k, tt)
		}
		// The configuration with these parameters is accepted, one
		// neighbour pair fewer is not.
		cfg := Config{N: r.n, Dim: 1, Neighbours: pk, Threshold: pt, Corrupt: r.corrupt, Dropout: r.dropout, GraphSeed: [32]byte{1}, Quantizer: Quantizer{Clip: 1, Range: 1}}
		if r.active {
			cfg.Identities = make([]ed25519.PublicKey, r.n)
			for i := range cfg.Identities {
				cfg.Identities[i] = make(ed25519.PublicKey, ed25519.PublicKeySize)
			}
		}
		if _, err := cfg.normalize(); err != nil {
			t.Errorf("n=%d %+v: %v", r.n, th, err)
		}
		if pk > 2 {
			cfg.Neighbours = pk - 2
			if _, err := cfg.normalize(); err == nil {
				t.Errorf("n=%d %+v: k=%d accepted: %v", r.n, th, pk-2, err)
			}
		}
	}
}

// TestDocParamsTable checks the table in the package doc against PlusParams.
func TestDocParamsTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) != 6 || (f[3] != "passive" && f[3] != "active") {
			continue
		}
		var v [6]float64
		for i, s := range f {
			if i != 3 {
				if v[i], err = strconv.ParseFloat(s, 64); err != nil {
					t.Fatalf("row %q: %v", line, err)
				}
			}
		}
		if testing.Short() && v[0] > 1000 {
			continue
		}
		rows++
		k, th, err := PlusParams(int(v[0]), Threat{Dropout: v[1], Corrupt: v[2], Active: f[3] == "active"})
		if err != nil || k != int(v[4]) || th != int(v[5]) {
			t.Errorf("doc row %q: PlusParams gives k=%d t=%d (%v)", line, k, th, err)
		}
	}
	if rows < 5 {
		t.Errorf("found %d rows of the parameter table in doc.go", rows)
	}
}
