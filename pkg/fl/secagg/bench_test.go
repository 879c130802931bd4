package secagg

import (
	"fmt"
	"testing"
)

// benchInputs gives every client the same input: values do not change the
// cost.
func benchInputs(n, m int) [][]float64 {
	x := randomInputs(1, m, 1)[0]
	out := make([][]float64, n)
	for i := range out {
		out[i] = x
	}
	return out
}

// BenchmarkRun runs whole aggregations and reports the mean client time and
// the server time per aggregation, with 30% of the clients dropping out
// before sending their masked input.
func BenchmarkRun(b *testing.B) {
	for _, tc := range []struct{ n, m, dropPct int }{
		{10, 10000, 0}, {10, 10000, 30}, {100, 10000, 0}, {100, 10000, 30}, {100, 100000, 30},
	} {
		b.Run(fmt.Sprintf("n=%d/m=%d/drop=%d%%", tc.n, tc.m, tc.dropPct), func(b *testing.B) {
			cfg := Config{N: tc.n, Dim: tc.m, Round: 1}
			inputs := benchInputs(tc.n, tc.m)
			var client, server float64
			for b.Loop() {
				res, err := Run(cfg, inputs, []int{0, 0, tc.n * tc.dropPct / 100})
				if err != nil {
					b.Fatal(err)
				}
				for _, i := range res.Contributors {
					client += res.Stats.ClientTime[i].Seconds() / float64(len(res.Contributors))
				}
				server += res.Stats.ServerTime.Seconds()
			}
			b.ReportMetric(client/float64(b.N)*1e3, "client-ms")
			b.ReportMetric(server/float64(b.N)*1e3, "server-ms")
		})
	}
}

// BenchmarkKeyStream is the PRG bound: the AES-CTR key stream of one mask of
// 10^5 words.
func BenchmarkKeyStream(b *testing.B) {
	var seed [KeySize]byte
	ks := make([]byte, 4*100000)
	b.SetBytes(int64(len(ks)))
	for b.Loop() {
		KeyStream(ks, &seed)
	}
}

// BenchmarkExpanderAdd is the key stream added to a vector: the client's
// per-mask cost.
func BenchmarkExpanderAdd(b *testing.B) {
	var seed [KeySize]byte
	var e Expander
	acc := make([]uint32, 100000)
	b.SetBytes(4 * int64(len(acc)))
	for b.Loop() {
		e.Add(acc, &seed, false)
	}
}

// BenchmarkPlainSum is the insecure bound of the server: adding 100 vectors
// of 10^5 words.
func BenchmarkPlainSum(b *testing.B) {
	v := make([]uint32, 100000)
	vs := make([][]uint32, 100)
	for i := range vs {
		vs[i] = v
	}
	b.SetBytes(4 * 100 * 100000)
	for b.Loop() {
		SumFixed(vs)
	}
}
