package attack

import (
	"fmt"
	"math"
)

// isolatedExamples finds the examples of a batch that some hidden unit of an
// MLP's first layer sees alone. Unit i's gradient ratio dL/dW1[:, i] /
// dL/db1[i] is the mean of the images active on unit i weighted by their
// dL/db1[i]: when one image alone activates the unit, the ratio is that
// image exactly, as at batch 1 (Geiping et al. 2020, Section 4; Fowl et al.,
// "Robbing the Fed", ICLR 2022, build malicious layers on the same fact).
// A candidate is kept when its pixels lie in [0, 1] and its label y makes the
// unit's bias gradient come out exactly: B·dL/db1[i] = ReLU'(z_i)·(W2[i,:]·p
// - W2[i,y]), with z and p the network's pre-activation and probabilities on
// the candidate. It returns at most batch distinct images with their labels.
func (n *Net) isolatedExamples(observed Gradients, batch int) ([][]float64, []int, error) {
	if n.Kind != MLP {
		return nil, nil, fmt.Errorf("attack: isolated examples of a %s", n.Kind)
	}
	var w [4][]float64
	for k := range w {
		t, err := n.vars[k].Value()
		if err != nil {
			return nil, nil, fmt.Errorf("attack: %w", err)
		}
		if w[k], err = float64s(t); err != nil {
			return nil, nil, err
		}
	}
	w1, b1, w2, b2 := w[0], w[1], w[2], w[3]
	in, h, classes := n.Inputs, n.Hidden, n.Classes
	gW, gb := observed[0], observed[1]
	var images [][]float64
	var labels []int
	for i := range h {
		if gb[i] == 0 {
			continue
		}
		x := make([]float64, in)
		outside := 0.0
		for j := range x {
			x[j] = gW[j*h+i] / gb[i]
			outside = max(outside, -x[j], x[j]-1)
		}
		if outside > 1e-3 {
			continue
		}
		// The network on x: hidden pre-activations, probabilities.
		hid := make([]float64, h)
		for u := range h {
			z := b1[u]
			for j, v := range x {
				z += v * w1[j*h+u]
			}
			hid[u] = z
		}
		if hid[i] <= 0 {
			continue // unit i inactive on x: x is not what activated it
		}
		logits := make([]float64, classes)
		for c := range classes {
			z := b2[c]
			for u, a := range hid {
				z += max(a, 0) * w2[u*classes+c]
			}
			logits[c] = z
		}
		p := softmax(logits)
		wp := 0.0
		for c := range classes {
			wp += w2[i*classes+c] * p[c]
		}
		want := float64(batch) * gb[i]
		label, best := -1, 1e-3*math.Abs(want) // the label that fits best, within 0.1%
		for c := range classes {
			if d := math.Abs(wp - w2[i*classes+c] - want); d <= best {
				label, best = c, d
			}
		}
		if label < 0 || seen(images, x) {
			continue
		}
		images, labels = append(images, x), append(labels, label)
		if len(images) == batch {
			break
		}
	}
	return images, labels, nil
}

// seen reports whether x is, to rounding, one of images.
func seen(images [][]float64, x []float64) bool {
	for _, y := range images {
		if m, _ := MSE(y, x); m < 1e-8 {
			return true
		}
	}
	return false
}

func softmax(z []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, v)
	}
	p := make([]float64, len(z))
	s := 0.0
	for i, v := range z {
		p[i] = math.Exp(v - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// peel recovers the examples of a batch that a first-layer unit sees alone
// ([Net.isolatedExamples]), subtracts their gradients from the observed one,
// and repeats on the remaining examples (a unit shared by a recovered example
// and another one then sees the other alone); DLG recovers what remains.
func (n *Net) peel(observed Gradients, batch int, opt DLGOptions) (DLGResult, error) {
	var res DLGResult
	for batch > 0 {
		xs, ys, err := n.isolatedExamples(observed, batch)
		if err != nil {
			return res, err
		}
		if len(xs) == 0 {
			break
		}
		// The mean gradient of the batch times batch is the sum of the
		// examples' gradients: take the recovered ones out.
		sum := observed.Flat()
		for i := range sum {
			sum[i] *= float64(batch)
		}
		for k, x := range xs {
			g, err := n.Gradient(x, ys[k:k+1])
			if err != nil {
				return res, err
			}
			for i, v := range g.Flat() {
				sum[i] -= v
			}
		}
		res.Images, res.Labels = append(res.Images, xs...), append(res.Labels, ys...)
		batch -= len(xs)
		if batch == 0 {
			return res, nil
		}
		for i := range sum {
			sum[i] /= float64(batch)
		}
		observed = observed.Clone()
		observed.SetFlat(sum)
	}
	rest, err := n.dlg(observed, batch, opt)
	res.Images, res.Labels, res.Loss = append(res.Images, rest.Images...), append(res.Labels, rest.Labels...), rest.Loss
	return res, err
}
