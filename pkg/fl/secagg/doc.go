// Package secagg implements secure aggregation: a server learns the sum of
// the clients' vectors and nothing else about any single one, even when
// clients drop out midway, under the conditions stated in "What the server
// learns" below.
//
// # Two protocols
//
// The teaching protocol of the course notebook (PairOf, NewPairMasks,
// MaskFloat, SumFloat, and the exact variant ToFixed, NewPairMasksFixed,
// MaskFixed, SumFixed, FromFixed): fixed pairs (i, i+n/2) share a mask that
// the smaller id adds and the larger id subtracts. It shows why masks cancel,
// why float masks drift while masks in Z_{2^32} cancel exactly, and why a
// single dropout breaks the sum (DropoutResidue). It is not secure.
//
// The protocol of Bonawitz et al., "Practical Secure Aggregation for
// Privacy-Preserving Machine Learning" (CCS 2017), with the SecAgg+ neighbour
// graph of Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic
// Overhead" (CCS 2020, IACR ePrint 2020/704) as an option (Config.Neighbours),
// and Bonawitz et al.'s protection against an actively malicious server as
// another (Config.Identities): Client and Server are its two state machines,
// the messages (AdvertiseKeys, KeyList, ShareKeys, ShareBundle, MaskedInput,
// UnmaskRequest, SurvivorSignature, UnmaskShares) marshal to bytes for any
// transport (package internal/wire), and Run drives a whole aggregation in
// process.
//
// # The protocol
//
// Inputs are clipped to [-Clip, Clip] and quantized with stochastic rounding
// to integers in [0, Range] (Quantizer; Flower's defaults Clip 8 and Range
// 2^22); all arithmetic is mod 2^32, and N*Range < 2^32 so the sum cannot
// wrap. The server subtracts the N shifts when it dequantizes.
//
//  0. Advertise keys (setup). Each client u draws, fresh for this round, an
//     X25519 key pair c_u for encrypting shares, a self-mask seed b_u and a
//     seed from which its X25519 mask key pair s_u is derived, and sends
//     c_u^PK, s_u^PK and a SHA-256 commitment to b_u (signed with its
//     ed25519 identity key in the active option). The server rejects
//     low-order keys and broadcasts the list (U1).
//  1. Share keys. u splits b_u and the seed of s_u^SK t-of-h with Shamir's
//     scheme (over GF(2^61-1), package shamir) among its h share holders:
//     itself and its neighbours (all other clients in SecAgg, k of them in
//     SecAgg+). Each share goes to its holder through the server, sealed with
//     AES-256-GCM under a key derived by HKDF-SHA256 from the X25519 agreement
//     of c_u and c_v; the associated data binds sender, receiver and round.
//     The clients whose shares arrive form U2.
//  2. Masked input (collect masked vectors). u sends y_u = x_u + PRG(b_u) +
//     sum over neighbours v in U2 of +PRG(s_uv) if u < v, -PRG(s_uv) if
//     u > v, where s_uv is HKDF of the X25519 agreement of s_u and s_v and
//     PRG is AES-256-CTR. The server sums what arrives (U3).
//  3. Consistency check (active option only). The server sends U3; each
//     client in it signs (round, U3) and the server forwards the signatures.
//  4. Unmask. Each survivor checks that it is in U3 (a client told it
//     dropped after sending y_u refuses: its s_u share would expose it), that
//     the graph of U3 is connected and that every client whose shares it
//     holds keeps t holders in U3 (in the active option also: U3 is the
//     list it signed, signed by t of each such client's holders). Then it
//     reveals, for every client o whose shares it holds, the share of b_o if
//     o is in U3 and the share of s_o^SK if o dropped after sharing keys,
//     never both. From t shares per client the server rebuilds the
//     survivors' b_o (checked against their commitments) and the dropped
//     clients' s_o^SK (checked against their public keys), re-expands the
//     masks that did not cancel, and removes them; the result is exactly the
//     sum mod 2^32 of the survivors' quantized inputs.
//
// Every key, seed and mask is fresh per round, and Config.Round is bound into
// every derivation and every authenticated message. Randomness for keys,
// seeds and Shamir coefficients comes from crypto/rand; the primitives are
// those of the standard library (crypto/ecdh, crypto/ed25519, crypto/hkdf,
// crypto/aes, crypto/cipher), and the field arithmetic of package shamir
// does not branch on secret values.
//
// # What the server learns
//
// Passive option (Config.Identities nil): the server and the clients are
// honest but curious, they follow the protocol and try to learn individual
// inputs from what they see. Then the server learns the sum of the inputs
// in U3 and nothing else about any single input, even together with a
// coalition of at most Corrupt*N clients, provided that
//
//   - in SecAgg (complete graph) t > Corrupt*N: the coalition holds fewer
//     than t shares of anyone, and the survivors' graph is complete;
//   - in SecAgg+ the neighbour graph, drawn from a GraphSeed chosen at
//     random independently of the coalition, is one of the graphs for which
//     no honest client has t corrupted neighbours and the honest survivors'
//     graph is connected. For k and t chosen as Bell et al. do (PlusParams,
//     checked by Config), this fails with probability below 2^-40 over the
//     graph (2^-SecurityBits), and a round aborts for too few survivors with
//     probability below 2^-20; the guarantee is probabilistic, as the paper
//     states it. Whatever the graph, the server and the clients also check
//     at runtime that the graph of U3 is connected and that every client
//     keeps t holders in U3, and abort otherwise: if the graph of the
//     survivors falls apart, the masks cancel within each part and the sum
//     of each part would be computable.
//
// Each masked input is uniform in Z_{2^32}^m on its own, pairwise masks
// cancel only in the sum, and the self mask b_u keeps a client's input
// hidden even if the server ends up with its pairwise masks: a client that
// was slow rather than gone had either its b_u or its s_u shares revealed,
// never both. A share is readable only by its holder. The passive option
// does not survive a server that deviates: one that substitutes the other
// clients' public keys in one victim's key list opens all the victim's
// shares and recovers its exact input (TestAttackKeySubstitution
// demonstrates it), and one that shows different survivor lists to different
// clients can collect both shares of one client.
//
// Active option (Config.Identities set, with the clients' ed25519 identity
// keys known to all from registration): the server may deviate arbitrarily
// (the semi-malicious setting of Bell et al.; Bonawitz et al., section 6).
// Every advertised key is signed, so a substituted key is detected and the
// client aborts; the consistency check makes the survivors sign U3, and a
// client reveals shares only for the list it signed and only once t of each
// owner's holders signed that same list, so inconsistent survivor lists are
// detected and the client aborts. With 2t > holders + corrupted holders
// (checked by Config), two lists cannot both gather t signatures from one
// client's holders. The server then learns no more than in the passive
// option; it can still drop honest clients' messages (so the sum may cover
// fewer clients, but at least t of each survivor's holders) and, in
// SecAgg+, the guarantee stays probabilistic over the graph.
//
// In both options: clients learn nothing about each other's inputs; the
// stochastic rounding of the quantization is seeded by Config.Seed, which
// need not be secret (the masks, not the rounding, hide the inputs). Not
// covered: Sybil clients (the identities must come from a registration the
// server does not control), traffic analysis, and the information in the sum
// itself (e.g. when only a few clients contribute, or a client's input
// dominates it): combine with differential privacy for that.
//
// # SecAgg+ parameters
//
// PlusParams(n, Threat) returns the smallest even neighbour count k and the
// smallest threshold t for n clients of which a fraction γ may be corrupted
// and a fraction δ may drop out, with failure probability below 2^-40
// (privacy) and 2^-20 (correctness) over the random graph, by the bounds of
// Bell et al. 2020 for the Harary graph on a random ring (a union bound on
// the pairs of gaps that disconnect it, hypergeometric tails for corrupted
// and surviving neighbours), as the paper's authors implement them in
// Google's federated-compute (fcp/secagg/server/graph_parameter_finder);
// see params.go. TestPlusParamsTable checks the search against that
// implementation's table and TestDocParamsTable this one, computed by
// PlusParams (t counts share holders, the client itself included):
//
//	n        δ     γ     server   k    t
//	100      0.10  0.05  passive  16   6
//	500      0.10  0.05  passive  32   17
//	1000     0.10  0.05  passive  36   19
//	10000    0.10  0.05  passive  42   22
//	100000   0.10  0.05  passive  46   23
//	1000     0.05  0.33  passive  78   60
//	100000   0.05  0.33  passive  102  77
//	1000     0.33  0.05  passive  72   24
//	100000   0.33  0.05  passive  96   32
//	100      0.10  0.05  active   28   18
//	1000     0.10  0.05  active   78   52
//	100000   0.10  0.05  active   108  72
//
// k grows as O(log n): a client's cost is then polylogarithmic in n where
// the complete graph's is linear. For small n (a few dozen clients) the
// bounds leave no k below n-1 for many threats, and the complete graph is
// the answer.
package secagg
