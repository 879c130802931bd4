package secagg

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/ppml-go/ppml/pkg/fl/secagg/shamir"
)

// Client is one client's side of the protocol, a state machine driven by
// the server's messages:
//
//	adv, _ := c.AdvertiseKeys()            // -> server
//	shares, _ := c.ShareKeys(keyList)      // keyList <- server
//	masked, _ := c.MaskedInput(bundle)     // bundle <- server
//	unmask, _ := c.Unmask(unmaskRequest)   // unmaskRequest <- server
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

	encPriv, maskPriv  *ecdh.PrivateKey
	selfSeed, maskSeed seed

	u1    []int             // clients that advertised keys, sorted
	peers map[int]peerKeys  // public keys of the neighbours in U1
	held  map[int]heldShare // shares this client holds, by owner (itself included)
	exp   Expander
}

type peerKeys struct {
	mask *ecdh.PublicKey
	aead cipher.AEAD // seals and opens the shares exchanged with this peer
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
	if len(input) != cfg.Dim {
		return nil, fmt.Errorf("secagg: input of client %d has length %d, want Dim=%d", id, len(input), cfg.Dim)
	}
	for j, x := range input {
		if x > cfg.Quantizer.Range {
			return nil, fmt.Errorf("secagg: quantized input of client %d has %d > Range=%d at entry %d", id, x, cfg.Quantizer.Range, j)
		}
	}
	return &Client{cfg: cfg, g: newGraph(cfg), id: id, input: slices.Clone(input)}, nil
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
	c.encPriv, c.maskPriv, c.held = nil, nil, nil
	return err
}

// AdvertiseKeys draws the client's fresh keys and seeds for this round and
// returns its first message.
func (c *Client) AdvertiseKeys() (*AdvertiseKeys, error) {
	if err := c.check(StageAdvertiseKeys, c.cfg.Round, "a request to advertise keys"); err != nil {
		return nil, err
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
	return &AdvertiseKeys{
		Round:   c.cfg.Round,
		From:    c.id,
		EncKey:  c.encPriv.PublicKey().Bytes(),
		MaskKey: c.maskPriv.PublicKey().Bytes(),
	}, nil
}

// ShareKeys takes the server's key list and returns the client's encrypted
// shares of its two seeds for each of its share holders in the list.
func (c *Client) ShareKeys(l *KeyList) (*ShareKeys, error) {
	if err := c.check(StageShareKeys, l.Round, "a key list"); err != nil {
		return nil, err
	}
	peers := make(map[int]peerKeys)
	seen := make(map[string]int)
	var u1 []int
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
		u1 = append(u1, k.From)
		if k.From == c.id {
			if !bytes.Equal(k.EncKey, c.encPriv.PublicKey().Bytes()) || !bytes.Equal(k.MaskKey, c.maskPriv.PublicKey().Bytes()) {
				return nil, fmt.Errorf("%w: key list carries other keys for client %d", ErrMalformed, c.id)
			}
			self = true
			continue
		}
		if !c.g.adjacent(c.id, k.From) {
			continue
		}
		enc, err := ecdh.X25519().NewPublicKey(k.EncKey)
		if err != nil {
			return nil, fmt.Errorf("%w: encryption key of client %d: %v", ErrMalformed, k.From, err)
		}
		mask, err := ecdh.X25519().NewPublicKey(k.MaskKey)
		if err != nil {
			return nil, fmt.Errorf("%w: mask key of client %d: %v", ErrMalformed, k.From, err)
		}
		aead, err := shareAEAD(c.encPriv, enc, c.cfg.Round, c.id, k.From)
		if err != nil {
			return nil, err
		}
		peers[k.From] = peerKeys{mask: mask, aead: aead}
	}
	if !self {
		return nil, fmt.Errorf("%w: key list does not include client %d", ErrMalformed, c.id)
	}
	holders := make([]int, 0, len(peers)+1)
	for v := range peers {
		holders = append(holders, v)
	}
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
	c.u1, c.peers = u1, peers
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
	partners := make([]int, 0, len(got))
	for v, h := range got {
		c.held[v] = h
		partners = append(partners, v)
	}
	slices.Sort(partners)
	terms := make([]maskTerm, 1, 1+len(partners))
	terms[0].key = selfMaskKey(&c.selfSeed, c.cfg.Round, c.id)
	for _, v := range partners {
		key, err := pairMaskKey(c.maskPriv, c.peers[v].mask, c.cfg.Round, c.id, v)
		if err != nil {
			return nil, err
		}
		terms = append(terms, maskTerm{key: key, negate: c.id > v})
	}
	y := make([]uint32, len(c.input))
	c.exp.addMasks(y, c.input, 0, terms)
	clear(terms) // forget the mask keys
	c.stage = StageUnmask
	return &MaskedInput{Round: c.cfg.Round, From: c.id, Vector: y}, nil
}

// Unmask takes the list of clients whose masked input the server received
// (U3) and returns, for every client whose shares this client holds, its
// self-mask share if that client is in U3 and its mask-key share otherwise.
// It reveals nothing, and aborts, if fewer than the threshold of some such
// client's share holders are in U3.
func (c *Client) Unmask(r *UnmaskRequest) (*UnmaskShares, error) {
	if err := c.check(StageUnmask, r.Round, "an unmask request"); err != nil {
		return nil, err
	}
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
	out := &UnmaskShares{Round: c.cfg.Round, From: c.id}
	owners := make([]int, 0, len(c.held))
	for o := range c.held {
		owners = append(owners, o)
	}
	slices.Sort(owners)
	for _, o := range owners {
		alive := len(r.Survivors) // complete graph: every survivor holds o's shares
		if c.g.k > 0 {
			alive = 0
			if survived[o] {
				alive++
			}
			for _, v := range c.g.neighbours(o) {
				if survived[v] {
					alive++
				}
			}
		}
		if alive < c.cfg.Threshold {
			return nil, c.abort(fmt.Errorf("%w: %d of client %d's share holders survived, threshold %d", ErrTooFewSurvivors, alive, o, c.cfg.Threshold))
		}
		if survived[o] {
			out.SelfMask = append(out.SelfMask, SeedShare{Owner: o, Y: c.held[o].self})
		} else {
			out.MaskKeys = append(out.MaskKeys, SeedShare{Owner: o, Y: c.held[o].mask})
		}
	}
	c.abort(nil) // done: forget the secrets
	return out, nil
}
