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
	const inputs, h1, cut = 784, 128, 640
	var res SplitResult
	n := len(trainY)
	if n == 0 || len(trainX) != n*inputs || len(testX) != len(testY)*inputs || len(testY) == 0 {
		return res, fmt.Errorf("%w: %d training labels for %d pixels, %d test labels for %d pixels (784 per image)", ErrConfig, n, len(trainX), len(testY), len(testX))
	}
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
		return res, fmt.Errorf("%w: epochs %d, batch %d, lr %v, noise scale %v: want epochs >= 0, batch >= 2, lr >= 0, noise scale >= 0", ErrConfig, cfg.Epochs, cfg.Batch, cfg.LR, cfg.NoiseScale)
	}
	const dt = dtypes.Float32
	store := model.NewStore()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x73706c6974))
	var bottom, top []*model.Variable
	for _, l := range []struct {
		party, layer string
		in, out      int
		vars         *[]*model.Variable
	}{{"bottom", "layer0", inputs, h1, &bottom}, {"bottom", "layer1", h1, cut, &bottom}, {"top", "layer0", cut, 1, &top}} {
		v, err := newDense(store.RootScope().In("%s", l.party).In("%s", l.layer), l.in, l.out, dt, r)
		if err != nil {
			return res, err
		}
		*l.vars = append(*l.vars, v...)
	}
	relu := func(x *G.Node) *G.Node { return G.Max(x, G.ZerosLike(x)) }
	bottomFn := func(scope *model.Scope, x *G.Node) *G.Node {
		return relu(dense(scope.In("layer1"), relu(dense(scope.In("layer0"), x, h1)), cut))
	}
	topFn := func(scope *model.Scope, a *G.Node) *G.Node {
		z := dense(scope.In("layer0"), a, 1)
		return G.Reshape(z, z.Shape().Dimensions[0])
	}
	sgd := func(vars []*model.Variable, grads []*G.Node, lr *G.Node) {
		for i, v := range vars {
			w := v.NodeValue(lr.Graph())
			v.SetNodeValue(G.Sub(w, G.Mul(lr, grads[i])))
		}
	}
	params := func(vars []*model.Variable, g *G.Graph) []*G.Node {
		p := make([]*G.Node, len(vars))
		for i, v := range vars {
			p[i] = v.NodeValue(g)
		}
		return p
	}
	bce := func(z, y *G.Node) *G.Node { // mean of softplus(z) - y·z
		return G.ReduceAllMean(G.Sub(G.Add(relu(z), G.Log1p(G.Exp(G.Neg(G.Abs(z))))), G.Mul(y, z)))
	}
	// The data party's forward pass: x -> cut activation. Every graph that
	// reads variables the training changes is built in training mode: the
	// pure-Go backend prefers constants for variables, and model.Exec then
	// folds a variable's value at compile time into the graph outside
	// training mode, so later updates would not be seen.
	forward, err := model.NewExec(backend(), store, func(scope *model.Scope, x *G.Node) *G.Node {
		scope.SetTraining(x.Graph(), true)
		return bottomFn(scope.In("bottom"), x)
	})
	if err != nil {
		return res, fmt.Errorf("attack: %w", err)
	}
	// The label party's step: cut activation, labels, lr -> its update, the
	// cut gradient (one row per example) and the loss.
	topStep, err := model.NewExec(backend(), store, func(scope *model.Scope, a, y, lr *G.Node) []*G.Node {
		scope.SetTraining(a.Graph(), true) // variables as parameters, not constants folded into the graph
		loss := bce(topFn(scope.In("top"), a), y)
		grads := G.Gradient(loss, append(params(top, a.Graph()), a)...)
		sgd(top, grads[:len(top)], lr)
		return []*G.Node{grads[len(top)], loss}
	})
	if err != nil {
		return res, fmt.Errorf("attack: %w", err)
	}
	// The data party's step: x, the received cut gradient, lr -> its update
	// (the vector-Jacobian product of its layers with the cut gradient).
	bottomStep, err := model.NewExec(backend(), store, func(scope *model.Scope, x, dA, lr *G.Node) *G.Node {
		scope.SetTraining(x.Graph(), true)
		a := bottomFn(scope.In("bottom"), x)
		grads := G.Gradient(G.ReduceAllSum(G.Mul(a, G.StopGradient(dA))), params(bottom, x.Graph())...)
		sgd(bottom, grads, lr)
		return G.ReduceAllSum(a)
	})
	if err != nil {
		return res, fmt.Errorf("attack: %w", err)
	}
	lr := tensors.FromValue(float32(cfg.LR))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var normS, cosS []float64
		var normY, cosY []bool
		var lossSum float64
		steps := 0
		for start := 0; start+cfg.Batch <= n; start += cfg.Batch {
			idx := order[start : start+cfg.Batch]
			xb := make([]float32, 0, len(idx)*inputs)
			yb := make([]float32, len(idx))
			for k, i := range idx {
				for _, v := range trainX[i*inputs : (i+1)*inputs] {
					xb = append(xb, float32(v))
				}
				if trainY[i] {
					yb[k] = 1
				}
			}
			xt := tensors.FromFlatDataAndDimensions(xb, len(idx), inputs)
			a, err := forward.Exec(xt)
			if err != nil {
				return res, fmt.Errorf("attack: split forward: %w", err)
			}
			out, err := topStep.Exec(a[0], tensors.FromValue(yb), lr)
			if err != nil {
				return res, fmt.Errorf("attack: split label party: %w", err)
			}
			g, err := float64s(out[0])
			if err != nil {
				return res, err
			}
			l, _ := float64s(out[1])
			lossSum += l[0]
			steps++
			Defend(g, cut, cfg.Defence, cfg.NoiseScale, r)
			// The data party's attacks on what it received.
			normS = append(normS, NormScores(g, cut)...)
			ref := -1
			for k, i := range idx {
				normY = append(normY, trainY[i])
				if trainY[i] && ref < 0 {
					ref = k
				}
			}
			if ref >= 0 {
				cs := CosineScores(g, cut, g[ref*cut:(ref+1)*cut])
				for k, i := range idx {
					if k != ref {
						cosS, cosY = append(cosS, cs[k]), append(cosY, trainY[i])
					}
				}
			}
			g32 := make([]float32, len(g))
			for j, v := range g {
				g32[j] = float32(v)
			}
			if _, err := bottomStep.Exec(xt, tensors.FromFlatDataAndDimensions(g32, len(idx), cut), lr); err != nil {
				return res, fmt.Errorf("attack: split data party: %w", err)
			}
		}
		if res.NormAUC, err = AUC(normS, normY); err != nil {
			return res, err
		}
		if res.CosineAUC, err = AUC(cosS, cosY); err != nil {
			return res, err
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(epoch, lossSum/float64(steps), res.NormAUC, res.CosineAUC)
		}
	}
	// Test accuracy of the whole network.
	predict, err := model.NewExec(backend(), store, func(scope *model.Scope, x *G.Node) *G.Node {
		return topFn(scope.In("top"), bottomFn(scope.In("bottom"), x))
	})
	if err != nil {
		return res, fmt.Errorf("attack: %w", err)
	}
	xs := make([]float32, len(testX))
	for i, v := range testX {
		xs[i] = float32(v)
	}
	out, err := predict.Exec(tensors.FromFlatDataAndDimensions(xs, len(testY), inputs))
	if err != nil {
		return res, fmt.Errorf("attack: split predict: %w", err)
	}
	z, err := float64s(out[0])
	if err != nil {
		return res, err
	}
	right := 0
	for i, y := range testY {
		if (z[i] >= 0) == y {
			right++
		}
	}
	res.TestAccuracy = float64(right) / float64(len(testY))
	return res, nil
}
