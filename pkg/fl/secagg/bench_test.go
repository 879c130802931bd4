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
		{10, 10000, 0}, {10, 10000, 30}, {100, 10000, 0}, {100, 10000, 30}, {100, 100000, 0}, {100, 100000, 30}, {10, 1000000, 0},
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

// maskingClient returns client 0 of an aggregation of n clients with
// vectors of m words, ready to compute its masked input, and the share
// bundle it gets from the server.
func maskingClient(b *testing.B, n, m int) (*Client, *ShareBundle) {
	cfg := Config{N: n, Dim: m, Round: 1}
	srv, err := NewServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]*Client, n)
	for i := range clients {
		if clients[i], err = NewClientQuantized(cfg, i, make([]uint32, m)); err != nil {
			b.Fatal(err)
		}
		adv, err := clients[i].AdvertiseKeys()
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Receive(adv); err != nil {
			b.Fatal(err)
		}
	}
	l, err := srv.KeyList()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range clients {
		sk, err := c.ShareKeys(l)
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Receive(sk); err != nil {
			b.Fatal(err)
		}
	}
	bundles, err := srv.ShareBundles()
	if err != nil {
		b.Fatal(err)
	}
	for _, bu := range bundles {
		if bu.To == 0 {
			return clients[0], bu
		}
	}
	b.Fatal("no share bundle for client 0")
	return nil, nil
}

var clientCases = []struct{ n, m int }{{100, 10000}, {100, 100000}, {100, 1000000}}

// BenchmarkClientMaskedInput is one client's costliest step: n-1 X25519
// agreements and the expansion of n masks into its vector.
func BenchmarkClientMaskedInput(b *testing.B) {
	for _, tc := range clientCases {
		b.Run(fmt.Sprintf("n=%d/m=%d", tc.n, tc.m), func(b *testing.B) {
			c, bundle := maskingClient(b, tc.n, tc.m)
			for b.Loop() {
				c.stage = StageMaskedInput
				if _, err := c.MaskedInput(bundle); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPRGBound is the AES-CTR key stream of the n masks of
// BenchmarkClientMaskedInput, produced into a buffer in the L1 cache and
// not added anywhere.
func BenchmarkPRGBound(b *testing.B) {
	for _, tc := range clientCases {
		b.Run(fmt.Sprintf("n=%d/m=%d", tc.n, tc.m), func(b *testing.B) {
			ks := make([]byte, 4*prgChunk)
			var key [KeySize]byte
			for b.Loop() {
				for i := range tc.n {
					key[0], key[1] = byte(i), byte(i>>8)
					s := newStream(&key, 0)
					for off := 0; off < 4*tc.m; off += len(ks) {
						c := ks[:min(len(ks), 4*tc.m-off)]
						s.XORKeyStream(c, zeroBlock[:len(c)])
					}
				}
			}
		})
	}
}

// BenchmarkAddMasks is the fused expansion of 100 masks alone.
func BenchmarkAddMasks(b *testing.B) {
	for _, m := range []int{10000, 100000, 1000000} {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			terms := make([]maskTerm, 100)
			for i := range terms {
				terms[i].key[0] = byte(i)
				terms[i].negate = i%2 == 0
			}
			acc := make([]uint32, m)
			var e Expander
			b.SetBytes(int64(4 * m * len(terms)))
			for b.Loop() {
				e.addMasks(acc, acc, 0, terms)
			}
		})
	}
}
