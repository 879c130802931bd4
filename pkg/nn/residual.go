package nn

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// A segment's backward pass without recomputing its forward pass.
//
// graph.Gradient differentiates a graph it is built in: a backward
// executable that calls the model function again recomputes the whole
// forward pass. Instead, the forward executable of a segment builds the
// forward pass and, after it, the gradient of sum(y * stop_gradient(dy))
// for a stand-in dy. The gradient part is not among the outputs, so the
// backend never runs it; the forward values it reads (the residuals: layer
// outputs, activation masks...) are outputs. The backward executable then
// clones the gradient part, node by node (graph.Node.CloneWithInputs),
// onto its own parameters: the input, the real dy, the variables and the
// residuals. This is what jax.vjp does with its residuals; GoMLX has no such
// call (see NOTES for upstream), so it is done here, for any model built of
// GoMLX operations. A model whose gradient cannot be cloned falls back to
// recomputation.

// vjpPlan is the gradient part of a forward executable's graph, for one
// input shape.
type vjpPlan struct {
	x, dy     *G.Node         // the input and the stand-in dy, in the forward graph
	vars      map[*G.Node]int // variable parameter nodes -> index in Model.vars
	residuals []*G.Node       // the forward values the gradient reads, output by the forward executable
	nodes     []*G.Node       // the gradient part to clone, in creation order
	grads     []*G.Node       // the parameter gradients, then the input gradient if needDx
	needDx    bool
}

// planKey identifies the plan of an input shape, with or without the input
// gradient.
type planKey struct {
	shape  string
	needDx bool
}

func keyOf(s shapes.Shape, needDx bool) planKey { return planKey{s.String(), needDx} }

// buildPlan builds, after the forward pass y of x, the gradient of
// sum(y * stop_gradient(dy)) and records what the backward executable
// needs. params are the variables' nodes in x's graph.
func (m *Model) buildPlan(x, y *G.Node, params []*G.Node, needDx bool) *vjpPlan {
	g := x.Graph()
	dy := G.StopGradient(G.ZerosLike(y))
	boundary := g.LastNode().Id() + 1
	wrt := params
	if needDx {
		wrt = append(wrt[:len(wrt):len(wrt)], x)
	}
	p := &vjpPlan{x: x, dy: dy, vars: map[*G.Node]int{}, needDx: needDx}
	p.grads = G.Gradient(vjpTarget(y, dy), wrt...)
	for i, n := range params {
		p.vars[n] = i
	}
	// Walk back from the gradients through the gradient part; forward nodes
	// it reads are leaves: the input, dy, a variable, or a residual.
	// Nodes without inputs (constants) are residuals too: a clone of them
	// would stay in this graph.
	seen := map[*G.Node]bool{}
	var walk func(n *G.Node)
	walk = func(n *G.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if n.Id() >= boundary && len(n.Inputs()) > 0 {
			for _, in := range n.Inputs() {
				walk(in)
			}
			p.nodes = append(p.nodes, n)
			return
		}
		if _, isVar := p.vars[n]; n != x && n != dy && !isVar {
			p.residuals = append(p.residuals, n)
		}
	}
	for _, gr := range p.grads {
		walk(gr)
	}
	slices.SortFunc(p.nodes, func(a, b *G.Node) int { return int(a.Id()) - int(b.Id()) })
	return p
}

// clone builds the plan's gradients in another graph, from that graph's
// input x, gradient dy, variable nodes and residual parameters.
func (p *vjpPlan) clone(x, dy *G.Node, params, residuals []*G.Node) []*G.Node {
	mapped := map[*G.Node]*G.Node{p.x: x, p.dy: dy}
	for n, i := range p.vars {
		mapped[n] = params[i]
	}
	for i, r := range p.residuals {
		mapped[r] = residuals[i]
	}
	for _, n := range p.nodes {
		ins := make([]*G.Node, len(n.Inputs()))
		for i, in := range n.Inputs() {
			if ins[i] = mapped[in]; ins[i] == nil {
				panic(fmt.Sprintf("nn: cloning the gradient: input %d of %s was not mapped", i, n.Type()))
			}
		}
		mapped[n] = rewriteGradientNode(n, ins)
	}
	grads := make([]*G.Node, len(p.grads))
	for i, gr := range p.grads {
		grads[i] = mapped[gr]
	}
	return grads
}

// gradient is graph.Gradient(output, wrt...) with the transposed products
// folded (foldTransposedProduct): the gradient part is built, then rebuilt
// in the same graph with the folds; the first build is left unused, and
// the backend does not run it.
func gradient(output *G.Node, wrt ...*G.Node) []*G.Node {
	g := output.Graph()
	boundary := g.LastNode().Id() + 1
	grads := G.Gradient(output, wrt...)
	mapped := map[*G.Node]*G.Node{}
	var rebuild func(n *G.Node) *G.Node
	rebuild = func(n *G.Node) *G.Node {
		if m, ok := mapped[n]; ok {
			return m
		}
		m := n
		if n.Id() >= boundary && len(n.Inputs()) > 0 {
			ins := make([]*G.Node, len(n.Inputs()))
			changed := false
			for i, in := range n.Inputs() {
				ins[i] = rebuild(in)
				changed = changed || ins[i] != in
			}
			if r := rewriteGradientNode(n, ins); r != n || changed {
				m = r
			}
		}
		mapped[n] = m
		return m
	}
	out := make([]*G.Node, len(grads))
	for i, gr := range grads {
		out[i] = rebuild(gr)
	}
	return out
}

// rewriteGradientNode returns the node of the gradient part that computes
// n from ins (the clones of n's inputs, or n's inputs themselves), in the
// form the pure-Go backend runs fastest; it returns n itself when n's
// inputs are unchanged and nothing is rewritten. The rewrites compute the
// same values:
//   - an Identity (the stop-gradient of dy) is its input: no copy;
//   - a product by ones (the seed of the gradient of sum(y*dy)) is the other
//     factor;
//   - a transposed matrix product is the product in the other order
//     (foldTransposedProduct);
//   - a matrix product is laid out for the backend's kernels
//     (layoutProduct).
func rewriteGradientNode(n *G.Node, ins []*G.Node) *G.Node {
	switch n.Type() {
	case G.NodeTypeIdentity:
		if len(ins) == 1 && ins[0].Shape().Equal(n.Shape()) {
			return ins[0]
		}
	case G.NodeTypeMul:
		if len(ins) == 2 {
			for i, in := range n.Inputs() {
				if other := ins[1-i]; isOnes(in) && other.Shape().Equal(n.Shape()) {
					return other
				}
			}
		}
	case G.NodeTypeTranspose:
		if f := foldTransposedProduct(n, ins); f != nil {
			return f
		}
	case G.NodeTypeDotGeneral:
		if a, ca, b, cb, ok := matrixProduct(n, ins); ok {
			return layoutProduct(a, ca, b, cb)
		}
	}
	if slices.Equal(ins, n.Inputs()) {
		return n
	}
	return cloneNode(n, ins)
}

// isOnes reports whether n is a constant 1, possibly reshaped or broadcast.
func isOnes(n *G.Node) bool {
	for n.Type() == G.NodeTypeReshape || n.Type() == G.NodeTypeBroadcastInDim {
		n = n.Inputs()[0]
	}
	c := n.ConstantValue()
	if c == nil || c.Shape().Size() != 1 || c.DType() != n.DType() {
		return false
	}
	switch n.DType() {
	case dtypes.Float32:
		return tensors.ToScalar[float32](c) == 1
	case dtypes.Float64:
		return tensors.ToScalar[float64](c) == 1
	}
	return false
}

// matrixProduct returns the factors of n = DotGeneral(a, b) of two
// matrices with one contracting axis each (ca and cb) and no batch axes,
// read from the shapes; ins are the clones of n's inputs. ok is false if n
// is not such a product or its axes are ambiguous (square matrices).
func matrixProduct(n *G.Node, ins []*G.Node) (a *G.Node, ca int, b *G.Node, cb int, ok bool) {
	if n.Type() != G.NodeTypeDotGeneral || len(ins) != 2 || n.Rank() != 2 {
		return nil, 0, nil, 0, false
	}
	a, b = ins[0], ins[1]
	if a.Rank() != 2 || b.Rank() != 2 || a.DType() != n.DType() || b.DType() != n.DType() {
		return nil, 0, nil, 0, false
	}
	dd := n.Shape().Dimensions
	ca, cb = contractingAxis(a, dd[0]), contractingAxis(b, dd[1])
	if ca < 0 || cb < 0 || a.Shape().Dimensions[ca] != b.Shape().Dimensions[cb] {
		return nil, 0, nil, 0, false
	}
	a, ca = untransposed(a, ca)
	b, cb = untransposed(b, cb)
	return a, ca, b, cb, true
}

// untransposed sees through a transposition of the non-square matrix m:
// it returns the matrix before it and the axis there of m's axis.
func untransposed(m *G.Node, axis int) (*G.Node, int) {
	if m.Type() != G.NodeTypeTranspose || len(m.Inputs()) != 1 {
		return m, axis
	}
	src := m.Inputs()[0]
	sd, md := src.Shape().Dimensions, m.Shape().Dimensions
	switch {
	case src.Rank() != 2 || sd[0] == sd[1]:
	case sd[0] == md[0] && sd[1] == md[1]:
		return src, axis
	case sd[0] == md[1] && sd[1] == md[0]:
		return src, 1 - axis
	}
	return m, axis
}

// contractingAxis is the axis of the matrix m that is not its cross axis
// of size cross, or -1 if that is ambiguous.
func contractingAxis(m *G.Node, cross int) int {
	md := m.Shape().Dimensions
	switch {
	case md[0] == md[1]:
		return -1
	case md[1] == cross:
		return 0
	case md[0] == cross:
		return 1
	}
	return -1
}

// smallContracting is the contracting size below which the pure-Go
// backend's product of a row-major matrix by a transposed one (which
// vectorises along the contracting axis, 16 lanes) is slower than
// transposing the right factor and running the row-major product: for the
// course's 640x10 output layer, 145 µs against 40 µs per input gradient.
const smallContracting = 16

// smallProduct is the number of multiply-adds (rows x columns x
// contracting) below which the pure-Go backend multiplies matrices without
// packing them (its SmallMatMulSizeThreshold); that kernel takes rows four
// at a time and is about 5 times slower on a product whose row count is
// not a multiple of 4 (10x64 by 64x640: 80 µs, against 18 µs for 12 rows).
const smallProduct = 4 << 20

// layoutProduct builds the product of the matrices a and b contracting
// their axes ca and cb, laid out for the pure-Go backend, whose kernels take
// the left factor as [rows, contracting] and the right one as [contracting,
// columns] or [columns, contracting] (the backend transposes both factors
// of any other product). When both factors have the contracting axis first
// (a weight gradient xᵀ·dz), it transposes the left one, or computes
// (bᵀ·a)ᵀ when transposing b and the product moves fewer values (the
// course's 640x10 output layer: 7,040 values instead of 40,960).
func layoutProduct(a *G.Node, ca int, b *G.Node, cb int) *G.Node {
	ad, bd := a.Shape().Dimensions, b.Shape().Dimensions
	if ca == 0 && cb == 0 {
		m, k, n := ad[1], ad[0], bd[1]
		if k*n+m*n < m*k {
			return G.Transpose(rowProduct(G.Transpose(b, 0, 1), a, 0), 0, 1)
		}
	}
	if ca == 0 {
		a = G.Transpose(a, 0, 1)
	}
	return rowProduct(a, b, cb)
}

// rowProduct is the product of a [rows, contracting] and b contracting its
// axis cb: a right factor [columns, contracting] with a small contracting
// size is transposed first (smallContracting), and a small row-major
// product's rows are padded with zeros to a multiple of 4 (smallProduct),
// the padding rows of the result dropped.
func rowProduct(a, b *G.Node, cb int) *G.Node {
	if cb == 1 && b.Shape().Dimensions[1] < smallContracting {
		b, cb = G.Transpose(b, 0, 1), 0
	}
	m, k := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	n := b.Shape().Dimensions[1-cb]
	if pad := (4 - m%4) % 4; pad > 0 && cb == 0 && m*n*k < smallProduct {
		zeros := G.Zeros(a.Graph(), shapes.Make(a.DType(), pad, k))
		p := G.DotGeneral(G.Concatenate([]*G.Node{a, zeros}, 0), []int{1}, nil, b, []int{0}, nil)
		return G.Slice(p, G.AxisRange(0, m))
	}
	return G.DotGeneral(a, []int{1}, nil, b, []int{cb}, nil)
}

// cloneNode is n.CloneWithInputs(ins...), checked: the clone must read ins
// in n's order. GoMLX v0.28.16's FusedActivationVJP lists its inputs as (y,
// dOutput, x) but its CloneWithInputs reads (y, x, dOutput); it gets them
// in the order it reads.
func cloneNode(n *G.Node, ins []*G.Node) *G.Node {
	args := ins
	if n.Type() == G.NodeTypeFusedActivationVJP && len(ins) == 3 {
		args = []*G.Node{ins[0], ins[2], ins[1]}
	}
	c := n.CloneWithInputs(args...)
	if !slices.Equal(c.Inputs(), ins) {
		panic(fmt.Sprintf("nn: cloning the gradient: the clone of %s reads its inputs in another order", n.Type()))
	}
	return c
}

// foldTransposedProduct returns, for n = Transpose(a·b) of matrices (a
// DotGeneral with one contracting axis each and no batch axes), the
// product b·a computed directly, or nil if n is not such a node. GoMLX's
// DotGeneral gradient gives a weight gradient [units, in] and transposes it
// to the [in, units] variable; the pure-Go backend's transpose costs about
// a quarter of a millisecond per step on the course's first layer, the
// product in the other order nothing more. ins are the clones of n's
// inputs. The axes are read from the shapes, so square matrices are left
// alone.
func foldTransposedProduct(n *G.Node, ins []*G.Node) *G.Node {
	if n.Type() != G.NodeTypeTranspose || len(ins) != 1 || ins[0].Type() != G.NodeTypeDotGeneral {
		return nil
	}
	d := ins[0]
	dd := d.Shape().Dimensions
	if n.Rank() != 2 || d.Rank() != 2 || dd[0] == dd[1] || len(d.Inputs()) != 2 ||
		!slices.Equal(n.Shape().Dimensions, []int{dd[1], dd[0]}) {
		return nil
	}
	a, ca, b, cb, ok := matrixProduct(d, d.Inputs())
	if !ok {
		return nil
	}
	f := layoutProduct(b, cb, a, ca)
	if !f.Shape().Equal(n.Shape()) {
		return nil
	}
	return f
}
