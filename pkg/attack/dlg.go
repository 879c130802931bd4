package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// DLGOptions configure [DLG].
type DLGOptions struct {
	Iterations int     // Adam steps of each run; 0 means 1000
	LR         float64 // Adam's first learning rate on the pixels (divided by 10 at 1/2 and 3/4 of the steps); 0 means 0.1
	Restarts   int     // runs from different dummy images, the one of smallest matching loss kept; 0 means 1
	Seed       uint64  // seed of the dummy images
	// Peel first recovers exactly, with their labels, the examples
	// of the batch that some first-layer unit of an MLP sees alone (the
	// analytic inversion of that unit, Geiping et al. 2020), takes their
	// gradients out of the observed one, repeats, and leaves DLG only the
	// examples that remain. Plain DLG when false.
	Peel bool
}

// DLGResult is what [DLG] recovered.
type DLGResult struct {
	Images [][]float64 // the B recovered images, pixels in [0, 1]
	Labels []int       // the labels used (iDLG, then refined)
	Loss   float64     // the final gradient-matching loss
}

// DLG recovers a batch of examples from the gradient the network computed on
// them: Deep Leakage from Gradients (Zhu, Liu and Han, NeurIPS 2019) with
// the labels read first from the last bias gradient as iDLG does (Zhao,
// Mopuri and Bilen 2020). Starting from random dummy images x', it minimises
// the gradient-matching loss
//
//	D(x') = Σ_parameters ‖∇θ L(x', y) - observed‖²
//
// by Adam on x', projected on [0, 1] after each step. ∇x' D is the gradient
// of a gradient, which GoMLX computes by calling graph.Gradient on the output
// of graph.Gradient (second-order reverse-mode autodiff). batch is the
// number of examples the attacker assumes.
//
// For an MLP at batch > 1 the labels are then counted again from the bias
// gradient and the model's mean probabilities on the recovered images,
// count_c = B·(p̄_c - dL/db_c) (as Wainakh et al.'s LLG+ and Geng et al.
// estimate them), and DLG runs again if they changed; the result of the
// smaller matching loss is kept.
func DLG(n *Net, observed Gradients, batch int, opt DLGOptions) (DLGResult, error) {
	if batch <= 0 {
		return DLGResult{}, fmt.Errorf("attack: DLG on a batch of %d, want > 0", batch)
	}
	shapes := n.ParamShapes()
	if len(observed) != len(shapes) {
		return DLGResult{}, fmt.Errorf("attack: observed gradient of %d parameters, the network has %d", len(observed), len(shapes))
	}
	for i, s := range shapes {
		if len(observed[i]) != s[0]*s[1] {
			return DLGResult{}, fmt.Errorf("attack: observed gradient of parameter %d has %d entries, want %d", i, len(observed[i]), s[0]*s[1])
		}
	}
	if opt.Iterations == 0 {
		opt.Iterations = 1000
	}
	if opt.LR == 0 {
		opt.LR = 0.1
	}
	if opt.Restarts == 0 {
		opt.Restarts = 1
	}
	if opt.Iterations < 0 || opt.Restarts < 0 || opt.LR < 0 {
		return DLGResult{}, fmt.Errorf("attack: DLG options %+v, want no negative value", opt)
	}
	if opt.Peel && n.Kind == MLP {
		return n.peel(observed, batch, opt)
	}
	return n.dlg(observed, batch, opt)
}

// dlg is DLG with checked options.
func (n *Net) dlg(observed Gradients, batch int, opt DLGOptions) (DLGResult, error) {
	lastB := observed[len(observed)-1]
	labels, err := Labels(lastB, batch)
	if err != nil {
		return DLGResult{}, err
	}
	best, err := n.dlgRuns(observed, labels, opt)
	if err != nil || n.Kind != MLP || batch == 1 {
		return best, err
	}
	p, err := n.MeanProbabilities(best.Images)
	if err != nil {
		return best, err
	}
	recount := countLabels(lastB, p, batch)
	if slices.Equal(recount, labels) {
		return best, nil
	}
	again, err := n.dlgRuns(observed, recount, opt)
	if err != nil {
		return best, err
	}
	if again.Loss < best.Loss {
		return again, nil
	}
	return best, nil
}

// countLabels counts the labels of a batch from the last bias gradient g and
// the mean predicted probabilities p: count_c = B·(p_c - g_c), rounded by
// largest remainders to B labels, in increasing order.
func countLabels(g, p []float64, batch int) []int {
	w := make([]float64, len(g))
	for c := range g {
		w[c] = max(0, float64(batch)*(p[c]-g[c]))
	}
	return apportion(w, batch)
}

// dlgRuns runs DLG opt.Restarts times with the given labels and keeps the
// run of smallest matching loss.
func (n *Net) dlgRuns(observed Gradients, labels []int, opt DLGOptions) (DLGResult, error) {
	best := DLGResult{Loss: math.Inf(1)}
	for r := range opt.Restarts {
		images, loss, err := n.dlgRun(observed, labels, opt.Iterations, opt.LR, opt.Seed+uint64(r))
		if err != nil {
			return DLGResult{}, err
		}
		if loss < best.Loss || best.Images == nil {
			best = DLGResult{Images: images, Labels: labels, Loss: loss}
		}
	}
	if math.IsNaN(best.Loss) {
		return best, fmt.Errorf("attack: DLG diverged (loss NaN)")
	}
	return best, nil
}

// dlgRun is one run of DLG from the dummy images of seed.
func (n *Net) dlgRun(observed Gradients, labels []int, iterations int, lr0 float64, seed uint64) ([][]float64, float64, error) {
	batch := len(labels)
	exec, err := n.dlgExec(batch)
	if err != nil {
		return nil, 0, err
	}
	r := rand.New(rand.NewPCG(seed, 0x646c67))
	x0 := make([]float64, batch*n.Inputs)
	for i := range x0 {
		x0[i] = r.Float64()
	}
	x := tensorOf(n.DType, x0, batch, n.Inputs)
	m := tensorOf(n.DType, make([]float64, len(x0)), batch, n.Inputs)
	v := tensorOf(n.DType, make([]float64, len(x0)), batch, n.Inputs)
	args := append([]any{nil, tensors.FromValue(int32s(labels)), nil, nil, nil, nil}, n.observedArgs(observed)...)
	loss := math.Inf(1)
	for step := 1; step <= iterations; step++ {
		lr := lr0 // divided by 10 after half the steps and again after three quarters, as Geiping et al.
		if 2*step > iterations {
			lr /= 10
		}
		if 4*step > 3*iterations {
			lr /= 10
		}
		args[0], args[2], args[3], args[4], args[5] = x, m, v, tensorOf(n.DType, []float64{float64(step)}), tensorOf(n.DType, []float64{lr})
		out, err := exec.Exec(args...)
		if err != nil {
			return nil, 0, fmt.Errorf("attack: DLG step %d: %w", step, err)
		}
		x, m, v = out[0], out[1], out[2]
		l, err := float64s(out[3])
		if err != nil {
			return nil, 0, err
		}
		loss = l[0]
	}
	flat, err := float64s(x)
	if err != nil {
		return nil, 0, err
	}
	images := make([][]float64, batch)
	for b := range images {
		images[b] = flat[b*n.Inputs : (b+1)*n.Inputs]
	}
	return images, loss, nil
}

// matchLoss is DLG's gradient-matching loss Σ‖∇θ L(x, labels) - observed‖²
// over the parameters.
func (n *Net) matchLoss(scope *model.Scope, x, labels *G.Node, observed []*G.Node) *G.Node {
	grads := G.Gradient(n.Loss(scope, x, labels), n.params(x.Graph())...)
	var match *G.Node
	for i, g := range grads {
		d := G.ReduceAllSum(G.Square(G.Sub(g, observed[i])))
		if match == nil {
			match = d
		} else {
			match = G.Add(match, d)
		}
	}
	return match
}

// observedArgs returns the observed gradient as the tensors of the
// parameters' shapes, the last inputs of the DLG graph.
func (n *Net) observedArgs(observed Gradients) []any {
	var args []any
	for i, s := range n.ParamShapes() {
		if i%2 == 1 { // a bias
			args = append(args, tensorOf(n.DType, observed[i], s[1]))
		} else {
			args = append(args, tensorOf(n.DType, observed[i], s[0], s[1]))
		}
	}
	return args
}

// dlgExec returns (building on first use) the executable of one Adam step of
// DLG at the given batch size: inputs x', labels, m, v, step, lr and the
// observed gradient; outputs x', m, v and the matching loss before the step.
func (n *Net) dlgExec(batch int) (*model.Exec, error) {
	if e := n.dlgExecs[batch]; e != nil {
		return e, nil
	}
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	e, err := model.NewExec(backend(), n.store, func(scope *model.Scope, in []*G.Node) []*G.Node {
		x, labels, m, v, step, lr, observed := in[0], in[1], in[2], in[3], in[4], in[5], in[6:]
		match := n.matchLoss(scope, x, labels, observed)
		gx := G.Gradient(match, x)[0]
		m = G.Add(G.MulScalar(m, beta1), G.MulScalar(gx, 1-beta1))
		v = G.Add(G.MulScalar(v, beta2), G.MulScalar(G.Square(gx), 1-beta2))
		one := G.ScalarOne(x.Graph(), x.DType())
		mHat := G.Div(m, G.Sub(one, G.Pow(G.Scalar(x.Graph(), x.DType(), beta1), step)))
		vHat := G.Div(v, G.Sub(one, G.Pow(G.Scalar(x.Graph(), x.DType(), beta2), step)))
		x = G.Sub(x, G.Mul(lr, G.Div(mHat, G.AddScalar(G.Sqrt(vHat), eps))))
		x = G.ClipScalar(x, 0, 1)
		return []*G.Node{x, m, v, match}
	})
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	n.dlgExecs[batch] = e
	return e, nil
}
