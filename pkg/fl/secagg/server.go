package secagg

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ppml-go/ppml/pkg/fl/secagg/shamir"
)

// Server is the server's side of the protocol. In each stage it receives
// the clients' messages (Receive, or the typed Receive* methods) in any
// order, then closes the stage with the method that returns its answer:
//
//	KeyList() after the AdvertiseKeys messages,
//	ShareBundles() after the ShareKeys messages,
//	UnmaskRequest() after the MaskedInput messages,
//	SignedUnmaskRequest() after the SurvivorSignature messages (active option),
//	Result() after the UnmaskShares messages.
//
// Clients that send nothing in a stage have dropped out. A message for
// another stage or round, a replay, or a malformed message is rejected with
// an error and changes nothing. If fewer than the threshold remain, the
// server aborts and discards the masked sum. A Server is not safe for
// concurrent use.
//
// The server aborts, revealing nothing it has not already got, when the
// graph of the survivors is disconnected or some client keeps fewer than t
// share holders among them: the clients would refuse to unmask anyway.
type Server struct {
	cfg   Config
	g     *graph
	stage Stage
	err   error // why the server aborted, if it did

	adv      map[int]*AdvertiseKeys // U1 after KeyList
	inbox    map[int][]EncryptedShare
	shared   map[int]bool // U2
	sum      []uint32
	masked   map[int]bool // U3
	signers  map[int]*SurvivorSignature
	unmasked map[int]*UnmaskShares
	result   []uint32

	// Workers is the number of goroutines Result uses to expand masks
	// (default runtime.GOMAXPROCS(0)).
	Workers int
}

// NewServer returns the server of the aggregation cfg.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:      cfg,
		g:        newGraph(cfg),
		adv:      make(map[int]*AdvertiseKeys),
		inbox:    make(map[int][]EncryptedShare),
		shared:   make(map[int]bool),
		masked:   make(map[int]bool),
		signers:  make(map[int]*SurvivorSignature),
		unmasked: make(map[int]*UnmaskShares),
	}, nil
}

// Stage returns the stage whose client messages the server expects.
func (s *Server) Stage() Stage { return s.stage }

// Config returns the aggregation's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

func (s *Server) check(want Stage, round uint64, from int, what string) error {
	if s.stage != want {
		if s.err != nil {
			return fmt.Errorf("%w: %s from client %d: %w", ErrAborted, what, from, s.err)
		}
		return fmt.Errorf("%w: %s from client %d in stage %q", ErrOutOfStage, what, from, s.stage)
	}
	if round != s.cfg.Round {
		return fmt.Errorf("%w: %s from client %d is of round %d, this is round %d", ErrWrongRound, what, from, round, s.cfg.Round)
	}
	if from < 0 || from >= s.cfg.N {
		return fmt.Errorf("%w: %s from client %d of %d", ErrUnknownClient, what, from, s.cfg.N)
	}
	return nil
}

func (s *Server) abort(err error) error {
	s.err = err
	s.stage = StageDone
	s.sum, s.inbox, s.unmasked = nil, nil, nil
	return fmt.Errorf("%w: %w", ErrAborted, err)
}

// Receive dispatches a client message to the typed Receive* method.
func (s *Server) Receive(m Message) error {
	switch m := m.(type) {
	case *AdvertiseKeys:
		return s.ReceiveAdvertiseKeys(m)
	case *ShareKeys:
		return s.ReceiveShareKeys(m)
	case *MaskedInput:
		return s.ReceiveMaskedInput(m)
	case *UnmaskShares:
		return s.ReceiveUnmaskShares(m)
	case *SurvivorSignature:
		return s.ReceiveSurvivorSignature(m)
	}
	return fmt.Errorf("%w: the server does not receive %T", ErrMalformed, m)
}

// ReceiveAdvertiseKeys records a client's public keys. It rejects keys of
// low order (which would stall every neighbour's key agreement), a
// commitment of the wrong size, and in the active option a signature that
// does not verify under the client's identity key.
func (s *Server) ReceiveAdvertiseKeys(m *AdvertiseKeys) error {
	if err := s.check(StageAdvertiseKeys, m.Round, m.From, "keys"); err != nil {
		return err
	}
	if _, dup := s.adv[m.From]; dup {
		return fmt.Errorf("%w: client %d advertised keys twice", ErrDuplicate, m.From)
	}
	for _, k := range [][]byte{m.EncKey, m.MaskKey} {
		if _, err := parseKey(k); err != nil {
			return fmt.Errorf("%w: public key of client %d: %v", ErrMalformed, m.From, err)
		}
	}
	if bytes.Equal(m.EncKey, m.MaskKey) {
		return fmt.Errorf("%w: client %d advertised the same key twice", ErrMalformed, m.From)
	}
	if len(m.SelfMaskCommit) != CommitSize {
		return fmt.Errorf("%w: self-mask commitment of client %d has %d bytes, want %d", ErrMalformed, m.From, len(m.SelfMaskCommit), CommitSize)
	}
	if s.cfg.active() && !s.cfg.verify(m.From, keysMessage(m), m.Signature) {
		return fmt.Errorf("%w: keys of client %d", ErrBadSignature, m.From)
	}
	s.adv[m.From] = &AdvertiseKeys{Round: m.Round, From: m.From, EncKey: slices.Clone(m.EncKey), MaskKey: slices.Clone(m.MaskKey),
		SelfMaskCommit: slices.Clone(m.SelfMaskCommit), Signature: slices.Clone(m.Signature)}
	return nil
}

// KeyList closes StageAdvertiseKeys and returns the list to send to every
// client in it.
func (s *Server) KeyList() (*KeyList, error) {
	if err := s.closing(StageAdvertiseKeys); err != nil {
		return nil, err
	}
	if len(s.adv) < s.cfg.Threshold {
		return nil, s.abort(fmt.Errorf("%w: %d clients advertised keys, threshold %d", ErrTooFewSurvivors, len(s.adv), s.cfg.Threshold))
	}
	l := &KeyList{Round: s.cfg.Round, Keys: make([]AdvertiseKeys, 0, len(s.adv))}
	for _, id := range slices.Sorted(maps.Keys(s.adv)) {
		l.Keys = append(l.Keys, *s.adv[id])
	}
	s.stage = StageShareKeys
	return l, nil
}

// KeyListFor returns, after KeyList, the part of the key list that client
// id needs: its own keys and its neighbours'. In SecAgg+ that is what the
// server sends each client (k+1 entries instead of N, as Bell et al. do);
// in SecAgg it is the whole list.
func (s *Server) KeyListFor(id int) (*KeyList, error) {
	if s.stage == StageAdvertiseKeys || s.adv[id] == nil {
		return nil, fmt.Errorf("%w: no key list for client %d in stage %q", ErrOutOfStage, id, s.stage)
	}
	l := &KeyList{Round: s.cfg.Round}
	for _, v := range slices.Sorted(maps.Keys(s.adv)) {
		if s.g.holds(v, id) {
			l.Keys = append(l.Keys, *s.adv[v])
		}
	}
	return l, nil
}

func (s *Server) closing(want Stage) error {
	if s.stage != want {
		if s.err != nil {
			return fmt.Errorf("%w: %w", ErrAborted, s.err)
		}
		return fmt.Errorf("%w: cannot close stage %q in stage %q", ErrOutOfStage, want, s.stage)
	}
	return nil
}

// ReceiveShareKeys records a client's encrypted shares for forwarding. It
// must hold exactly one share for each neighbour of the client in U1.
func (s *Server) ReceiveShareKeys(m *ShareKeys) error {
	if err := s.check(StageShareKeys, m.Round, m.From, "shares"); err != nil {
		return err
	}
	if _, ok := s.adv[m.From]; !ok {
		return fmt.Errorf("%w: client %d sent shares without having advertised keys", ErrUnknownClient, m.From)
	}
	if s.shared[m.From] {
		return fmt.Errorf("%w: client %d sent shares twice", ErrDuplicate, m.From)
	}
	want := 0
	for v := range s.adv {
		if s.g.adjacent(m.From, v) {
			want++
		}
	}
	if len(m.Shares) != want {
		return fmt.Errorf("%w: client %d sent %d shares, it has %d neighbours with keys", ErrMalformed, m.From, len(m.Shares), want)
	}
	to := make(map[int]bool, want)
	for _, sh := range m.Shares {
		switch {
		case sh.From != m.From:
			return fmt.Errorf("%w: client %d sent a share from client %d", ErrMalformed, m.From, sh.From)
		case s.adv[sh.To] == nil || !s.g.adjacent(m.From, sh.To):
			return fmt.Errorf("%w: client %d sent a share to client %d, not a neighbour with keys", ErrMalformed, m.From, sh.To)
		case to[sh.To]:
			return fmt.Errorf("%w: client %d sent two shares to client %d", ErrMalformed, m.From, sh.To)
		case len(sh.Ciphertext) != ShareCiphertextSize:
			return fmt.Errorf("%w: share from client %d to %d has %d bytes, want %d", ErrMalformed, m.From, sh.To, len(sh.Ciphertext), ShareCiphertextSize)
		}
		to[sh.To] = true
	}
	for _, sh := range m.Shares {
		s.inbox[sh.To] = append(s.inbox[sh.To], EncryptedShare{From: sh.From, To: sh.To, Ciphertext: slices.Clone(sh.Ciphertext)})
	}
	s.shared[m.From] = true
	return nil
}

// ShareBundles closes StageShareKeys and returns, for each client that sent
// its shares (U2), in increasing id order, the bundle to forward to it.
func (s *Server) ShareBundles() ([]*ShareBundle, error) {
	if err := s.closing(StageShareKeys); err != nil {
		return nil, err
	}
	if len(s.shared) < s.cfg.Threshold {
		return nil, s.abort(fmt.Errorf("%w: %d clients shared keys, threshold %d", ErrTooFewSurvivors, len(s.shared), s.cfg.Threshold))
	}
	var out []*ShareBundle
	for _, v := range slices.Sorted(maps.Keys(s.shared)) {
		b := &ShareBundle{Round: s.cfg.Round, To: v}
		for _, sh := range s.inbox[v] {
			if s.shared[sh.From] {
				b.Shares = append(b.Shares, sh)
			}
		}
		slices.SortFunc(b.Shares, func(a, b EncryptedShare) int { return cmp.Compare(a.From, b.From) })
		out = append(out, b)
	}
	s.inbox = nil
	s.sum = make([]uint32, s.cfg.Dim)
	s.stage = StageMaskedInput
	return out, nil
}

// ReceiveMaskedInput adds a client's masked input to the running sum.
func (s *Server) ReceiveMaskedInput(m *MaskedInput) error {
	if err := s.check(StageMaskedInput, m.Round, m.From, "masked input"); err != nil {
		return err
	}
	if !s.shared[m.From] {
		return fmt.Errorf("%w: client %d sent masked input without having shared keys", ErrUnknownClient, m.From)
	}
	if s.masked[m.From] {
		return fmt.Errorf("%w: client %d sent masked input twice", ErrDuplicate, m.From)
	}
	if len(m.Vector) != s.cfg.Dim {
		return fmt.Errorf("%w: masked input of client %d has length %d, want %d", ErrMalformed, m.From, len(m.Vector), s.cfg.Dim)
	}
	addVectors(s.sum, m.Vector)
	s.masked[m.From] = true
	return nil
}

// UnmaskRequest closes StageMaskedInput and returns the list of clients
// whose masked input arrived, to send to each of them: to be unmasked, or
// in the active option first to be signed. It aborts if the survivors'
// graph is disconnected or some client that shared keys keeps fewer than t
// share holders among the survivors.
func (s *Server) UnmaskRequest() (*UnmaskRequest, error) {
	if err := s.closing(StageMaskedInput); err != nil {
		return nil, err
	}
	if len(s.masked) < s.cfg.Threshold {
		return nil, s.abort(fmt.Errorf("%w: %d clients sent masked input, threshold %d", ErrTooFewSurvivors, len(s.masked), s.cfg.Threshold))
	}
	if err := s.g.checkSurvivors(s.masked, slices.Sorted(maps.Keys(s.shared)), s.cfg.Threshold); err != nil {
		return nil, s.abort(err)
	}
	s.stage = StageUnmask
	if s.cfg.active() {
		s.stage = StageConsistencyCheck
	}
	return &UnmaskRequest{Round: s.cfg.Round, Survivors: slices.Sorted(maps.Keys(s.masked))}, nil
}

// ReceiveSurvivorSignature records a survivor's signature of the survivor
// list (active option).
func (s *Server) ReceiveSurvivorSignature(m *SurvivorSignature) error {
	if err := s.check(StageConsistencyCheck, m.Round, m.From, "survivor signature"); err != nil {
		return err
	}
	if !s.masked[m.From] {
		return fmt.Errorf("%w: client %d signed the survivors but is not one", ErrUnknownClient, m.From)
	}
	if s.signers[m.From] != nil {
		return fmt.Errorf("%w: client %d signed the survivors twice", ErrDuplicate, m.From)
	}
	if !s.cfg.verify(m.From, survivorsMessage(s.cfg.Round, slices.Sorted(maps.Keys(s.masked))), m.Signature) {
		return fmt.Errorf("%w: survivor list signed by client %d", ErrBadSignature, m.From)
	}
	s.signers[m.From] = &SurvivorSignature{Round: m.Round, From: m.From, Signature: slices.Clone(m.Signature)}
	return nil
}

// SignedUnmaskRequest closes StageConsistencyCheck (active option) and
// returns the survivor list with the signatures of it, to send to every
// signer. Only signers are asked to unmask.
func (s *Server) SignedUnmaskRequest() (*UnmaskRequest, error) {
	if err := s.closing(StageConsistencyCheck); err != nil {
		return nil, err
	}
	if len(s.signers) < s.cfg.Threshold {
		return nil, s.abort(fmt.Errorf("%w: %d survivors signed the survivor list, threshold %d", ErrTooFewSurvivors, len(s.signers), s.cfg.Threshold))
	}
	r := &UnmaskRequest{Round: s.cfg.Round, Survivors: slices.Sorted(maps.Keys(s.masked))}
	for _, v := range slices.Sorted(maps.Keys(s.signers)) {
		r.Signatures = append(r.Signatures, *s.signers[v])
	}
	s.stage = StageUnmask
	return r, nil
}

// ReceiveUnmaskShares records a client's seed shares. It must hold the
// self-mask share of each survivor and the mask-key share of each dropped
// client whose shares the sender holds, and nothing else.
func (s *Server) ReceiveUnmaskShares(m *UnmaskShares) error {
	if err := s.check(StageUnmask, m.Round, m.From, "unmask shares"); err != nil {
		return err
	}
	if !s.masked[m.From] || s.cfg.active() && s.signers[m.From] == nil {
		return fmt.Errorf("%w: client %d sent unmask shares but is not a survivor that signed", ErrUnknownClient, m.From)
	}
	if s.unmasked[m.From] != nil {
		return fmt.Errorf("%w: client %d sent unmask shares twice", ErrDuplicate, m.From)
	}
	var wantSelf, wantMask []int
	for _, o := range slices.Sorted(maps.Keys(s.shared)) {
		if !s.g.holds(m.From, o) {
			continue
		}
		if s.masked[o] {
			wantSelf = append(wantSelf, o)
		} else {
			wantMask = append(wantMask, o)
		}
	}
	for _, c := range []struct {
		name   string
		got    []SeedShare
		owners []int
	}{{"self-mask", m.SelfMask, wantSelf}, {"mask-key", m.MaskKeys, wantMask}} {
		if len(c.got) != len(c.owners) {
			return fmt.Errorf("%w: client %d sent %d %s shares, want %d", ErrMalformed, m.From, len(c.got), c.name, len(c.owners))
		}
		for i, sh := range c.got {
			if sh.Owner != c.owners[i] {
				return fmt.Errorf("%w: client %d sent a %s share of client %d, want client %d", ErrMalformed, m.From, c.name, sh.Owner, c.owners[i])
			}
			if len(sh.Y) != seedElems {
				return fmt.Errorf("%w: %s share of client %d from client %d has %d elements, want %d", ErrMalformed, c.name, sh.Owner, m.From, len(sh.Y), seedElems)
			}
			for _, y := range sh.Y {
				if y >= shamir.Prime {
					return fmt.Errorf("%w: %s share of client %d from client %d is not in the field", ErrMalformed, c.name, sh.Owner, m.From)
				}
			}
		}
	}
	s.unmasked[m.From] = m
	return nil
}

// maskJob is one mask to remove from the sum: a self mask (priv == nil) or
// the pairwise mask of a dropped client's reconstructed key priv with a
// survivor's public key.
type maskJob struct {
	key    [KeySize]byte
	priv   *ecdh.PrivateKey
	peer   *ecdh.PublicKey
	u, v   int
	negate bool
}

// Result closes StageUnmask: it reconstructs the survivors' self-mask seeds
// and the dropped clients' mask keys from the shares, removes those masks
// from the sum, and returns the sum mod 2^32 of the survivors' quantized
// inputs (see Contributors). It fails, discarding the sum, if fewer than the
// threshold of some client's share holders answered. Once computed, the
// result is returned again by later calls.
func (s *Server) Result() ([]uint32, error) {
	if s.stage == StageDone && s.err == nil {
		return slices.Clone(s.result), nil
	}
	if err := s.closing(StageUnmask); err != nil {
		return nil, err
	}
	responders := slices.Sorted(maps.Keys(s.unmasked))
	combiners := make(map[string]*shamir.Combiner)
	var jobs []maskJob
	for _, o := range slices.Sorted(maps.Keys(s.shared)) {
		var xs []uint64
		var holders []int
		for _, v := range responders {
			if s.g.holds(v, o) {
				holders = append(holders, v)
				xs = append(xs, uint64(v)+1)
				if len(holders) == s.cfg.Threshold {
					break
				}
			}
		}
		if len(holders) < s.cfg.Threshold {
			return nil, s.abort(fmt.Errorf("%w: %d of client %d's share holders answered, threshold %d", ErrTooFewSurvivors, len(holders), o, s.cfg.Threshold))
		}
		key := pointsKey(holders)
		comb := combiners[key]
		if comb == nil {
			var err error
			if comb, err = shamir.NewCombiner(xs); err != nil {
				return nil, s.abort(err)
			}
			combiners[key] = comb
		}
		shares := make([]shamir.Share, len(holders))
		for i, v := range holders {
			shares[i] = shamir.Share{X: xs[i], Y: s.seedShare(v, o)}
		}
		secret, err := comb.Combine(shares)
		if err != nil {
			return nil, s.abort(err)
		}
		sd := seed(secret)
		if s.masked[o] {
			if !bytes.Equal(selfMaskCommit(&sd, s.cfg.Round, o), s.adv[o].SelfMaskCommit) {
				return nil, s.abort(fmt.Errorf("%w: the self-mask seed rebuilt from the shares of client %d does not match its commitment (a holder sent a bad share)", ErrMalformed, o))
			}
			jobs = append(jobs, maskJob{key: selfMaskKey(&sd, s.cfg.Round, o), negate: true})
			continue
		}
		priv, err := maskPrivateKey(&sd, s.cfg.Round, o)
		if err != nil {
			return nil, s.abort(err)
		}
		if !bytes.Equal(priv.PublicKey().Bytes(), s.adv[o].MaskKey) {
			return nil, s.abort(fmt.Errorf("%w: the mask key rebuilt from the shares of client %d does not match its advertised key", ErrMalformed, o))
		}
		for _, v := range slices.Sorted(maps.Keys(s.masked)) {
			if s.g.adjacent(o, v) {
				peer, _ := ecdh.X25519().NewPublicKey(s.adv[v].MaskKey) // checked on receipt
				// Survivor v added +PRG(s_vo) if v < o, -PRG(s_vo) otherwise.
				jobs = append(jobs, maskJob{priv: priv, peer: peer, u: o, v: v, negate: v < o})
			}
		}
	}
	if err := s.removeMasks(jobs); err != nil {
		return nil, s.abort(err)
	}
	s.result, s.sum, s.unmasked = s.sum, nil, nil
	s.stage = StageDone
	return slices.Clone(s.result), nil
}

// seedShare returns the share of owner o's seed that holder v sent.
func (s *Server) seedShare(v, o int) []uint64 {
	m := s.unmasked[v]
	list := m.MaskKeys
	if s.masked[o] {
		list = m.SelfMask
	}
	i, _ := slices.BinarySearchFunc(list, o, func(sh SeedShare, o int) int { return cmp.Compare(sh.Owner, o) })
	return list[i].Y
}

// removeMasks expands the masks of jobs and removes them from s.sum, on
// Workers goroutines that each take the next job and derive its key (the
// X25519 agreements balance across workers), then expand all their masks
// into their own vector in one pass (Expander.addMasks).
func (s *Server) removeMasks(jobs []maskJob) error {
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(jobs)))
	var next atomic.Int64
	errs := make([]error, workers)
	accs := make([][]uint32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		acc := s.sum
		if w > 0 {
			acc = make([]uint32, len(s.sum))
		}
		accs[w] = acc
		wg.Go(func() {
			var terms []maskTerm
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					break
				}
				j := &jobs[i]
				key := j.key
				if j.priv != nil {
					var err error
					if key, err = pairMaskKey(j.priv, j.peer, s.cfg.Round, j.u, j.v); err != nil {
						errs[w] = err
						return
					}
				}
				terms = append(terms, maskTerm{key: key, negate: j.negate})
			}
			var exp Expander
			exp.addMasks(acc, acc, 0, terms)
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		addVectors(s.sum, accs[w])
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Contributors returns the clients whose inputs are in the result (U3),
// available from the end of StageMaskedInput.
func (s *Server) Contributors() []int { return slices.Sorted(maps.Keys(s.masked)) }

// ResultFloat returns Result dequantized: the sum of the contributors'
// clipped inputs, up to quantization.
func (s *Server) ResultFloat() ([]float64, error) {
	sum, err := s.Result()
	if err != nil {
		return nil, err
	}
	return s.cfg.Quantizer.Dequantize(sum, len(s.masked)), nil
}

func pointsKey(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id))
		b.WriteByte(',')
	}
	return b.String()
}
