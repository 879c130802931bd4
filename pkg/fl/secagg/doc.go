// Package secagg implements secure aggregation: a server learns the sum of
// the clients' vectors and nothing else about any single one, even when
// clients drop out midway.
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
// Overhead" (CCS 2020) as an option (Config.Neighbours): Client and Server
// are its two state machines, the messages (AdvertiseKeys, KeyList,
// ShareKeys, ShareBundle, MaskedInput, UnmaskRequest, UnmaskShares) marshal
// to bytes for any transport, and Run drives a whole aggregation in process.
//
// # The protocol
//
// Inputs are clipped to [-Clip, Clip] and quantized with stochastic rounding
// to integers in [0, Range] (Quantizer; Flower's defaults Clip 8 and Range
// 2^22); all arithmetic is mod 2^32, and N*Range < 2^32 so the sum cannot
// wrap. The server subtracts the N shifts when it dequantizes.
//
//  0. Advertise keys. Each client u draws, fresh for this round, an X25519
//     key pair c_u for encrypting shares, a self-mask seed b_u and a seed
//     from which its X25519 mask key pair s_u is derived, and sends c_u^PK
//     and s_u^PK. The server broadcasts the list (U1).
//  1. Share keys. u splits b_u and the seed of s_u^SK t-of-h with Shamir's
//     scheme (over GF(2^61-1), package shamir) among its h share holders:
//     itself and its neighbours (all other clients in SecAgg, k of them in
//     SecAgg+). Each share goes to its holder through the server, sealed with
//     AES-256-GCM under a key derived by HKDF-SHA256 from the X25519 agreement
//     of c_u and c_v; the associated data binds sender, receiver and round.
//     The clients whose shares arrive form U2.
//  2. Masked input. u sends y_u = x_u + PRG(b_u) + sum over neighbours v in
//     U2 of +PRG(s_uv) if u < v, -PRG(s_uv) if u > v, where s_uv is HKDF of
//     the X25519 agreement of s_u and s_v and PRG is AES-256-CTR. The server
//     sums what arrives (U3).
//  3. Unmask. Each survivor reveals, for every client o whose shares it
//     holds, the share of b_o if o is in U3 and the share of s_o^SK if o
//     dropped after sharing keys, never both. From t shares per client the
//     server rebuilds the survivors' b_o and the dropped clients' s_o^SK,
//     re-expands the masks that did not cancel, and removes them; the result
//     is exactly the sum mod 2^32 of the survivors' quantized inputs.
//
// Every key, seed and mask is fresh per round, and Config.Round is bound into
// every derivation and every authenticated message. Randomness for keys,
// seeds and Shamir coefficients comes from crypto/rand; the primitives are
// those of the standard library (crypto/ecdh, crypto/hkdf, crypto/aes,
// crypto/cipher).
//
// # Threat model
//
// The server and the clients are honest but curious: they follow the
// protocol and try to learn individual inputs from what they see. The server
// learns only the sum of the inputs in U3, which has at least t members,
// even together with a coalition of clients that holds fewer than t shares
// of any honest client (in SecAgg: fewer than t clients); the coalition then
// learns the sum of the honest inputs and nothing else. Each masked input is
// uniform in Z_{2^32}^m on its own, pairwise masks cancel only in the sum,
// and the self mask b_u keeps a client's input hidden even if the server
// ends up with its pairwise masks: a client that was slow rather than gone
// had either its b_u or its s_u shares revealed, never both. Clients learn
// nothing about each other's inputs; a share is readable only by its holder.
// The stochastic rounding of the quantization is seeded by Config.Seed, which
// need not be secret: the masks, not the rounding, hide the inputs.
//
// Not covered: an actively malicious server, which could send different
// survivor lists to different clients (Bonawitz et al. add a consistency
// round with signatures and a PKI for that; the threshold t > h/2 that this
// package enforces is a necessary part of it), and Sybil clients, which
// need authenticated client identities. Traffic analysis and the
// information in the sum itself (e.g. when only a few clients contribute)
// are out of scope; combine with differential privacy for the latter.
package secagg
