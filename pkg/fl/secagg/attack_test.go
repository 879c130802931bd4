package secagg

// Attacks on the protocol's privacy claims, each a test that failed on the
// code before they were fixed (issue 17) and keeps the claim honest.

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/ppml-go/ppml/pkg/fl/secagg/shamir"
)

// randomQuantized returns n inputs of dim entries in [0, DefaultRange].
func randomQuantized(n, dim int, seed uint64) [][]uint32 {
	in := make([][]uint32, n)
	rng := mrand.New(mrand.NewPCG(seed, 1))
	for i, v := range randomInputs(n, dim, seed) {
		in[i], _ = DefaultQuantizer().Quantize(v, rng)
	}
	return in
}

// SecAgg+ on a ring of 8 (k = 2): two clients that are not neighbours drop
// after sharing their keys, which cuts the ring in two. Every threshold
// check passes, but the masks of each arc cancel within it, so the server
// could compute the sum of 3 of the 6 survivors. The server aborts, and a
// client shown that survivor list reveals nothing.
func TestAttackDisconnectedSurvivors(t *testing.T) {
	cfg := Config{N: 8, Dim: 4, Neighbours: 2, GraphSeed: [32]byte{7}}
	s := newSession(t, cfg, constInputs(8, 4, 3))
	bs := s.share(ids(8), s.advertise(ids(8)))
	ring := s.server.g.ring
	dropped := []int{ring[0], ring[4]} // opposite on the ring: not neighbours
	var survivors []int
	for _, v := range ids(8) {
		if !slices.Contains(dropped, v) {
			survivors = append(survivors, v)
		}
	}
	s.mask(survivors, bs)
	if _, err := s.server.UnmaskRequest(); !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrAborted) {
		t.Fatalf("server closing the masked inputs of a cut ring: %v; want ErrDisconnected", err)
	}
	for _, v := range survivors {
		m, err := s.clients[v].Unmask(&UnmaskRequest{Survivors: survivors})
		if !errors.Is(err, ErrDisconnected) || m != nil {
			t.Fatalf("client %d asked to unmask for a cut ring: %v, %v", v, m, err)
		}
	}
}

// N = 12, k = 4, t = 4, no dropouts: four clients at two places on the ring
// cut it in two; each honest client has at most 2 of them as neighbours, so
// they hold fewer than t of its shares, yet with the server they learn the
// sum of each arc of 4 honest clients. The old doc's bound ("fewer than t
// shares of any honest client") allowed this coalition. Now the bound is
// Corrupt: such a coalition is outside a configuration with Corrupt = 0
// (the demonstration below stays as the documentation of why), and a
// configuration that claims to withstand it (Corrupt = 1/3) is rejected.
func TestAttackCoalitionBound(t *testing.T) {
	cfg := Config{N: 12, Dim: 6, Neighbours: 4, Threshold: 4, GraphSeed: [32]byte{3}}
	inputs := randomQuantized(12, 6, 1)
	s := newSession(t, cfg, inputs)
	masked := s.mask(ids(12), s.share(ids(12), s.advertise(ids(12))))
	g := s.server.g
	coalition := []int{g.ring[0], g.ring[1], g.ring[6], g.ring[7]}
	arc := []int{g.ring[2], g.ring[3], g.ring[4], g.ring[5]}
	// What the server learns in the unmask stage (the survivors' self-mask
	// seeds), taken here from the clients before they reveal them.
	selfSeeds := map[int]seed{}
	for _, u := range arc {
		selfSeeds[u] = s.clients[u].selfSeed
	}
	coalitionKeys := map[int]*ecdh.PrivateKey{} // the coalition's own mask keys
	for _, c := range coalition {
		coalitionKeys[c] = s.clients[c].maskPriv
	}
	s.unmask()
	if _, err := s.server.Result(); err != nil {
		t.Fatal(err)
	}
	// The coalition's mask keys and the arc's public keys give every mask
	// between the arc and the coalition; the arc's inner masks cancel.
	partial := make([]uint32, cfg.Dim)
	var exp Expander
	for _, u := range arc {
		addVectors(partial, masked[u].Vector)
		sd := selfSeeds[u]
		key := selfMaskKey(&sd, cfg.Round, u)
		exp.Add(partial, &key, true)
		for _, c := range coalition {
			if !g.adjacent(u, c) {
				continue
			}
			peer, _ := ecdh.X25519().NewPublicKey(s.server.adv[u].MaskKey)
			key, err := pairMaskKey(coalitionKeys[c], peer, cfg.Round, c, u)
			if err != nil {
				t.Fatal(err)
			}
			exp.Add(partial, &key, u < c) // u added +PRG if u < c
		}
	}
	want := make([]uint32, cfg.Dim)
	for _, u := range arc {
		addVectors(want, inputs[u])
	}
	if !slices.Equal(partial, want) {
		t.Fatal("the demonstration failed: the coalition did not get the arc's sum")
	}
	// Claiming to withstand a third of corrupted clients rejects k = 4.
	cfg.Corrupt = 1.0 / 3
	if _, err := NewServer(cfg); !errors.Is(err, ErrInsecureParams) {
		t.Fatalf("N=12, k=4, t=4 with Corrupt=1/3: %v; want ErrInsecureParams", err)
	}
	// Bell et al.'s parameters for it: more neighbours than the 4
	// corrupted clients (no cut is possible) and t above them.
	k, th, err := PlusParams(12, Threat{Corrupt: 1.0 / 3})
	if err != nil || k <= 4 || th <= 4 {
		t.Fatalf("PlusParams(12, γ=1/3) = %d, %d, %v; want k and t above 4", k, th, err)
	}
	cfg.Neighbours, cfg.Threshold = k, th
	if _, err := NewServer(cfg); err != nil {
		t.Fatalf("N=12 with PlusParams' k=%d, t=%d: %v", k, th, err)
	}
}

// identities returns n ed25519 key pairs.
func identities(t *testing.T, n int) ([]ed25519.PublicKey, []ed25519.PrivateKey) {
	pubs := make([]ed25519.PublicKey, n)
	privs := make([]ed25519.PrivateKey, n)
	for i := range n {
		var err error
		if pubs[i], privs[i], err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return pubs, privs
}

// substitute is a malicious server's key list for victim: every other
// client's keys replaced by keys the server made, so that it can open the
// victim's shares and compute its pairwise masks.
func substitute(t *testing.T, l *KeyList, victim int) (*KeyList, map[int][2]*ecdh.PrivateKey) {
	forged := &KeyList{Round: l.Round, Keys: slices.Clone(l.Keys)}
	privs := map[int][2]*ecdh.PrivateKey{}
	for i, k := range forged.Keys {
		if k.From == victim {
			continue
		}
		enc, _ := ecdh.X25519().GenerateKey(rand.Reader)
		mask, _ := ecdh.X25519().GenerateKey(rand.Reader)
		privs[k.From] = [2]*ecdh.PrivateKey{enc, mask}
		k.EncKey, k.MaskKey = enc.PublicKey().Bytes(), mask.PublicKey().Bytes()
		forged.Keys[i] = k // the signature, if any, no longer matches
	}
	return forged, privs
}

// A server that substitutes the other clients' keys in one victim's key list
// reads all of the victim's shares and recovers its exact input. In the
// passive option nothing can detect it (the package doc says so: the
// passive guarantee assumes a server that follows the protocol); in the
// active option the victim finds the keys unsigned and aborts.
func TestAttackKeySubstitution(t *testing.T) {
	const n, dim, victim = 5, 8, 2
	inputs := randomQuantized(n, dim, 4)

	// Passive: the attack works.
	cfg := Config{N: n, Dim: dim}
	s := newSession(t, cfg, inputs)
	l := s.advertise(ids(n))
	forged, privs := substitute(t, l, victim)
	shares, err := s.clients[victim].ShareKeys(forged)
	s.must(err)
	// The server opens every share the victim sealed for the others...
	norm := s.server.cfg
	var selfShares []shamir.Share
	for _, sh := range shares.Shares {
		victimEnc, _ := ecdh.X25519().NewPublicKey(l.Keys[victim].EncKey)
		aead, err := shareAEAD(privs[sh.To][0], victimEnc, cfg.Round, victim, sh.To)
		s.must(err)
		b, _, err := openShare(aead, cfg.Round, victim, sh.To, sh.Ciphertext)
		s.must(err)
		selfShares = append(selfShares, shamir.Share{X: uint64(sh.To) + 1, Y: b})
	}
	// ...forges the shares the victim expects from them, and gets its
	// masked input.
	bundle := &ShareBundle{Round: cfg.Round, To: victim}
	victimEnc, _ := ecdh.X25519().NewPublicKey(l.Keys[victim].EncKey)
	for _, v := range ids(n) {
		if v == victim {
			continue
		}
		aead, err := shareAEAD(privs[v][0], victimEnc, cfg.Round, v, victim)
		s.must(err)
		ct, err := sealShare(aead, cfg.Round, v, victim, make([]uint64, seedElems), make([]uint64, seedElems))
		s.must(err)
		bundle.Shares = append(bundle.Shares, EncryptedShare{From: v, To: victim, Ciphertext: ct})
	}
	masked, err := s.clients[victim].MaskedInput(bundle)
	s.must(err)
	// t shares of b_victim (the victim's own is not needed) and the forged
	// mask keys unmask the input.
	secret, err := shamir.Combine(selfShares[:norm.Threshold])
	s.must(err)
	sd := seed(secret)
	x := slices.Clone(masked.Vector)
	var exp Expander
	key := selfMaskKey(&sd, cfg.Round, victim)
	exp.Add(x, &key, true)
	victimMask, _ := ecdh.X25519().NewPublicKey(l.Keys[victim].MaskKey)
	for _, v := range ids(n) {
		if v == victim {
			continue
		}
		key, err := pairMaskKey(privs[v][1], victimMask, cfg.Round, v, victim)
		s.must(err)
		exp.Add(x, &key, victim < v)
	}
	if !slices.Equal(x, inputs[victim]) {
		t.Fatal("the passive-option demonstration failed: the input was not recovered")
	}

	// Active: the victim sees keys its peers did not sign, and aborts.
	cfg.Identities, _ = identities(t, n)
	pubs, privKeys := identities(t, n)
	cfg.Identities = pubs
	s = newSession(t, cfg, inputs)
	for i, c := range s.clients {
		s.must(c.SetIdentity(privKeys[i]))
	}
	l = s.advertise(ids(n))
	forged, _ = substitute(t, l, victim)
	if m, err := s.clients[victim].ShareKeys(forged); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrAborted) || m != nil {
		t.Fatalf("active option, substituted keys: %v, %v; want ErrBadSignature and an abort", m, err)
	}
	if s.clients[victim].held != nil || s.clients[victim].encPriv != nil {
		t.Error("the aborted victim kept its secrets")
	}
	// The genuine list goes through.
	if _, err := s.clients[(victim+1)%n].ShareKeys(l); err != nil {
		t.Errorf("genuine signed key list: %v", err)
	}
}

// In the active option, a server that shows different survivor lists to
// different clients (to get b_u from some holders and s_u from others) is
// caught: a client reveals shares only for the list it signed, once t of
// each owner's holders signed that same list.
func TestAttackInconsistentSurvivorLists(t *testing.T) {
	const n = 5
	pubs, privs := identities(t, n)
	cfg := Config{N: n, Dim: 3, Identities: pubs} // t = 4
	s := newSession(t, cfg, constInputs(n, 3, 1))
	for i, c := range s.clients {
		s.must(c.SetIdentity(privs[i]))
	}
	s.mask(ids(n), s.share(ids(n), s.advertise(ids(n))))
	all, err := s.server.UnmaskRequest()
	s.must(err)
	// The server tells clients 0 and 1 that client 4 survived, and clients
	// 2 and 3 that it dropped.
	listA := all
	listB := &UnmaskRequest{Round: all.Round, Survivors: []int{0, 1, 2, 3}}
	sigs := map[int]*SurvivorSignature{}
	for _, v := range []int{0, 1, 4} {
		m, err := s.clients[v].ConsistencyCheck(listA)
		s.must(err)
		sigs[v] = m
	}
	for _, v := range []int{2, 3} {
		m, err := s.clients[v].ConsistencyCheck(listB)
		s.must(err)
		sigs[v] = m
	}
	// Whatever signatures it forwards, neither group reaches t = 4 signers
	// of its own list.
	var forward []SurvivorSignature
	for _, v := range ids(n) {
		forward = append(forward, *sigs[v])
	}
	for v, list := range map[int]*UnmaskRequest{0: listA, 2: listB} {
		req := &UnmaskRequest{Round: list.Round, Survivors: list.Survivors, Signatures: forward}
		if m, err := s.clients[v].Unmask(req); !errors.Is(err, ErrInconsistent) || m != nil {
			t.Errorf("client %d given inconsistent lists: %v, %v; want ErrInconsistent", v, m, err)
		}
	}
	// A client asked to unmask for a list other than the one it signed
	// refuses as well.
	req := &UnmaskRequest{Round: listA.Round, Survivors: listB.Survivors, Signatures: forward}
	if _, err := s.clients[1].Unmask(req); !errors.Is(err, ErrInconsistent) {
		t.Errorf("client 1 asked to unmask for a list it did not sign: %v", err)
	}
}

// A client that sent its masked input and is told it dropped would reveal
// its mask-key share, and the server, holding its masked input, could then
// remove its pairwise masks (and with the b_u shares others reveal for it
// as a survivor in another list, its input). It refuses.
func TestAttackToldDroppedSurvivor(t *testing.T) {
	s := newSession(t, Config{N: 5, Dim: 3}, constInputs(5, 3, 1))
	s.mask(ids(5), s.share(ids(5), s.advertise(ids(5))))
	_, err := s.server.UnmaskRequest()
	s.must(err)
	m, err := s.clients[4].Unmask(&UnmaskRequest{Survivors: []int{0, 1, 2, 3}})
	if !errors.Is(err, ErrInconsistent) || m != nil {
		t.Fatalf("client told it dropped: %v, %v; want ErrInconsistent and nothing revealed", m, err)
	}
	if s.clients[4].held != nil {
		t.Error("the client kept its shares after refusing")
	}
}

// A low-order X25519 key (here the all-zero point) makes every key
// agreement with it fail: one client advertising it used to stall every
// neighbour's ShareKeys. The server rejects it; a client given it anyway
// skips that neighbour.
func TestAttackLowOrderKey(t *testing.T) {
	cfg := Config{N: 4, Dim: 2}
	s := newSession(t, cfg, constInputs(4, 2, 1))
	adv := make([]*AdvertiseKeys, 4)
	for i, c := range s.clients {
		var err error
		adv[i], err = c.AdvertiseKeys()
		s.must(err)
	}
	bad := *adv[3]
	bad.MaskKey = make([]byte, PublicKeySize)
	if err := s.server.Receive(&bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("server given a low-order key: %v; want ErrMalformed", err)
	}
	// A list that carries it anyway: the others skip client 3.
	list := &KeyList{Round: cfg.Round}
	for _, a := range adv[:3] {
		list.Keys = append(list.Keys, *a)
	}
	list.Keys = append(list.Keys, bad)
	m, err := s.clients[0].ShareKeys(list)
	if err != nil {
		t.Fatalf("client given a low-order key of a neighbour: %v", err)
	}
	for _, sh := range m.Shares {
		if sh.To == 3 {
			t.Error("client 0 shared with the neighbour whose key is low-order")
		}
	}
}

// One holder that sends a bad share of a survivor's self-mask seed used to
// corrupt the sum silently; the commitment in AdvertiseKeys catches it.
func TestAttackBadSelfMaskShare(t *testing.T) {
	s := newSession(t, Config{N: 4, Dim: 2}, constInputs(4, 2, 1))
	s.mask(ids(4), s.share(ids(4), s.advertise(ids(4))))
	req, err := s.server.UnmaskRequest()
	s.must(err)
	for _, c := range s.clients {
		m, err := c.Unmask(req)
		s.must(err)
		if c.id == 0 {
			m.SelfMask[1].Y[0] = shamir.Add(m.SelfMask[1].Y[0], 1)
		}
		s.must(s.server.Receive(m))
	}
	if _, err := s.server.Result(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a bad self-mask share: %v; want ErrMalformed", err)
	}
}

// The active option gives the exact sum, with and without dropouts.
func TestRunActiveExact(t *testing.T) {
	for _, tc := range []struct {
		cfg      Config
		dropouts []int
	}{
		{Config{N: 7, Dim: 20, Seed: 2}, []int{0, 1, 0, 1}},
		{Config{N: 16, Dim: 20, Neighbours: 10, GraphSeed: [32]byte{5}, Seed: 3}, []int{0, 0, 1}},
	} {
		pubs, privs := identities(t, tc.cfg.N)
		tc.cfg.Identities = pubs
		inputs := randomInputs(tc.cfg.N, tc.cfg.Dim, 6)
		res, err := RunWithIdentities(tc.cfg, privs, inputs, tc.dropouts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Quantized, wantSum(t, tc.cfg, inputs, res.Contributors)) {
			t.Errorf("%+v: secure sum differs from the plaintext sum", tc.cfg)
		}
	}
}
