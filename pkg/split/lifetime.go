package split

import (
	"sync"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/ppml-go/ppml/pkg/nn"
)

// lifetimes is a worker's bookkeeping of the tensors it owns (decoded from
// the wire, or gradients it computed): they go back to the backend's
// buffer pool once no object and no model needs them, since no one else
// refers to them. A model keeps its forward input and output until its
// backward step. Freed tensors that the backend does not pool (those that
// tensors decoded from the wire are copied into) are kept by shape, for
// reuse. It is safe for concurrent use.
type lifetimes struct {
	mu      sync.Mutex
	owned   map[*tensors.Tensor]bool
	outputs map[*tensors.Tensor]*nn.Model   // the output of each model's last Forward
	kept    map[*nn.Model][]*tensors.Tensor // owned tensors to free after the model's next step
	spare   map[string][]*tensors.Tensor
}

// own records that the worker may free t once nothing needs it.
func (w *lifetimes) own(t *tensors.Tensor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.owned == nil {
		w.owned = map[*tensors.Tensor]bool{}
	}
	w.owned[t] = true
}

// release frees t if the worker owns it and no model keeps it; the caller
// has removed it from the store.
func (w *lifetimes) release(t *tensors.Tensor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked(t)
}

func (w *lifetimes) releaseLocked(t *tensors.Tensor) {
	if !w.owned[t] {
		return
	}
	if m, ok := w.outputs[t]; ok {
		w.kept[m] = append(w.kept[m], t) // freed after m's next step
		return
	}
	delete(w.owned, t)
	if t.IsShared() {
		key := t.Shape().String()
		if w.spare == nil {
			w.spare = map[string][]*tensors.Tensor{}
		}
		if len(w.spare[key]) < maxSpare {
			w.spare[key] = append(w.spare[key], t)
			return
		}
	}
	t.FinalizeAll()
}

// maxSpare bounds the freed tensors of one shape a worker keeps for reuse.
const maxSpare = 4

// reuse returns a freed tensor of the given shape, or nil: decoding copies
// into it.
func (w *lifetimes) reuse(s shapes.Shape) *tensors.Tensor {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := s.String()
	spare := w.spare[key]
	if len(spare) == 0 {
		return nil
	}
	t := spare[len(spare)-1]
	w.spare[key] = spare[:len(spare)-1]
	return t
}

// keep records what a model's Forward keeps for its backward step: its
// input x (freed after the step if consumed) and its output.
func (w *lifetimes) keep(m *nn.Model, x, out *tensors.Tensor, consumed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.outputs == nil {
		w.outputs, w.kept = map[*tensors.Tensor]*nn.Model{}, map[*nn.Model][]*tensors.Tensor{}
	}
	w.outputs[out] = m
	if consumed && w.owned[x] {
		w.kept[m] = append(w.kept[m], x)
	}
}

// stepped frees what model m kept for a backward step that is done (or
// replaced by a new Forward).
func (w *lifetimes) stepped(m *nn.Model) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, owner := range w.outputs {
		if owner == m {
			delete(w.outputs, t)
		}
	}
	kept := w.kept[m]
	delete(w.kept, m)
	for _, t := range kept {
		w.releaseLocked(t)
	}
}

// sent is called when t, deleted from the store, went to another process
// as a copy: the worker owns t now.
func (w *lifetimes) sent(t *tensors.Tensor) {
	w.own(t)
	w.release(t)
}
