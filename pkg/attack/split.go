package attack

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/gomlx/compute/dtypes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// AUC returns the area under the ROC curve of scores for telling positives
// from negatives: the probability that a random positive scores higher than a
// random negative, ties counting one half (the Mann-Whitney statistic). It is
// the leak AUC of Li et al. when the scores are an attack's.
func AUC(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return 0, fmt.Errorf("attack: %d scores for %d labels", len(scores), len(positive))
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var pos, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of the ranks i+1 .. j
		for _, k := range idx[i:j] {
			if positive[k] {
				pos++
				rankSum += rank
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	if pos == 0 || neg == 0 {
		return 0, errors.New("attack: AUC needs positives and negatives")
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg), nil
}

// NormScores is the norm attack of Li et al. ("Label Leakage and Protection
// in Two-party Split Learning", ICLR 2022): the score of an example is the
// L2 norm of its cut gradient. With a rare positive class, the model's
// error |p - y| is larger on positives, and so is the gradient. grads holds
// the examples' cut gradients, dim values each.
func NormScores(grads []float64, dim int) []float64 {
	s := make([]float64, len(grads)/dim)
	for i := range s {
		s[i] = norm(grads[i*dim : (i+1)*dim])
	}
	return s
}

// CosineScores is the cosine attack of Li et al.: the score of an example is
// the cosine similarity of its cut gradient with ref, the cut gradient of an
// example the attacker knows to be positive. Gradients of the same class
// point the same way (exactly so when the label party's model above the cut
// is one linear layer).
func CosineScores(grads []float64, dim int, ref []float64) []float64 {
	s := make([]float64, len(grads)/dim)
	nr := norm(ref)
	for i := range s {
		g := grads[i*dim : (i+1)*dim]
		var d float64
		for j, x := range g {
			d += x * ref[j]
		}
		if n := norm(g) * nr; n > 0 {
			s[i] = d / n
		}
	}
	return s
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// Defence is what the label party does to the cut gradients before sending
// them to the data party.
type Defence int

const (
	// NoDefence sends the cut gradients as they are.
	NoDefence Defence = iota
	// NoiseDefence adds isotropic Gaussian noise to every example's cut
	// gradient, of standard deviation Scale·max_i‖g_i‖/√d per coordinate
	// (the batch's largest gradient norm, spread over the d coordinates):
	// the isotropic-noise baseline of Li et al., not their Marvell.
	NoiseDefence
	// MaxNormDefence is Li et al.'s max-norm heuristic: each example's cut
	// gradient g_i gets isotropic Gaussian noise of variance
	// (max_j‖g_j‖² - ‖g_i‖²)/d per coordinate, so that every example's
	// expected squared norm is the batch's largest and the norm tells nothing.
	MaxNormDefence
)

// String returns none, noise or maxnorm.
func (d Defence) String() string {
	switch d {
	case NoDefence:
		return "none"
	case NoiseDefence:
		return "noise"
	case MaxNormDefence:
		return "maxnorm"
	}
	return fmt.Sprintf("Defence(%d)", int(d))
}

// ParseDefence parses none, noise or maxnorm.
func ParseDefence(s string) (Defence, error) {
	for _, d := range []Defence{NoDefence, NoiseDefence, MaxNormDefence} {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("attack: defence %q, want none, noise or maxnorm", s)
}

// Defend applies the defence d to the cut gradients of a batch, in place
// (dim values per example), with noise from r; scale is NoiseDefence's.
func Defend(grads []float64, dim int, d Defence, scale float64, r *rand.Rand) {
	if d == NoDefence {
		return
	}
	norms := NormScores(grads, dim)
	maxN := slices.Max(norms)
	for i, n := range norms {
		var std float64
		switch d {
		case NoiseDefence:
			std = scale * maxN / math.Sqrt(float64(dim))
		case MaxNormDefence:
			std = math.Sqrt(max(0, maxN*maxN-n*n) / float64(dim))
		}
		for j := i * dim; j < (i+1)*dim; j++ {
			grads[j] += std * r.NormFloat64()
		}
	}
}

// ErrConfig is wrapped by the errors of [SplitLabelLeak] that come from its
// arguments rather than from the computation.
var ErrConfig = errors.New("attack: invalid configuration")

// SplitConfig configures [SplitLabelLeak].
type SplitConfig struct {
	Epochs     int     // passes over the training set; 0 means 2
	Batch      int     // batch size; 0 means 64
	LR         float64 // SGD learning rate of both parties; 0 means 0.05
	Defence    Defence // applied by the label party to the cut gradients
	NoiseScale float64 // NoiseDefence's scale; 0 means 1
	Seed       uint64
	// OnEpoch, if set, is called after each epoch with the leak AUCs of the
	// cut gradients the data party received during it.
	OnEpoch func(epoch int, loss, normAUC, cosineAUC float64)
}

// SplitResult is the outcome of [SplitLabelLeak]: the leak AUCs of the last
// epoch and the model's test accuracy.
type SplitResult struct {
	NormAUC, CosineAUC float64
	TestAccuracy       float64
}

// SplitLabelLeak trains the two-party split network of the course's
// original notebook on a binary task, 784-128-640 (ReLU, the data party's
// bottom) | 640-1 (sigmoid and the binary cross-entropy, the label party's
// top), by SGD in which the data party updates its layers with the cut
// gradient the label party sends, as split learning does; and it runs Li et
// al.'s norm and cosine attacks on those cut gradients, as the data party
// would to learn the labels it was not given. The cosine attack's reference
// is, in each batch, the cut gradient of one positive example the attacker
// is assumed to know (excluded from the AUC). x holds the examples (pixels
// in [0, 1]) one after the other; positive are the binary labels.
//
// Both parties run in this process, in GoMLX (graph.Gradient), because the
// attack needs the per-example cut gradients.
func SplitLabelLeak(trainX []float64, trainY []bool, testX []float64, testY []bool, cfg SplitConfig) (SplitResult, error) {
	var res SplitResult
	n := len(trainY)
	if n == 0 || len(trainX) != n*splitInputs || len(testX) != len(testY)*splitInputs || len(testY) == 0 {
		return res, fmt.Errorf("%w: %d training labels for %d pixels, %d test labels for %d pixels (784 per image)", ErrConfig, n, len(trainX), len(testY), len(testX))
	}
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x73706c6974))
	net, err := newSplitNet(r)
	if err != nil {
		return res, err
	}
	lr := tensors.FromValue(float32(cfg.LR))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var leak leakScores
		var lossSum float64
		steps := 0
		for start := 0; start+cfg.Batch <= n; start += cfg.Batch {
			idx := order[start : start+cfg.Batch]
			loss, err := net.step(trainX, trainY, idx, lr, func(g []float64) {
				Defend(g, splitCut, cfg.Defence, cfg.NoiseScale, r)
				leak.add(g, idx, trainY) // the data party's attacks on what it received
			})
			if err != nil {
				return res, err
			}
			lossSum += loss
			steps++
		}
		if res.NormAUC, err = AUC(leak.norm, leak.normY); err != nil {
			return res, err
		}
		if res.CosineAUC, err = AUC(leak.cos, leak.cosY); err != nil {
			return res, err
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(epoch, lossSum/float64(steps), res.NormAUC, res.CosineAUC)
		}
	}
	res.TestAccuracy, err = net.accuracy(testX, testY)
	return res, err
}

// The layer sizes of SplitLabelLeak's network: 784-128-640 | 640-1.
const splitInputs, splitHidden, splitCut = 784, 128, 640

// setDefaults replaces the zero values of cfg by the defaults and checks it.
func (cfg *SplitConfig) setDefaults() error {
	if cfg.Epochs == 0 {
		cfg.Epochs = 2
	}
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	if cfg.LR == 0 {
		cfg.LR = 0.05
	}
	if cfg.NoiseScale == 0 {
		cfg.NoiseScale = 1
	}
	if cfg.Epochs < 0 || cfg.Batch < 2 || cfg.LR < 0 || cfg.NoiseScale < 0 {
		return fmt.Errorf("%w: epochs %d, batch %d, lr %v, noise scale %v: want epochs >= 0, batch >= 2, lr >= 0, noise scale >= 0", ErrConfig, cfg.Epochs, cfg.Batch, cfg.LR, cfg.NoiseScale)
	}
	return nil
}

// leakScores collects, over an epoch, the scores of Li et al.'s norm and
// cosine attacks on the cut gradients with the true labels.
type leakScores struct {
	norm, cos   []float64
	normY, cosY []bool
}

// add scores the cut gradients g of the examples idx. The cosine attack's
// reference is the batch's first positive example, which is left out.
func (l *leakScores) add(g []float64, idx []int, labels []bool) {
	l.norm = append(l.norm, NormScores(g, splitCut)...)
	ref := -1
	for k, i := range idx {
		l.normY = append(l.normY, labels[i])
		if labels[i] && ref < 0 {
			ref = k
		}
	}
	if ref < 0 {
		return
	}
	cs := CosineScores(g, splitCut, g[ref*splitCut:(ref+1)*splitCut])
	for k, i := range idx {
		if k != ref {
			l.cos, l.cosY = append(l.cos, cs[k]), append(l.cosY, labels[i])
		}
	}
}

// splitNet is SplitLabelLeak's network: the data party's bottom and the
// label party's top, with the compiled steps of each party.
type splitNet struct {
	store       *model.Store
	bottom, top []*model.Variable
	// forward: x -> cut activation (the data party). topStep: cut
	// activation, labels, lr -> the cut gradient (a row per example) and the
	// loss, updating the top (the label party). bottomStep: x, the received
	// cut gradient, lr -> updates the bottom by the vector-Jacobian product
	// of its layers with the cut gradient.
	forward, topStep, bottomStep *model.Exec
}

func splitRelu(x *G.Node) *G.Node { return G.Max(x, G.ZerosLike(x)) }

func splitBottom(scope *model.Scope, x *G.Node) *G.Node {
	return splitRelu(dense(scope.In("layer1"), splitRelu(dense(scope.In("layer0"), x, splitHidden)), splitCut))
}

func splitTop(scope *model.Scope, a *G.Node) *G.Node {
	z := dense(scope.In("layer0"), a, 1)
	return G.Reshape(z, z.Shape().Dimensions[0])
}

// splitBCE is the binary cross-entropy of logits z and labels y: the mean of
// softplus(z) - y·z.
func splitBCE(z, y *G.Node) *G.Node {
	return G.ReduceAllMean(G.Sub(G.Add(splitRelu(z), G.Log1p(G.Exp(G.Neg(G.Abs(z))))), G.Mul(y, z)))
}

// sgdStep sets each variable to itself minus lr times its gradient.
func sgdStep(vars []*model.Variable, grads []*G.Node, lr *G.Node) {
	for i, v := range vars {
		w := v.NodeValue(lr.Graph())
		v.SetNodeValue(G.Sub(w, G.Mul(lr, grads[i])))
	}
}

// nodeValues returns the variables' nodes in g.
func nodeValues(vars []*model.Variable, g *G.Graph) []*G.Node {
	p := make([]*G.Node, len(vars))
	for i, v := range vars {
		p[i] = v.NodeValue(g)
	}
	return p
}

// newSplitNet initialises the network's weights from r and compiles the
// parties' steps.
func newSplitNet(r *rand.Rand) (*splitNet, error) {
	const dt = dtypes.Float32
	net := &splitNet{store: model.NewStore()}
	for _, l := range []struct {
		party, layer string
		in, out      int
		vars         *[]*model.Variable
	}{{"bottom", "layer0", splitInputs, splitHidden, &net.bottom}, {"bottom", "layer1", splitHidden, splitCut, &net.bottom}, {"top", "layer0", splitCut, 1, &net.top}} {
		v, err := newDense(net.store.RootScope().In("%s", l.party).In("%s", l.layer), l.in, l.out, dt, r)
		if err != nil {
			return nil, err
		}
		*l.vars = append(*l.vars, v...)
	}
	// Every graph that reads variables the training changes is built in
	// training mode: the pure-Go backend prefers constants for variables, and
	// model.Exec then folds a variable's value at compile time into the graph
	// outside training mode, so later updates would not be seen.
	var err error
	net.forward, err = model.NewExec(backend(), net.store, func(scope *model.Scope, x *G.Node) *G.Node {
		scope.SetTraining(x.Graph(), true)
		return splitBottom(scope.In("bottom"), x)
	})
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	net.topStep, err = model.NewExec(backend(), net.store, func(scope *model.Scope, a, y, lr *G.Node) []*G.Node {
		scope.SetTraining(a.Graph(), true) // variables as parameters, not constants folded into the graph
		loss := splitBCE(splitTop(scope.In("top"), a), y)
		grads := G.Gradient(loss, append(nodeValues(net.top, a.Graph()), a)...)
		sgdStep(net.top, grads[:len(net.top)], lr)
		return []*G.Node{grads[len(net.top)], loss}
	})
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	net.bottomStep, err = model.NewExec(backend(), net.store, func(scope *model.Scope, x, dA, lr *G.Node) *G.Node {
		scope.SetTraining(x.Graph(), true)
		a := splitBottom(scope.In("bottom"), x)
		grads := G.Gradient(G.ReduceAllSum(G.Mul(a, G.StopGradient(dA))), nodeValues(net.bottom, x.Graph())...)
		sgdStep(net.bottom, grads, lr)
		return G.ReduceAllSum(a)
	})
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	return net, nil
}

// step trains on the examples idx: the data party's forward pass, the label
// party's step, then received (the data party's view of the cut gradients,
// which it may change, as a defence does) and the data party's step with
// them. It returns the label party's loss.
func (net *splitNet) step(x []float64, labels []bool, idx []int, lr *tensors.Tensor, received func(g []float64)) (float64, error) {
	xb := make([]float32, 0, len(idx)*splitInputs)
	yb := make([]float32, len(idx))
	for k, i := range idx {
		for _, v := range x[i*splitInputs : (i+1)*splitInputs] {
			xb = append(xb, float32(v))
		}
		if labels[i] {
			yb[k] = 1
		}
	}
	xt := tensors.FromFlatDataAndDimensions(xb, len(idx), splitInputs)
	a, err := net.forward.Exec(xt)
	if err != nil {
		return 0, fmt.Errorf("attack: split forward: %w", err)
	}
	out, err := net.topStep.Exec(a[0], tensors.FromValue(yb), lr)
	if err != nil {
		return 0, fmt.Errorf("attack: split label party: %w", err)
	}
	g, err := float64s(out[0])
	if err != nil {
		return 0, err
	}
	l, _ := float64s(out[1])
	received(g)
	g32 := make([]float32, len(g))
	for j, v := range g {
		g32[j] = float32(v)
	}
	if _, err := net.bottomStep.Exec(xt, tensors.FromFlatDataAndDimensions(g32, len(idx), splitCut), lr); err != nil {
		return 0, fmt.Errorf("attack: split data party: %w", err)
	}
	return l[0], nil
}

// accuracy returns the whole network's accuracy on the examples x (784
// pixels each, one after the other) with the binary labels.
func (net *splitNet) accuracy(x []float64, labels []bool) (float64, error) {
	predict, err := model.NewExec(backend(), net.store, func(scope *model.Scope, x *G.Node) *G.Node {
		return splitTop(scope.In("top"), splitBottom(scope.In("bottom"), x))
	})
	if err != nil {
		return 0, fmt.Errorf("attack: %w", err)
	}
	xs := make([]float32, len(x))
	for i, v := range x {
		xs[i] = float32(v)
	}
	out, err := predict.Exec(tensors.FromFlatDataAndDimensions(xs, len(labels), splitInputs))
	if err != nil {
		return 0, fmt.Errorf("attack: split predict: %w", err)
	}
	z, err := float64s(out[0])
	if err != nil {
		return 0, err
	}
	right := 0
	for i, y := range labels {
		if (z[i] >= 0) == y {
			right++
		}
	}
	return float64(right) / float64(len(labels)), nil
}
