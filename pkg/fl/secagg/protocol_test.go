package secagg

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestExactWithRandomDropouts runs many aggregations with random numbers of
// dropouts at every stage: up to N-t in all (SecAgg) or k+1-t (SecAgg+) the
// sum is exact; one more aborts SecAgg and may abort SecAgg+.
func TestExactWithRandomDropouts(t *testing.T) {
	seeds := 80
	if testing.Short() {
		seeds = 20
	}
	succeeded, aborted := 0, 0
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{N: 3 + rng.IntN(10), Dim: 1 + rng.IntN(40), Round: rng.Uint64(), Seed: seed}
		if rng.IntN(3) == 0 {
			cfg.N = 10 + rng.IntN(10)
			cfg.Neighbours = 4 + 2*rng.IntN(2)
			cfg.GraphSeed[0] = byte(seed + 1)
		}
		norm, err := cfg.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Neighbours == 0 && rng.IntN(2) == 0 {
			cfg.Threshold = cfg.N/2 + 1 + rng.IntN(cfg.N-cfg.N/2)
			norm.Threshold = cfg.Threshold
		}
		// Up to holders - t dropouts leave every client at least t share
		// holders (in SecAgg holders = N).
		budget := norm.holders() - norm.Threshold
		if rng.IntN(4) == 0 {
			budget++ // one too many
		}
		dropouts := make([]int, 4)
		for range budget {
			dropouts[rng.IntN(4)]++
		}
		inputs := randomInputs(cfg.N, cfg.Dim, seed)
		res, err := Run(cfg, inputs, dropouts)
		tooMany := budget > norm.holders()-norm.Threshold
		switch {
		case err == nil:
			if cfg.Neighbours == 0 && tooMany {
				t.Errorf("seed %d: %+v with dropouts %v succeeded", seed, cfg, dropouts)
			}
			if !slices.Equal(res.Quantized, wantSum(t, cfg, inputs, res.Contributors)) {
				t.Errorf("seed %d: %+v with dropouts %v: secure sum differs from the plaintext sum", seed, cfg, dropouts)
			}
			succeeded++
		case errors.Is(err, ErrTooFewSurvivors) && tooMany:
			aborted++
		case errors.Is(err, ErrDisconnected) && cfg.Neighbours > 0:
			aborted++ // dropouts that cut the ring: the round must not reveal partial sums
		default:
			t.Errorf("seed %d: %+v with dropouts %v: %v", seed, cfg, dropouts, err)
		}
	}
	t.Logf("%d exact sums, %d aborts", succeeded, aborted)
	if succeeded < seeds/2 || aborted == 0 {
		t.Errorf("%d of %d aggregations succeeded, %d aborted", succeeded, seeds, aborted)
	}
}

// session drives clients and a server by hand, without marshaling.
type session struct {
	t       *testing.T
	cfg     Config
	clients []*Client
	server  *Server
}

func newSession(t *testing.T, cfg Config, inputs [][]uint32) *session {
	t.Helper()
	s := &session{t: t, cfg: cfg}
	var err error
	if s.server, err = NewServer(cfg); err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		c, err := NewClientQuantized(cfg, i, in)
		if err != nil {
			t.Fatal(err)
		}
		s.clients = append(s.clients, c)
	}
	return s
}

func (s *session) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// advertise runs stage 0 for the clients in ids and closes it.
func (s *session) advertise(ids []int) *KeyList {
	s.t.Helper()
	for _, i := range ids {
		m, err := s.clients[i].AdvertiseKeys()
		s.must(err)
		s.must(s.server.Receive(m))
	}
	l, err := s.server.KeyList()
	s.must(err)
	return l
}

func (s *session) share(ids []int, l *KeyList) map[int]*ShareBundle {
	s.t.Helper()
	for _, i := range ids {
		m, err := s.clients[i].ShareKeys(l)
		s.must(err)
		s.must(s.server.Receive(m))
	}
	bs, err := s.server.ShareBundles()
	s.must(err)
	out := map[int]*ShareBundle{}
	for _, b := range bs {
		out[b.To] = b
	}
	return out
}

func (s *session) mask(ids []int, bs map[int]*ShareBundle) map[int]*MaskedInput {
	s.t.Helper()
	out := map[int]*MaskedInput{}
	for _, i := range ids {
		m, err := s.clients[i].MaskedInput(bs[i])
		s.must(err)
		s.must(s.server.Receive(m))
		out[i] = m
	}
	return out
}

// unmask closes the masked inputs and runs the unmask stage with every
// client.
func (s *session) unmask() {
	s.t.Helper()
	req, err := s.server.UnmaskRequest()
	s.must(err)
	for _, c := range s.clients {
		m, err := c.Unmask(req)
		s.must(err)
		s.must(s.server.Receive(m))
	}
}

func ids(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func constInputs(n, dim int, v uint32) [][]uint32 {
	out := make([][]uint32, n)
	for i := range out {
		out[i] = make([]uint32, dim)
		for j := range out[i] {
			out[i][j] = v
		}
	}
	return out
}

// Fewer than t survivors: the server aborts and forgets the masked sum, and a
// client asked to unmask with too few survivors reveals no share.
func TestTooFewSurvivorsRevealsNothing(t *testing.T) {
	cfg := Config{N: 6, Dim: 8} // t = 4
	s := newSession(t, cfg, constInputs(6, 8, 5))
	l := s.advertise(ids(6))
	bs := s.share(ids(6), l)
	s.mask([]int{0, 1, 2}, bs) // three drop before sending masked input
	if _, err := s.server.UnmaskRequest(); !errors.Is(err, ErrTooFewSurvivors) || !errors.Is(err, ErrAborted) {
		t.Fatalf("UnmaskRequest with 3 of 6 survivors: %v", err)
	}
	if s.server.sum != nil {
		t.Error("the aborted server kept the masked sum")
	}
	if _, err := s.server.Result(); !errors.Is(err, ErrAborted) {
		t.Errorf("Result after abort: %v", err)
	}
	if err := s.server.Receive(&MaskedInput{From: 3, Vector: make([]uint32, 8)}); !errors.Is(err, ErrAborted) {
		t.Errorf("masked input after abort: %v", err)
	}
	// A (curious) server that asks anyway gets nothing from the clients.
	m, err := s.clients[0].Unmask(&UnmaskRequest{Survivors: []int{0, 1, 2}})
	if !errors.Is(err, ErrTooFewSurvivors) || m != nil {
		t.Fatalf("client unmasking with 3 survivors: %v, %v", m, err)
	}
	if s.clients[0].held != nil {
		t.Error("the aborted client kept its shares")
	}
	if _, err := s.clients[0].Unmask(&UnmaskRequest{Survivors: ids(6)}); !errors.Is(err, ErrAborted) {
		t.Errorf("second unmask request after abort: %v", err)
	}
}

// A client never reveals both shares of one client, whatever the survivor
// lists it is shown.
func TestNeverBothShares(t *testing.T) {
	cfg := Config{N: 5, Dim: 4}
	s := newSession(t, cfg, constInputs(5, 4, 1))
	bs := s.share(ids(5), s.advertise(ids(5)))
	s.mask(ids(5), bs)
	_, err := s.server.UnmaskRequest()
	s.must(err)
	first, err := s.clients[0].Unmask(&UnmaskRequest{Survivors: []int{0, 1, 2, 3}})
	s.must(err)
	if len(first.SelfMask) != 4 || len(first.MaskKeys) != 1 || first.MaskKeys[0].Owner != 4 {
		t.Fatalf("unmask shares %+v", first)
	}
	if _, err := s.clients[0].Unmask(&UnmaskRequest{Survivors: ids(5)}); !errors.Is(err, ErrOutOfStage) {
		t.Errorf("a second unmask request was answered: %v", err)
	}
	// The server rejects a response with both kinds for one owner.
	bad := &UnmaskShares{From: 1, SelfMask: first.SelfMask, MaskKeys: []SeedShare{{Owner: 0, Y: make([]uint64, seedElems)}}}
	if err := s.server.Receive(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("server accepted both shares of one owner: %v", err)
	}
}

// chiSquareTopByte tests that the top bytes of v are uniform over 256 values
// (p = 0.001).
func chiSquareTopByte(t *testing.T, name string, v []uint32) {
	t.Helper()
	var count [256]float64
	for _, x := range v {
		count[x>>24]++
	}
	want := float64(len(v)) / 256
	chi2 := 0.0
	for _, c := range count {
		chi2 += (c - want) * (c - want) / want
	}
	if chi2 > 330.5 { // 255 degrees of freedom
		t.Errorf("%s: top byte chi-square %.1f, not uniform", name, chi2)
	}
}

// A client's masked vector is uniform whatever its input: all zeros and all
// at the top of the range give indistinguishable vectors, and the masks are
// fresh every aggregation.
func TestMaskedInputUniform(t *testing.T) {
	const dim = 1 << 16
	cfg := Config{N: 3, Dim: dim}
	var prev []uint32
	for _, v := range []uint32{0, DefaultRange} {
		s := newSession(t, cfg, constInputs(3, dim, v))
		masked := s.mask(ids(3), s.share(ids(3), s.advertise(ids(3))))
		for i, m := range masked {
			chiSquareTopByte(t, "client "+string(rune('0'+i)), m.Vector)
		}
		if prev != nil {
			diff := make([]uint32, dim)
			for j := range diff {
				diff[j] = masked[0].Vector[j] - prev[j]
			}
			chiSquareTopByte(t, "difference of two aggregations", diff)
		}
		prev = masked[0].Vector
	}
}

func TestMessageErrors(t *testing.T) {
	cfg := Config{N: 4, Dim: 3, Round: 7}
	s := newSession(t, cfg, constInputs(4, 3, 2))
	adv := make([]*AdvertiseKeys, 4)
	for i := range adv {
		var err error
		adv[i], err = s.clients[i].AdvertiseKeys()
		s.must(err)
	}
	s.must(s.server.Receive(adv[0]))
	other := *adv[1]
	other.Round = 6
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	check("replayed keys", s.server.Receive(adv[0]), ErrDuplicate)
	check("keys of another round", s.server.Receive(&other), ErrWrongRound)
	check("keys of client 9", s.server.Receive(&AdvertiseKeys{Round: 7, From: 9, EncKey: adv[1].EncKey, MaskKey: adv[1].MaskKey}), ErrUnknownClient)
	check("short key", s.server.Receive(&AdvertiseKeys{Round: 7, From: 1, EncKey: adv[1].EncKey[:5], MaskKey: adv[1].MaskKey}), ErrMalformed)
	check("same key twice", s.server.Receive(&AdvertiseKeys{Round: 7, From: 1, EncKey: adv[1].EncKey, MaskKey: adv[1].EncKey}), ErrMalformed)
	check("masked input too early", s.server.Receive(&MaskedInput{Round: 7, From: 1, Vector: make([]uint32, 3)}), ErrOutOfStage)
	check("server message to server", s.server.Receive(&KeyList{Round: 7}), ErrMalformed)
	check("client asked twice to advertise", func() error { _, err := s.clients[0].AdvertiseKeys(); return err }(), ErrOutOfStage)
	if _, err := s.server.ShareBundles(); !errors.Is(err, ErrOutOfStage) {
		t.Errorf("closing the wrong stage: %v", err)
	}
	for _, m := range adv[1:] {
		s.must(s.server.Receive(m))
	}
	l, err := s.server.KeyList()
	s.must(err)

	// Client side: wrong round, wrong stage, doctored lists.
	lOld := *l
	lOld.Round = 6
	_, err = s.clients[0].ShareKeys(&lOld)
	check("key list of another round", err, ErrWrongRound)
	_, err = s.clients[0].MaskedInput(&ShareBundle{Round: 7, To: 0})
	check("bundle before key list", err, ErrOutOfStage)
	lDup := *l
	lDup.Keys = slices.Clone(l.Keys)
	lDup.Keys[2].MaskKey = lDup.Keys[1].MaskKey
	_, err = s.clients[0].ShareKeys(&lDup)
	check("key list with a repeated key", err, ErrMalformed)

	shares := make([]*ShareKeys, 4)
	for i := range shares {
		shares[i], err = s.clients[i].ShareKeys(l)
		s.must(err)
	}
	short := *shares[0]
	short.Shares = short.Shares[1:]
	check("missing share", s.server.Receive(&short), ErrMalformed)
	forged := *shares[0]
	forged.Shares = slices.Clone(shares[0].Shares)
	forged.Shares[0].From = 2
	check("share claiming another sender", s.server.Receive(&forged), ErrMalformed)
	for _, m := range shares {
		s.must(s.server.Receive(m))
	}
	check("replayed shares", s.server.Receive(shares[1]), ErrDuplicate)
	bs, err := s.server.ShareBundles()
	s.must(err)

	// A share redirected to another client, or tampered with, does not
	// authenticate; the client keeps waiting for the right bundle.
	redirected := &ShareBundle{Round: 7, To: 0, Shares: slices.Clone(bs[0].Shares)}
	redirected.Shares[0] = EncryptedShare{From: bs[1].Shares[1].From, To: 0, Ciphertext: bs[1].Shares[1].Ciphertext}
	_, err = s.clients[0].MaskedInput(redirected)
	check("redirected share", err, ErrMalformed)
	tampered := &ShareBundle{Round: 7, To: 0, Shares: slices.Clone(bs[0].Shares)}
	ct := slices.Clone(tampered.Shares[0].Ciphertext)
	ct[20] ^= 1
	tampered.Shares[0].Ciphertext = ct
	_, err = s.clients[0].MaskedInput(tampered)
	check("tampered share", err, ErrMalformed)
	_, err = s.clients[0].MaskedInput(bs[1])
	check("another client's bundle", err, ErrMalformed)
	masked := make([]*MaskedInput, 4)
	for i := range masked {
		masked[i], err = s.clients[i].MaskedInput(bs[i])
		s.must(err)
	}
	check("masked input of the wrong length", s.server.Receive(&MaskedInput{Round: 7, From: 0, Vector: make([]uint32, 2)}), ErrMalformed)
	for _, m := range masked {
		s.must(s.server.Receive(m))
	}
	check("replayed masked input", s.server.Receive(masked[2]), ErrDuplicate)
	req, err := s.server.UnmaskRequest()
	s.must(err)
	_, err = s.clients[0].Unmask(&UnmaskRequest{Round: 7, Survivors: []int{2, 1, 0}})
	check("unsorted survivors", err, ErrMalformed)
	for _, c := range s.clients {
		m, err := c.Unmask(req)
		s.must(err)
		s.must(s.server.Receive(m))
	}
	sum, err := s.server.Result()
	s.must(err)
	if want := []uint32{8, 8, 8}; !slices.Equal(sum, want) {
		t.Errorf("after all the rejected messages the sum is %v, want %v", sum, want)
	}
	// A share of this round replayed into the next one does not authenticate.
	cfg.Round = 8
	next := newSession(t, cfg, constInputs(4, 3, 2))
	nl := next.advertise(ids(4))
	for i := range 4 {
		_, err := next.clients[i].ShareKeys(nl)
		s.must(err)
	}
	replay := &ShareBundle{Round: 8, To: 0, Shares: bs[0].Shares}
	_, err = next.clients[0].MaskedInput(replay)
	check("share replayed from the previous round", err, ErrMalformed)
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{N: 1, Dim: 1},
		{N: 4, Dim: 0},
		{N: 4, Dim: 1, Threshold: 2, Corrupt: 0.5}, // a coalition of 2 holds t shares
		{N: 4, Dim: 1, Threshold: 5},               // more than the holders
		{N: 6, Dim: 1, Threshold: 6, Dropout: 0.2}, // one dropout leaves 5 < t
		{N: 10, Dim: 1, Neighbours: 4},             // SecAgg+ without a graph seed
		{N: 4, Dim: 1, Identities: make([]ed25519.PublicKey, 3)},
		{N: 10, Dim: 1, Neighbours: 3},  // odd
		{N: 10, Dim: 1, Neighbours: -2}, // negative
		{N: 2000, Dim: 1},               // 2000 * 2^22 > 2^32
		{N: 4, Dim: 1, Quantizer: Quantizer{Clip: -1, Range: 8}},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%+v) did not fail", cfg)
		}
	}
	cfg := Config{N: 4, Dim: 2}
	if _, err := NewClient(cfg, 4, []float64{1, 2}); err == nil {
		t.Error("client 4 of 4 accepted")
	}
	if _, err := NewClient(cfg, 0, []float64{1}); err == nil {
		t.Error("input of the wrong length accepted")
	}
	if _, err := NewClientQuantized(cfg, 0, []uint32{1, DefaultRange + 1}); err == nil {
		t.Error("quantized input above the range accepted")
	}
	if _, err := Run(cfg, randomInputs(3, 2, 0), nil); err == nil {
		t.Error("Run accepted 3 inputs for 4 clients")
	}
	if _, err := Run(cfg, randomInputs(4, 2, 0), []int{0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("Run accepted dropouts for 6 stages")
	}
}

func TestSecAggPlusGraph(t *testing.T) {
	cfg, err := Config{N: 50, Dim: 1, Neighbours: 6, GraphSeed: [32]byte{9}}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	g := newGraph(cfg)
	for u := range 50 {
		nb := g.neighbours(u)
		if len(nb) != 6 {
			t.Fatalf("client %d has %d neighbours", u, len(nb))
		}
		for _, v := range nb {
			if !g.adjacent(u, v) || !g.adjacent(v, u) {
				t.Fatalf("%d and %d: neighbours but not adjacent both ways", u, v)
			}
		}
	}
	cfg.GraphSeed[0] = 1
	if reflect.DeepEqual(newGraph(cfg).ring, g.ring) {
		t.Error("another graph seed gave the same graph")
	}
}

func messageSamples(t *testing.T) []Message {
	cfg := Config{N: 3, Dim: 5, Round: 3}
	s := newSession(t, cfg, constInputs(3, 5, 1))
	var out []Message
	for _, c := range s.clients {
		m, _ := c.AdvertiseKeys()
		out = append(out, m)
		s.must(s.server.Receive(m))
	}
	l, _ := s.server.KeyList()
	out = append(out, l)
	for _, c := range s.clients {
		m, _ := c.ShareKeys(l)
		out = append(out, m)
		s.must(s.server.Receive(m))
	}
	bs, _ := s.server.ShareBundles()
	out = append(out, bs[0])
	for i, c := range s.clients {
		m, _ := c.MaskedInput(bs[i])
		out = append(out, m)
		s.must(s.server.Receive(m))
	}
	r, _ := s.server.UnmaskRequest()
	out = append(out, r)
	m, _ := s.clients[0].Unmask(r)
	return append(out, m, &UnmaskShares{Round: 3, From: 1, MaskKeys: []SeedShare{{Owner: 2, Y: []uint64{1, 2, 3, 4, 5}}}})
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, m := range messageSamples(t) {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(normalizeNil(got), normalizeNil(m)) {
			t.Errorf("%T: round trip gave %+v, want %+v", m, got, m)
		}
		for cut := range len(b) {
			if _, err := Unmarshal(b[:cut]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%T cut to %d of %d bytes: %v", m, cut, len(b), err)
			}
		}
		if _, err := Unmarshal(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%T with a trailing byte: %v", m, err)
		}
	}
	for _, b := range [][]byte{nil, []byte("XX\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("SA\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("SA\x01\x09\x00\x00\x00\x00\x00\x00\x00\x00")} {
		if _, err := Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Unmarshal(%q): %v", b, err)
		}
	}
}

// normalizeNil makes empty and nil slices compare equal.
func normalizeNil(m Message) Message {
	switch m := m.(type) {
	case *UnmaskShares:
		c := *m
		if len(c.SelfMask) == 0 {
			c.SelfMask = nil
		}
		if len(c.MaskKeys) == 0 {
			c.MaskKeys = nil
		}
		return &c
	case *ShareBundle:
		c := *m
		if len(c.Shares) == 0 {
			c.Shares = nil
		}
		return &c
	}
	return m
}

func FuzzUnmarshal(f *testing.F) {
	for _, m := range messageSamples(&testing.T{}) {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			return // e.g. a key of the wrong length is decodable but not encodable
		}
		m2, err := Unmarshal(again)
		if err != nil || !reflect.DeepEqual(normalizeNil(m), normalizeNil(m2)) {
			t.Fatalf("re-encoding changed %+v into %+v, %v", m, m2, err)
		}
	})
}

// SetInput, with which a caller gives its input after the key stages (as
// fedavg's remote client does), checks the range as NewClientQuantized does
// and is refused once the masked input is sent.
func TestSetInput(t *testing.T) {
	s := newSession(t, Config{N: 3, Dim: 2}, constInputs(3, 2, 0))
	c := s.clients[0]
	if err := c.SetInput([]uint32{1, DefaultRange + 1}); err == nil {
		t.Error("an input above the range was accepted")
	}
	if err := c.SetInput([]uint32{1}); err == nil {
		t.Error("an input of the wrong length was accepted")
	}
	bs := s.share(ids(3), s.advertise(ids(3)))
	s.must(c.SetInput([]uint32{5, 7}))
	s.mask(ids(3), bs)
	if err := c.SetInput([]uint32{1, 1}); !errors.Is(err, ErrOutOfStage) {
		t.Errorf("SetInput after the masked input: %v", err)
	}
	s.unmask()
	if sum, err := s.server.Result(); err != nil || !slices.Equal(sum, []uint32{5, 7}) {
		t.Errorf("sum %v, %v; want the input set late", sum, err)
	}
}

// In SecAgg+ each client gets only its neighbours' keys and its own.
func TestKeyListFor(t *testing.T) {
	cfg := Config{N: 12, Dim: 2, Neighbours: 4, GraphSeed: [32]byte{2}}
	s := newSession(t, cfg, constInputs(12, 2, 1))
	if _, err := s.server.KeyListFor(0); !errors.Is(err, ErrOutOfStage) {
		t.Errorf("key list before the keys: %v", err)
	}
	s.advertise(ids(12))
	for _, c := range s.clients {
		l, err := s.server.KeyListFor(c.id)
		s.must(err)
		if len(l.Keys) != 5 {
			t.Fatalf("client %d got %d keys, want its 4 neighbours' and its own", c.id, len(l.Keys))
		}
		if _, err := c.ShareKeys(l); err != nil {
			t.Fatalf("client %d: %v", c.id, err)
		}
	}
}
