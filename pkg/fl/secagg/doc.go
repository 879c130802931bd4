// Package secagg implements secure aggregation: a server learns the sum of
// the clients' vectors and nothing else about any single one.
//
// It holds two protocols.
//
// The teaching protocol of the course notebook (PairOf, NewPairMasks,
// MaskFloat, and the exact variant ToFixed, NewPairMasksFixed, MaskFixed,
// SumFixed): fixed pairs (i, i+n/2) share a mask that the smaller id adds and
// the larger id subtracts. It shows why masks cancel, why float masks drift
// and why a dropout breaks the sum (DropoutResidue). It is not secure.
//
// The protocol of Bonawitz et al., "Practical Secure Aggregation for
// Privacy-Preserving Machine Learning" (CCS 2017), with the SecAgg+ neighbour
// graph of Bell et al. (CCS 2020) as an option: Client, Server and the
// in-process driver Run.
package secagg
