package secagg

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"

	"github.com/ppml-go/ppml/pkg/fl/secagg/shamir"
)

// Client is one client's side of the protocol, a state machine driven by
// the server's messages:
//
//	adv, _ := c.AdvertiseKeys()            // -> server
//	shares, _ := c.ShareKeys(keyList)      // keyList <- server
//	masked, _ := c.MaskedInput(bundle)     // bundle <- server
//	sig, _ := c.ConsistencyCheck(request)  // active option only: request <- server
//	unmask, _ := c.Unmask(unmaskRequest)   // unmaskRequest <- server (signed in the active option)
//
// A message for another stage or round, or a malformed one, returns an error
// and leaves the client as it was, so it can still take the right message.
// A Client is not safe for concurrent use.
type Client struct {
	cfg   Config
	g     *graph
	id    int
	input []uint32
	stage Stage
	err   error // why the client aborted, if it did

	identity           ed25519.PrivateKey // active option
	encPriv, maskPriv  *ecdh.PrivateKey
	selfSeed, maskSeed seed
	signed             []int // the survivor list this client signed (active option)

	peers map[int]peerKeys  // keys shared with the neighbours in U1
	held  map[int]heldShare // shares this client holds, by owner (itself included)
	exp   Expander
}

type peerKeys struct {
	mask [KeySize]byte // seed of the pairwise mask with this peer
	aead cipher.AEAD   // seals and opens the shares exchanged with this peer
}

type heldShare struct{ self, mask []uint64 }

// NewClient returns client id (0 <= id < cfg.N) of the aggregation cfg with
// its input, which it quantizes with cfg.Quantize.
func NewClient(cfg Config, id int, input []float64) (*Client, error) {
	q, err := cfg.Quantize(id, input)
	if err != nil {
		return nil, err
	}
	return NewClientQuantized(cfg, id, q)
}

// NewClientQuantized is NewClient for an input already quantized: entries
// must be in [0, cfg.Quantizer.Range] so that the sum cannot wrap around.
func NewClientQuantized(cfg Config, id int, input []uint32) (*Client, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if id < 0 || id >= cfg.N {
		return nil, fmt.Errorf("secagg: client id %d out of range [0, %d)", id, cfg.N)
	}
	if err := checkInput(cfg, id, input); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, g: newGraph(cfg), id: id, input: slices.Clone(input)}, nil
}

// SetIdentity gives the client its long-term ed25519 identity key, whose
// public half is cfg.Identities[id]; the active option needs it before
// AdvertiseKeys.
func (c *Client) SetIdentity(key ed25519.PrivateKey) error {
	if !c.cfg.active() {
		return fmt.Errorf("secagg: client %d got an identity key, but the configuration has no Identities (passive option)", c.id)
	}
	if len(key) != ed25519.PrivateKeySize || !bytes.Equal(key.Public().(ed25519.PublicKey), c.cfg.Identities[c.id]) {
		return fmt.Errorf("secagg: identity key of client %d does not match Identities[%d]", c.id, c.id)
	}
	c.identity = key
	return nil
}

// SetInput replaces the client's quantized input (entries in [0,
// cfg.Quantizer.Range]) before it sends its masked input, for callers whose
// input exists only after the key stages (e.g. a model update trained
// meanwhile).
func (c *Client) SetInput(input []uint32) error {
	if c.stage > StageMaskedInput {
		return fmt.Errorf("%w: client %d already sent its masked input", ErrOutOfStage, c.id)
	}
	if err := checkInput(c.cfg, c.id, input); err != nil {
		return err
	}
	c.input = slices.Clone(input)
	return nil
}

func checkInput(cfg Config, id int, input []uint32) error {
	if len(input) != cfg.Dim {
		return fmt.Errorf("secagg: input of client %d has length %d, want Dim=%d", id, len(input), cfg.Dim)
	}
	for j, x := range input {
		if x > cfg.Quantizer.Range {
			return fmt.Errorf("secagg: quantized input of client %d has %d > Range=%d at entry %d", id, x, cfg.Quantizer.Range, j)
		}
	}
	return nil
}

// ID returns the client's id.
func (c *Client) ID() int { return c.id }

// Stage returns the stage whose message the client sends next.
func (c *Client) Stage() Stage { return c.stage }

// Quantized returns the client's quantized input.
func (c *Client) Quantized() []uint32 { return slices.Clone(c.input) }

func (c *Client) check(want Stage, round uint64, what string) error {
	if c.stage != want {
		if c.err != nil {
			return fmt.Errorf("%w: client %d got %s: %w", ErrAborted, c.id, what, c.err)
		}
		return fmt.Errorf("%w: client %d got %s in stage %q, expects it in %q", ErrOutOfStage, c.id, what, c.stage, want)
	}
	if round != c.cfg.Round {
		return fmt.Errorf("%w: client %d of round %d got %s of round %d", ErrWrongRound, c.id, c.cfg.Round, what, round)
	}
	return nil
}

func (c *Client) abort(err error) error {
	c.err = err
	c.stage = StageDone
	c.selfSeed, c.maskSeed = seed{}, seed{}
	c.encPriv, c.maskPriv, c.held, c.peers = nil, nil, nil, nil
	return err
}

// refuse aborts the client with an error that a caller sees as an abort.
func (c *Client) refuse(err error) error {
	return fmt.Errorf("%w: %w", ErrAborted, c.abort(err))
}

// AdvertiseKeys draws the client's fresh keys and seeds for this round and
// returns its first message.
func (c *Client) AdvertiseKeys() (*AdvertiseKeys, error) {
	if err := c.check(StageAdvertiseKeys, c.cfg.Round, "a request to advertise keys"); err != nil {
		return nil, err
	}
	if c.cfg.active() && c.identity == nil {
		return nil, fmt.Errorf("secagg: client %d needs its identity key (SetIdentity) in the active option", c.id)
	}
	var err error
	if c.encPriv, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if c.selfSeed, err = newSeed(); err != nil {
		return nil, err
	}
	if c.maskSeed, err = newSeed(); err != nil {
		return nil, err
	}
	if c.maskPriv, err = maskPrivateKey(&c.maskSeed, c.cfg.Round, c.id); err != nil {
		return nil, err
	}
	c.stage = StageShareKeys
	m := &AdvertiseKeys{
		Round:          c.cfg.Round,
		From:           c.id,
		EncKey:         c.encPriv.PublicKey().Bytes(),
		MaskKey:        c.maskPriv.PublicKey().Bytes(),
		SelfMaskCommit: selfMaskCommit(&c.selfSeed, c.cfg.Round, c.id),
	}
	if c.identity != nil {
		m.Signature = ed25519.Sign(c.identity, keysMessage(m))
	}
	return m, nil
}

// ShareKeys takes the server's key list (the whole list, or only the
// client's neighbours' keys and its own: Server.KeyListFor) and returns the
// client's encrypted shares of its two seeds for each of its share holders
// in the list.
func (c *Client) ShareKeys(l *KeyList) (*ShareKeys, error) {
	if err := c.check(StageShareKeys, l.Round, "a key list"); err != nil {
		return nil, err
	}
	peers := make(map[int]peerKeys)
	seen := make(map[string]int)
	self := false
	for i, k := range l.Keys {
		if k.From < 0 || k.From >= c.cfg.N {
			return nil, fmt.Errorf("%w: key list names client %d of %d", ErrMalformed, k.From, c.cfg.N)
		}
		if i > 0 && k.From <= l.Keys[i-1].From {
			return nil, fmt.Errorf("%w: key list is not sorted by distinct ids at client %d", ErrMalformed, k.From)
		}
		for _, key := range [][]byte{k.EncKey, k.MaskKey} {
			if prev, dup := seen[string(key)]; dup {
				return nil, fmt.Errorf("%w: clients %d and %d advertise the same public key", ErrMalformed, prev, k.From)
			}
			seen[string(key)] = k.From
		}
		if k.From != c.id && !c.g.adjacent(c.id, k.From) {
			continue
		}
		// In the active option every key this client uses must carry its
		// owner's signature: a server that substitutes keys is caught
		// here. In the passive option nothing can catch it (see the
		// package doc).
		if c.cfg.active() && !c.cfg.verify(k.From, keysMessage(&k), k.Signature) {
			return nil, c.refuse(fmt.Errorf("%w: the keys of client %d in the key list are not signed by its identity key", ErrBadSignature, k.From))
		}
		if k.From == c.id {
			if !bytes.Equal(k.EncKey, c.encPriv.PublicKey().Bytes()) || !bytes.Equal(k.MaskKey, c.maskPriv.PublicKey().Bytes()) || !bytes.Equal(k.SelfMaskCommit, selfMaskCommit(&c.selfSeed, c.cfg.Round, c.id)) {
				return nil, fmt.Errorf("%w: key list carries other keys for client %d", ErrMalformed, c.id)
			}
			self = true
			continue
		}
		// A malformed or low-order key (which the server should have
		// rejected) makes that neighbour unusable: crypto/ecdh refuses the
		// all-zero agreement. Skip it rather than stall. Both agreements
		// are needed anyway, so the check costs nothing.
		enc, err := ecdh.X25519().NewPublicKey(k.EncKey)
		if err != nil {
			continue
		}
		mask, err := ecdh.X25519().NewPublicKey(k.MaskKey)
		if err != nil {
			continue
		}
		aead, err := shareAEAD(c.encPriv, enc, c.cfg.Round, c.id, k.From)
		if err != nil {
			continue
		}
		maskKey, err := pairMaskKey(c.maskPriv, mask, c.cfg.Round, c.id, k.From)
		if err != nil {
			continue
		}
		peers[k.From] = peerKeys{mask: maskKey, aead: aead}
	}
	if !self {
		return nil, fmt.Errorf("%w: key list does not include client %d", ErrMalformed, c.id)
	}
	holders := slices.Sorted(maps.Keys(peers))
	holders = append(holders, c.id)
	slices.Sort(holders)
	if len(holders) < c.cfg.Threshold {
		return nil, c.abort(fmt.Errorf("%w: client %d has %d share holders left, threshold %d", ErrTooFewSurvivors, c.id, len(holders), c.cfg.Threshold))
	}
	xs := make([]uint64, len(holders))
	for i, v := range holders {
		xs[i] = uint64(v) + 1
	}
	selfShares, err := shamir.Split(c.selfSeed[:], c.cfg.Threshold, xs, rand.Reader)
	if err != nil {
		return nil, err
	}
	maskShares, err := shamir.Split(c.maskSeed[:], c.cfg.Threshold, xs, rand.Reader)
	if err != nil {
		return nil, err
	}
	out := &ShareKeys{Round: c.cfg.Round, From: c.id, Shares: make([]EncryptedShare, 0, len(holders)-1)}
	c.held = make(map[int]heldShare, len(holders))
	for i, v := range holders {
		if v == c.id {
			c.held[v] = heldShare{self: selfShares[i].Y, mask: maskShares[i].Y}
			continue
		}
		ct, err := sealShare(peers[v].aead, c.cfg.Round, c.id, v, selfShares[i].Y, maskShares[i].Y)
		if err != nil {
			return nil, err
		}
		out.Shares = append(out.Shares, EncryptedShare{From: c.id, To: v, Ciphertext: ct})
	}
	c.peers = peers
	c.stage = StageMaskedInput
	return out, nil
}

// MaskedInput takes the shares the server forwards to this client and
// returns its masked input: the quantized input plus the self mask b_u plus,
// for each neighbour v that shared keys, +PRG(s_uv) if u < v and -PRG(s_uv)
// if u > v, all mod 2^32.
func (c *Client) MaskedInput(b *ShareBundle) (*MaskedInput, error) {
	if err := c.check(StageMaskedInput, b.Round, "a share bundle"); err != nil {
		return nil, err
	}
	if b.To != c.id {
		return nil, fmt.Errorf("%w: client %d got the share bundle of client %d", ErrMalformed, c.id, b.To)
	}
	got := make(map[int]heldShare, len(b.Shares))
	for _, s := range b.Shares {
		p, ok := c.peers[s.From]
		if !ok {
			return nil, fmt.Errorf("%w: client %d got a share from client %d, not a neighbour that advertised keys", ErrMalformed, c.id, s.From)
		}
		if s.To != c.id {
			return nil, fmt.Errorf("%w: client %d got a share addressed to client %d", ErrMalformed, c.id, s.To)
		}
		if _, dup := got[s.From]; dup {
			return nil, fmt.Errorf("%w: client %d got two shares from client %d", ErrDuplicate, c.id, s.From)
		}
		self, mask, err := openShare(p.aead, c.cfg.Round, s.From, c.id, s.Ciphertext)
		if err != nil {
			return nil, err
		}
		got[s.From] = heldShare{self: self, mask: mask}
	}
	if len(got)+1 < c.cfg.Threshold {
		return nil, c.abort(fmt.Errorf("%w: client %d got shares from %d neighbours, threshold %d counting itself", ErrTooFewSurvivors, c.id, len(got), c.cfg.Threshold))
	}
	maps.Copy(c.held, got)
	partners := slices.Sorted(maps.Keys(got))
	terms := make([]maskTerm, 1, 1+len(partners))
	terms[0].key = selfMaskKey(&c.selfSeed, c.cfg.Round, c.id)
	for _, v := range partners {
		terms = append(terms, maskTerm{key: c.peers[v].mask, negate: c.id > v})
	}
	y := make([]uint32, len(c.input))
	c.exp.addMasks(y, c.input, 0, terms)
	clear(terms) // forget the mask keys
	c.peers = nil
	c.stage = StageUnmask
	if c.cfg.active() {
		c.stage = StageConsistencyCheck
	}
	return &MaskedInput{Round: c.cfg.Round, From: c.id, Vector: y}, nil
}

// survivors checks a survivor list the server sent this client after it
// sent its masked input: sorted distinct ids, itself among them (a client
// told it dropped after sending its masked input would reveal its mask key,
// and with it its input), every neighbour that shared keys with it, a
// connected graph and at least t surviving holders for every client whose
// shares it holds.
func (c *Client) survivors(r *UnmaskRequest) (map[int]bool, error) {
	survived := make(map[int]bool, len(r.Survivors))
	for i, v := range r.Survivors {
		if v < 0 || v >= c.cfg.N || (i > 0 && v <= r.Survivors[i-1]) {
			return nil, fmt.Errorf("%w: survivor list is not sorted distinct ids of [0, %d) at %d", ErrMalformed, c.cfg.N, v)
		}
		if v != c.id && c.g.adjacent(c.id, v) {
			if _, ok := c.held[v]; !ok {
				return nil, fmt.Errorf("%w: survivor %d never shared keys with client %d", ErrMalformed, v, c.id)
			}
		}
		survived[v] = true
	}
	if !survived[c.id] {
		return nil, c.refuse(fmt.Errorf("%w: client %d sent its masked input but is told it dropped; it reveals nothing", ErrInconsistent, c.id))
	}
	if err := c.g.checkSurvivors(survived, slices.Sorted(maps.Keys(c.held)), c.cfg.Threshold); err != nil {
		return nil, c.refuse(err)
	}
	return survived, nil
}

// ConsistencyCheck is the client's step of the consistency check in the
// active option (Bonawitz et al. 2017, section 6): it checks the survivor
// list as Unmask does and signs it. It will reveal shares only for this
// list, and only once t of each owner's share holders have signed it too.
func (c *Client) ConsistencyCheck(r *UnmaskRequest) (*SurvivorSignature, error) {
	if err := c.check(StageConsistencyCheck, r.Round, "a survivor list to sign"); err != nil {
		return nil, err
	}
	if _, err := c.survivors(r); err != nil {
		return nil, err
	}
	c.signed = slices.Clone(r.Survivors)
	c.stage = StageUnmask
	return &SurvivorSignature{Round: c.cfg.Round, From: c.id, Signature: ed25519.Sign(c.identity, survivorsMessage(c.cfg.Round, c.signed))}, nil
}

// Unmask takes the list of clients whose masked input the server received
// (U3) and returns, for every client whose shares this client holds, its
// self-mask share if that client is in U3 and its mask-key share otherwise.
// It reveals nothing, and aborts, if the list omits this client, if the
// survivors' graph is disconnected, or if fewer than the threshold of some
// such client's share holders are in U3. In the active option the list
// must be the one it signed, with valid signatures of it from at least t of
// each owner's share holders; otherwise the server has shown different
// lists to different clients, and the client aborts.
func (c *Client) Unmask(r *UnmaskRequest) (*UnmaskShares, error) {
	if err := c.check(StageUnmask, r.Round, "an unmask request"); err != nil {
		return nil, err
	}
	survived, err := c.survivors(r)
	if err != nil {
		return nil, err
	}
	owners := slices.Sorted(maps.Keys(c.held))
	if c.cfg.active() {
		if !slices.Equal(r.Survivors, c.signed) {
			return nil, c.refuse(fmt.Errorf("%w: client %d signed survivors %v and is asked to unmask for %v", ErrInconsistent, c.id, c.signed, r.Survivors))
		}
		valid := make(map[int]bool, len(r.Signatures))
		msg := survivorsMessage(c.cfg.Round, c.signed)
		for _, s := range r.Signatures {
			if s.From >= 0 && s.From < c.cfg.N && survived[s.From] && !valid[s.From] && c.cfg.verify(s.From, msg, s.Signature) {
				valid[s.From] = true
			}
		}
		for _, o := range owners {
			n := 0
			for v := range valid {
				if c.g.holds(v, o) {
					n++
				}
			}
			if n < c.cfg.Threshold {
				return nil, c.refuse(fmt.Errorf("%w: only %d of client %d's share holders signed the survivor list client %d signed, threshold %d", ErrInconsistent, n, o, c.id, c.cfg.Threshold))
			}
		}
	}
	out := &UnmaskShares{Round: c.cfg.Round, From: c.id}
	for _, o := range owners {
		if survived[o] {
			out.SelfMask = append(out.SelfMask, SeedShare{Owner: o, Y: c.held[o].self})
		} else {
			out.MaskKeys = append(out.MaskKeys, SeedShare{Owner: o, Y: c.held[o].mask})
		}
	}
	c.abort(nil) // done: forget the secrets
	return out, nil
}
