package split

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
	"golang.org/x/sync/errgroup"
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
	cfg       Config
	segs      []*ModelPointer
	workers   []Worker // the distinct workers, in the order of their first segment
	segWorker []int    // index in workers of each segment's worker
	outDims   []int    // the output width of each segment
	timeout   time.Duration
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
	all, err := whole.Weights()
	if err != nil {
		return nil, err
	}
	var placed []ModelSegment
	first, in, off := 0, cfg.InputDim, 0
	for i, s := range segments {
		layers := cfg.Layers[first : first+s.Layers]
		seg, err := nn.Sequential(in, layers...)
		if err != nil {
			return nil, fmt.Errorf("split: segment %d: %w", i, err)
		}
		if err := seg.Compile(cfg.Loss, nn.SGD{LearningRate: cfg.LearningRate}); err != nil {
			return nil, err
		}
		if err := seg.SetWeights(all[off : off+seg.NumParams()]); err != nil {
			return nil, err
		}
		off += seg.NumParams()
		first += s.Layers
		in = seg.OutputDim()
		placed = append(placed, ModelSegment{Model: seg, Worker: s.Worker})
	}
	return NewNetworkOf(placed...)
}

// ModelSegment places a segment of a model, any pkg/nn model, on a worker.
type ModelSegment struct {
	Model  *nn.Model
	Worker Worker
}

// NewNetworkOf builds a network of the given segments, each sent to its
// worker (SendModel: any GoMLX model to an in-process worker, Sequential
// models to others): segment i's output is segment i+1's input, and the
// last segment's loss is the network's. Each segment keeps its own
// optimizer.
func NewNetworkOf(segments ...ModelSegment) (*Network, error) {
	if len(segments) < 2 {
		return nil, fmt.Errorf("split: a network needs at least 2 segments, got %d", len(segments))
	}
	for i, s := range segments {
		if s.Model == nil || s.Worker == nil {
			return nil, fmt.Errorf("split: segment %d needs a model and a worker", i)
		}
		if i > 0 && slices.Compare(s.Model.InputShape(), []int{segments[i-1].Model.OutputDim()}) != 0 {
			return nil, fmt.Errorf("split: segment %d takes inputs shaped %v, segment %d gives %d values",
				i, s.Model.InputShape(), i-1, segments[i-1].Model.OutputDim())
		}
	}
	last := segments[len(segments)-1].Model
	n := &Network{cfg: Config{InputDim: segments[0].Model.InputDim(), Loss: last.Loss(), LearningRate: last.Optimizer().LearningRate}}
	for i, s := range segments {
		mp, err := SendModel(s.Model, s.Worker)
		if err != nil {
			return nil, fmt.Errorf("split: sending segment %d to %s: %w", i, s.Worker.ID(), err)
		}
		n.segs = append(n.segs, mp)
		n.outDims = append(n.outDims, s.Model.OutputDim())
		w := slices.Index(n.workers, s.Worker)
		if w < 0 {
			w = len(n.workers)
			n.workers = append(n.workers, s.Worker)
		}
		n.segWorker = append(n.segWorker, w)
		if r, ok := s.Worker.(*RemoteWorker); ok {
			n.timeout = max(n.timeout, r.timeout)
		}
	}
	if n.timeout == 0 {
		n.timeout = DefaultTimeout
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
	// OnOrder, if set, is called before every epoch with the order in which
	// the epoch takes the rows: batch b is rows[b*BatchSize:(b+1)*BatchSize].
	// The slice must not be modified and is only valid during the call.
	// With it another implementation can replay the same training
	// (bench/split/parity).
	OnOrder func(epoch int, rows []int)
	// OnEpoch, if set, is called after every epoch.
	OnEpoch func(EpochResult)
}

// Fit trains the network on len(labels) rows of x (InputDim features each,
// row-major), as the original notebook's loop does but with the backward
// pass through every cut. It returns each epoch's result; on an error (for
// instance a worker that stopped answering) it returns the epochs completed
// and the error, and the segments keep their current weights.
//
// The data owner only sends commands, each batch's inputs and its labels:
// the activation at a cut goes straight from one segment's worker to the
// next (PySyft's move), and the gradient straight back. Every worker runs
// its part of each step in the order of plain sequential training (forward
// through the segments, the loss, backward), waiting for what the others
// send it, so the results are those of training in one process; the
// commands for the next batches are already queued on the workers while
// they wait. Only deliveries to an in-process worker go through the data
// owner.
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
	var history []EpochResult
	for epoch := range opt.Epochs {
		start := time.Now()
		if opt.Shuffle {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		if opt.OnOrder != nil {
			opt.OnOrder(epoch, order)
		}
		res := EpochResult{Epoch: epoch, Cuts: make([]CutStats, len(n.segs)-1)}
		if err := n.epoch(x, labels, order, opt, &res); err != nil {
			return history, fmt.Errorf("split: epoch %d, %w", epoch, err)
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

// job is one request of a training step for one worker.
type job struct {
	step      int
	req       request
	metrics   int        // index of the command whose result holds the batch metrics, -1 if none
	relays    []relay    // results to deliver to in-process workers
	transfers []transfer // sends across a cut, counted when they are done
}

// relay is an object a remote worker returns for an in-process worker,
// across a cut.
type relay struct {
	result int
	to     Worker
	id     ObjectID
	cut    crossing
}

// transfer is the result of a send (opSend) across a cut.
type transfer struct {
	result int
	cut    crossing
}

// crossing is a cut and the direction an object crosses it in.
type crossing struct {
	cut      int
	backward bool
}

// cutCounter adds up what the transport carried across each cut, from the
// sends' own reports (result.Sent) and the relays' tensors.
type cutCounter struct {
	mu   sync.Mutex
	cuts []CutStats
}

func (c *cutCounter) add(x crossing, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.cuts[x.cut]
	if x.backward {
		s.BackwardMessages++
		s.BackwardBytes += bytes
	} else {
		s.ForwardMessages++
		s.ForwardBytes += bytes
	}
}

// inFlight bounds the requests a RemoteWorker has in flight during Fit:
// enough for the next step's commands to wait on the worker.
const inFlight = 3

// epoch trains on the batches of one epoch: a planner goroutine turns each
// batch into requests for every worker, one driver goroutine per worker
// sends them (a RemoteWorker's several at a time), and this goroutine
// gathers the batch metrics in order. The first error stops them all; the
// remote workers are then closed, which gives up their requests.
func (n *Network) epoch(x []float32, labels []int32, order []int, opt FitOptions, res *EpochResult) error {
	d := n.cfg.InputDim
	batches := (len(labels) + opt.BatchSize - 1) / opt.BatchSize
	g, ctx := errgroup.WithContext(context.Background())
	var closeOnce sync.Once
	failed := func(err error) error {
		if err != nil {
			closeOnce.Do(func() {
				for _, w := range n.workers {
					if r, ok := w.(*RemoteWorker); ok {
						_ = r.Close()
					}
				}
			})
		}
		return err
	}
	metrics := make(chan nn.Metrics, batches)
	counter := &cutCounter{cuts: res.Cuts}
	queues := make([]chan job, len(n.workers))
	for i := range queues {
		queues[i] = make(chan job, 2*inFlight)
	}
	g.Go(func() error { // planner
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		for b := range batches {
			rows := order[b*opt.BatchSize : min((b+1)*opt.BatchSize, len(order))]
			bx := tensors.FromShape(shapes.Make(dtypes.Float32, len(rows), d))
			tensors.MustMutableFlatData(bx, func(flat []float32) {
				for k, r := range rows {
					copy(flat[k*d:(k+1)*d], x[r*d:(r+1)*d])
				}
			})
			by := make([]int32, len(rows))
			for k, r := range rows {
				by[k] = labels[r]
			}
			for w, jobs := range n.plan(b, bx, tensors.FromFlatDataAndDimensions(by, len(rows))) {
				for _, j := range jobs {
					select {
					case queues[w] <- j:
					case <-ctx.Done():
						return nil
					}
				}
			}
		}
		return nil
	})
	for i, w := range n.workers {
		g.Go(func() error { return failed(n.drive(ctx, w, queues[i], metrics, counter)) })
	}
gather:
	for b := 0; b < batches; b++ {
		var mt nn.Metrics
		select {
		case mt = <-metrics:
		case <-ctx.Done():
			break gather
		}
		res.Train = addMetrics(res.Train, mt)
		if opt.Progress != nil {
			opt.Progress(Progress{Epoch: res.Epoch, Epochs: opt.Epochs, Batch: b + 1, Batches: batches, Train: res.Train})
		}
	}
	return g.Wait()
}

// drive runs a worker's jobs in order until the queue closes or ctx is
// done, passing on the batch metrics, the objects for in-process workers
// and what crossed the cuts. A RemoteWorker gets up to inFlight requests at
// a time.
func (n *Network) drive(ctx context.Context, w Worker, queue <-chan job, metrics chan<- nn.Metrics, counter *cutCounter) error {
	finish := func(j job, res []result, err error) error {
		if err != nil {
			return fmt.Errorf("batch %d: %w", j.step, err)
		}
		for _, t := range j.transfers {
			counter.add(t.cut, res[t.result].Sent)
		}
		for _, r := range j.relays {
			t := res[r.result].Tensor
			if _, err := r.to.run(context.Background(), request{cmds: []command{{Op: opDeliver, Out: r.id, Tensor: t}}}); err != nil {
				return fmt.Errorf("batch %d: %w", j.step, err)
			}
			counter.add(r.cut, t.Shape().ByteSize())
		}
		if j.metrics >= 0 {
			metrics <- *res[j.metrics].Metrics
		}
		return nil
	}
	rw, remote := w.(*RemoteWorker)
	if !remote {
		for j := range queue {
			res, err := w.run(ctx, j.req)
			if err := finish(j, res, err); err != nil {
				return err
			}
		}
		return nil
	}
	type pending struct {
		j  job
		cl *call
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	inflight := make(chan pending, inFlight-2)
	g.Go(func() error { // sender
		defer close(inflight)
		for j := range queue {
			cl, err := rw.startCancel(ctx, j.req)
			if err != nil {
				return fmt.Errorf("batch %d: %w", j.step, err)
			}
			select {
			case inflight <- pending{j, cl}:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	g.Go(func() error { // receiver: after an error, it forgets the rest
		var first error
		for p := range inflight {
			if first != nil {
				p.cl.conn.forget(p.cl)
				continue
			}
			res, err := p.cl.wait(ctx)
			if first = finish(p.j, res, err); first != nil {
				cancel() // stops the sender
			}
		}
		return first
	})
	return g.Wait()
}

// plan turns one training step into requests for each worker: forward
// through every segment, the loss and its gradient on the last, and the
// gradient back through every cut. Objects crossing a cut go straight from
// worker to worker; the receiving worker awaits them.
func (n *Network) plan(step int, x, y *tensors.Tensor) [][]job {
	jobs := make([][]job, len(n.workers))
	cur := make([]job, len(n.workers))
	for i := range cur {
		cur[i].metrics = -1
	}
	emit := func(w int, c command) int {
		cur[w].req.cmds = append(cur[w].req.cmds, c)
		return len(cur[w].req.cmds) - 1
	}
	flush := func(w int) {
		if len(cur[w].req.cmds) > 0 {
			j := cur[w]
			j.step, j.req.timeout = step, n.timeout
			jobs[w] = append(jobs[w], j)
		}
		cur[w] = job{metrics: -1}
	}
	transfer := func(from, to int, o ObjectID, cut crossing) ObjectID {
		if from == to {
			return o
		}
		id := newID()
		src, dst := n.workers[from], n.workers[to]
		_, srcRemote := src.(*RemoteWorker)
		r, dstRemote := dst.(*RemoteWorker)
		switch {
		case srcRemote && dstRemote:
			i := emit(from, command{Op: opSend, A: o, Out: id, Peer: r.Addr(), Delete: true})
			cur[from].transfers = append(cur[from].transfers, transfer{result: i, cut: cut})
		case srcRemote:
			i := emit(from, command{Op: opGet, A: o, Delete: true})
			cur[from].relays = append(cur[from].relays, relay{result: i, to: dst, id: id, cut: cut})
			flush(from)
		default:
			i := emit(from, command{Op: opSend, A: o, Out: id, to: dst, Delete: true})
			cur[from].transfers = append(cur[from].transfers, transfer{result: i, cut: cut})
		}
		emit(to, command{Op: opAwait, A: id})
		return id
	}
	sw, last := n.segWorker, len(n.segs)-1
	in := newID()
	emit(sw[0], command{Op: opPut, Out: in, Tensor: x})
	for i, s := range n.segs[:last] {
		out := newID()
		emit(sw[i], command{Op: opForward, A: s.id, B: in, Out: out, Delete: true})
		in = transfer(sw[i], sw[i+1], out, crossing{cut: i})
	}
	lab, g := newID(), newID()
	emit(sw[last], command{Op: opPut, Out: lab, Tensor: y})
	cur[sw[last]].metrics = emit(sw[last], command{Op: opTrainTop, A: n.segs[last].id, B: in, C: lab, Out: g, Delete: true})
	for i := last - 1; i >= 0; i-- {
		g = transfer(sw[i+1], sw[i], g, crossing{cut: i, backward: true})
		var dx ObjectID
		if i > 0 {
			dx = newID()
		}
		emit(sw[i], command{Op: opBackwardStep, A: n.segs[i].id, B: g, Out: dx, Delete: true, Grad: i > 0})
		g = dx
	}
	for w := range cur {
		flush(w)
	}
	return jobs
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
	classes := n.outDims[len(n.outDims)-1]
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
