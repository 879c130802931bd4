package split

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

// Segment places the next Layers layers of a model on a worker.
type Segment struct {
	Worker Worker
	Layers int
}

// Config describes the whole model that a Network splits into segments.
type Config struct {
	InputDim     int
	Layers       []nn.Layer
	Loss         nn.Loss
	LearningRate float64 // SGD learning rate of every segment's optimizer
	Init         nn.Init
	Seed         uint64 // initialisation seed: the same seed gives the same network wherever it runs
}

// Network is a model split into segments held by workers: the activation at
// each cut goes forward to the next segment's worker, the gradient at the cut
// comes back and the segment before it back-propagates it. Each segment has
// its own SGD optimizer on its worker.
//
// The data owner (the caller) sends each batch's inputs to the first
// segment's worker and its labels to the last segment's worker. With the
// last segment on the first segment's worker (an in-process VirtualWorker)
// the labels never leave the data owner: that is U-shaped split learning.
// Vanilla split learning puts the last segment, and so the labels, on
// another worker.
type Network struct {
	cfg  Config
	segs []*ModelPointer
}

// NewNetwork initialises the model of cfg (as nn.Sequential with cfg.Init
// and cfg.Seed would) and sends each segment's layers to its worker. The
// segments' layer counts must add up to the model's layers.
func NewNetwork(cfg Config, segments ...Segment) (*Network, error) {
	if len(segments) < 2 {
		return nil, fmt.Errorf("split: a network needs at least 2 segments, got %d", len(segments))
	}
	total := 0
	for i, s := range segments {
		if s.Worker == nil || s.Layers <= 0 {
			return nil, fmt.Errorf("split: segment %d needs a worker and at least one layer", i)
		}
		total += s.Layers
	}
	if total != len(cfg.Layers) {
		return nil, fmt.Errorf("split: the segments hold %d layers, the model has %d", total, len(cfg.Layers))
	}
	whole, err := nn.Sequential(cfg.InputDim, cfg.Layers...)
	if err != nil {
		return nil, err
	}
	if err := whole.Compile(cfg.Loss, nn.SGD{LearningRate: cfg.LearningRate}); err != nil {
		return nil, err
	}
	if err := whole.Initialize(cfg.Init, cfg.Seed); err != nil {
		return nil, err
	}
	n := &Network{cfg: cfg}
	first, in := 0, cfg.InputDim
	for i, s := range segments {
		layers := cfg.Layers[first : first+s.Layers]
		seg, err := nn.Sequential(in, layers...)
		if err != nil {
			return nil, err
		}
		if err := seg.Compile(cfg.Loss, nn.SGD{LearningRate: cfg.LearningRate}); err != nil {
			return nil, err
		}
		for j := range layers {
			w, b, err := whole.LayerWeights(first + j)
			if err != nil {
				return nil, err
			}
			if err := seg.SetLayerWeights(j, w, b); err != nil {
				return nil, err
			}
		}
		mp, err := SendModel(seg, s.Worker)
		if err != nil {
			return nil, fmt.Errorf("split: sending segment %d to %s: %w", i, s.Worker.ID(), err)
		}
		n.segs = append(n.segs, mp)
		first += s.Layers
		in = layers[len(layers)-1].Units
	}
	return n, nil
}

// Segments returns pointers to the segments, in order.
func (n *Network) Segments() []*ModelPointer { return append([]*ModelPointer(nil), n.segs...) }

// Weights fetches every segment's weights and returns them concatenated, in
// the flat layout nn uses for the whole model.
func (n *Network) Weights() ([]float32, error) {
	var all []float32
	for i, s := range n.segs {
		w, err := s.Weights()
		if err != nil {
			return nil, fmt.Errorf("split: segment %d: %w", i, err)
		}
		all = append(all, w...)
	}
	return all, nil
}

// CutStats counts what crossed one cut during an epoch: activations forward
// and gradients backward, one message each per batch, and their tensor
// bytes.
type CutStats struct {
	ForwardMessages, BackwardMessages int
	ForwardBytes, BackwardBytes       int64
}

// EpochResult reports one training epoch.
type EpochResult struct {
	Epoch    int        // 0-based
	Train    nn.Metrics // training loss and accuracy averaged over the epoch's batches (before each update)
	Cuts     []CutStats // one per cut, cut i being between segments i and i+1
	Duration time.Duration
}

// Progress is reported after every batch.
type Progress struct {
	Epoch, Epochs  int
	Batch, Batches int
	Train          nn.Metrics // running average over the epoch so far
}

// FitOptions configure Fit.
type FitOptions struct {
	Epochs    int
	BatchSize int
	Shuffle   bool   // reshuffle the rows before every epoch
	Seed      uint64 // seed of the shuffling
	// Progress, if set, is called after every batch.
	Progress func(Progress)
	// OnEpoch, if set, is called after every epoch.
	OnEpoch func(EpochResult)
}

// Fit trains the network on len(labels) rows of x (InputDim features each,
// row-major), as the original notebook's loop does but with the backward
// pass through every cut. It returns each epoch's result; on an error (for
// instance a worker that stopped answering) it returns the epochs completed
// and the error, and the segments keep their current weights.
func (n *Network) Fit(x []float32, labels []int32, opt FitOptions) ([]EpochResult, error) {
	d := n.cfg.InputDim
	if opt.Epochs <= 0 || opt.BatchSize <= 0 {
		return nil, fmt.Errorf("split: Fit needs positive epochs and batch size, got %d and %d", opt.Epochs, opt.BatchSize)
	}
	if len(labels) == 0 || len(x) != len(labels)*d {
		return nil, fmt.Errorf("split: %d input values for %d labels, want %d features per row", len(x), len(labels), d)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x510e527fade682d1))
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	batches := (len(labels) + opt.BatchSize - 1) / opt.BatchSize
	var history []EpochResult
	for epoch := range opt.Epochs {
		start := time.Now()
		if opt.Shuffle {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		res := EpochResult{Epoch: epoch, Cuts: make([]CutStats, len(n.segs)-1)}
		for b := range batches {
			rows := order[b*opt.BatchSize : min((b+1)*opt.BatchSize, len(order))]
			bx := make([]float32, 0, len(rows)*d)
			by := make([]int32, 0, len(rows))
			for _, r := range rows {
				bx = append(bx, x[r*d:(r+1)*d]...)
				by = append(by, labels[r])
			}
			mt, err := n.step(bx, by, res.Cuts)
			if err != nil {
				return history, fmt.Errorf("split: epoch %d, batch %d: %w", epoch, b, err)
			}
			res.Train = addMetrics(res.Train, mt)
			if opt.Progress != nil {
				opt.Progress(Progress{Epoch: epoch, Epochs: opt.Epochs, Batch: b + 1, Batches: batches, Train: res.Train})
			}
		}
		res.Duration = time.Since(start)
		history = append(history, res)
		if opt.OnEpoch != nil {
			opt.OnEpoch(res)
		}
	}
	return history, nil
}

func addMetrics(a, b nn.Metrics) nn.Metrics {
	n := a.Count + b.Count
	if n == 0 {
		return a
	}
	return nn.Metrics{
		Loss:     (a.Loss*float64(a.Count) + b.Loss*float64(b.Count)) / float64(n),
		Accuracy: (a.Accuracy*float64(a.Count) + b.Accuracy*float64(b.Count)) / float64(n),
		Count:    n,
	}
}

func tensorBytes(t *tensors.Tensor) int64 { return t.Shape().ByteSize() }

// step trains on one batch: forward through every segment, the loss and its
// gradient on the last, and the gradient back through every cut. Each
// segment's work is one round trip to its worker.
func (n *Network) step(x []float32, labels []int32, cuts []CutStats) (nn.Metrics, error) {
	rows := len(labels)
	act := tensors.FromFlatDataAndDimensions(x, rows, n.cfg.InputDim)
	last := len(n.segs) - 1
	for i, s := range n.segs[:last] {
		in := newID()
		res, err := s.worker.exec([]command{
			{Op: opPut, Out: in, Tensor: act},
			{Op: opForward, A: s.id, B: in, Delete: true},
		})
		if err != nil {
			return nn.Metrics{}, fmt.Errorf("forward on segment %d: %w", i, err)
		}
		act = res[1].Tensor
		cuts[i].ForwardMessages++
		cuts[i].ForwardBytes += tensorBytes(act)
	}
	top := n.segs[last]
	in, lab := newID(), newID()
	res, err := top.worker.exec([]command{
		{Op: opPut, Out: in, Tensor: act},
		{Op: opPut, Out: lab, Tensor: tensors.FromFlatDataAndDimensions(labels, rows)},
		{Op: opTrainTop, A: top.id, B: in, C: lab, Delete: true},
	})
	if err != nil {
		return nn.Metrics{}, fmt.Errorf("loss on segment %d: %w", last, err)
	}
	grad, mt := res[2].Tensor, *res[2].Metrics
	for i := last - 1; i >= 0; i-- {
		cuts[i].BackwardMessages++
		cuts[i].BackwardBytes += tensorBytes(grad)
		s, g := n.segs[i], newID()
		res, err := s.worker.exec([]command{
			{Op: opPut, Out: g, Tensor: grad},
			{Op: opBackwardStep, A: s.id, B: g, Delete: true, Grad: i > 0},
		})
		if err != nil {
			return nn.Metrics{}, fmt.Errorf("backward on segment %d: %w", i, err)
		}
		grad = res[1].Tensor
	}
	return mt, nil
}

// Evaluate runs the network on len(labels) rows of x in batches and returns
// the mean loss and the accuracy; outputs come back to the caller, who holds
// the labels.
func (n *Network) Evaluate(x []float32, labels []int32, batchSize int) (nn.Metrics, error) {
	d := n.cfg.InputDim
	if batchSize <= 0 {
		return nn.Metrics{}, fmt.Errorf("split: batch size must be positive, got %d", batchSize)
	}
	if len(labels) == 0 || len(x) != len(labels)*d {
		return nn.Metrics{}, fmt.Errorf("split: %d input values for %d labels, want %d features per row", len(x), len(labels), d)
	}
	classes := n.cfg.Layers[len(n.cfg.Layers)-1].Units
	var lossSum float64
	correct := 0
	for start := 0; start < len(labels); start += batchSize {
		end := min(start+batchSize, len(labels))
		act := tensors.FromFlatDataAndDimensions(x[start*d:end*d], end-start, d)
		for i, s := range n.segs {
			in := newID()
			res, err := s.worker.exec([]command{
				{Op: opPut, Out: in, Tensor: act},
				{Op: opPredict, A: s.id, B: in, Delete: true},
			})
			if err != nil {
				return nn.Metrics{}, fmt.Errorf("split: evaluating segment %d: %w", i, err)
			}
			act = res[1].Tensor
		}
		out, err := tensors.CopyFlatData[float32](act)
		if err != nil {
			return nn.Metrics{}, err
		}
		for r, y := range labels[start:end] {
			row := out[r*classes : (r+1)*classes]
			if y < 0 || int(y) >= classes {
				return nn.Metrics{}, fmt.Errorf("split: label %d at row %d is outside [0, %d)", y, start+r, classes)
			}
			best := 0
			for c := range row {
				if row[c] > row[best] {
					best = c
				}
			}
			if best == int(y) {
				correct++
			}
			if n.cfg.Loss == nn.NLL {
				lossSum -= float64(row[y])
			} else {
				lossSum -= math.Log(min(max(float64(row[y]), 1e-7), 1-1e-7))
			}
		}
	}
	total := float64(len(labels))
	return nn.Metrics{Loss: lossSum / total, Accuracy: float64(correct) / total, Count: len(labels)}, nil
}
