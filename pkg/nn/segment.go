package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// Forward runs the model on a batch x ([rows, input shape...] float32) and
// returns its output ([rows, OutputDim]). It keeps x and the forward values
// the gradient needs (the residuals) for the next Backward or BackwardStep,
// replacing what an earlier Forward kept; x must not be freed until then.
// The returned tensor belongs to the caller.
func (m *Model) Forward(x *tensors.Tensor) (*tensors.Tensor, error) {
	if _, err := checkInput(x, m.inShape); err != nil {
		return nil, err
	}
	m.dropSaved()
	if m.recompute {
		out, err := m.PredictTensor(x)
		if err != nil {
			return nil, err
		}
		m.saved, m.savedBatch = x, x.Shape().Dimensions[0]
		return out, nil
	}
	kind := execForwardSavingNoDx
	if m.wantDx {
		kind = execForwardSaving
	}
	out, err := m.run(kind, x)
	if err != nil {
		return nil, err
	}
	m.saved, m.savedBatch = x, x.Shape().Dimensions[0]
	m.residuals, m.residualsDx = out[1:], m.wantDx
	return out[0], nil
}

// backwardKind chooses the executable of a backward pass: from the
// residuals of the last Forward when they serve (the gradient they planned
// includes the input gradient if that is wanted), else recomputing the
// forward pass. It says whether the executable returns the input gradient.
func (m *Model) backwardKind(needInputGrad, step bool) (kind execKind, withDx bool) {
	m.wantDx = needInputGrad
	switch {
	case m.residuals != nil && (m.residualsDx || !needInputGrad):
		withDx = m.residualsDx
		kind = map[[2]bool]execKind{
			{true, false}: execBackwardSaved, {false, false}: execBackwardSavedNoDx,
			{true, true}: execBackwardStepSaved, {false, true}: execBackwardStepSavedNoDx,
		}[[2]bool{withDx, step}]
	default:
		withDx = needInputGrad
		kind = map[[2]bool]execKind{
			{true, false}: execBackward, {false, false}: execBackwardNoDx,
			{true, true}: execBackwardStep, {false, true}: execBackwardStepNoDx,
		}[[2]bool{withDx, step}]
	}
	return kind, withDx
}

// runBackward runs a backward executable on the last Forward: args follow
// x and gradOut (the learning rate of a step). If cloning the planned
// gradient fails, the model recomputes forward passes from then on.
func (m *Model) runBackward(gradOut *tensors.Tensor, needInputGrad, step bool, args ...any) (dx *tensors.Tensor, out []*tensors.Tensor, err error) {
	kind, withDx := m.backwardKind(needInputGrad, step)
	in := append([]any{m.saved, gradOut}, args...)
	saved := kind >= execBackwardSaved
	if saved {
		donated, err := donate(m.residuals)
		if err != nil {
			return nil, nil, err
		}
		m.residuals = nil
		in = append(in, donated...)
	}
	out, err = m.run(kind, in...)
	if err != nil && saved {
		m.recompute = true
		kind, withDx = m.backwardKind(needInputGrad, step)
		out, err = m.run(kind, append([]any{m.saved, gradOut}, args...)...)
	}
	m.dropSaved()
	if err != nil {
		return nil, nil, err
	}
	if withDx {
		dx, out = out[0], out[1:]
		if !needInputGrad {
			finalize(dx)
			dx = nil
		}
	}
	return dx, out, nil
}

// PredictTensor is Forward without keeping anything for a backward pass:
// it returns the outputs for a batch x ([rows, input shape...] float32).
func (m *Model) PredictTensor(x *tensors.Tensor) (*tensors.Tensor, error) {
	if _, err := checkInput(x, m.inShape); err != nil {
		return nil, err
	}
	out, err := m.run(execPredict, x)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// dropSaved forgets what Forward kept: the input, which the caller owns,
// and the residuals, which it frees.
func (m *Model) dropSaved() {
	m.saved = nil
	m.savedBatch = 0
	for _, t := range m.residuals {
		finalize(t)
	}
	m.residuals = nil
}

// checkGradOut verifies that gradOut matches the output of the last Forward.
func (m *Model) checkGradOut(gradOut *tensors.Tensor) error {
	if m.saved == nil {
		return ErrNoForward
	}
	n, err := checkInput(gradOut, m.outShape)
	if err != nil {
		return fmt.Errorf("nn: output gradient: %w", err)
	}
	if n != m.savedBatch {
		return fmt.Errorf("nn: output gradient has %d rows, the last Forward had %d", n, m.savedBatch)
	}
	return nil
}

// Backward back-propagates gradOut, the gradient of some scalar with respect
// to the output of the last Forward, through the model: it adds the
// parameters' gradients to those accumulated since the last Step or ZeroGrad
// and, if needInputGrad, returns the gradient with respect to the Forward's
// input (the vector-Jacobian product); otherwise it returns nil. The input
// kept by Forward is released.
func (m *Model) Backward(gradOut *tensors.Tensor, needInputGrad bool) (*tensors.Tensor, error) {
	if err := m.checkGradOut(gradOut); err != nil {
		return nil, err
	}
	dx, out, err := m.runBackward(gradOut, needInputGrad, false)
	if err != nil {
		return nil, err
	}
	if m.grads == nil {
		m.grads = out
		return dx, nil
	}
	sum, err := m.run(execAccumulate, append(asArgs(m.grads), asArgs(out)...)...)
	for _, t := range out {
		finalize(t)
	}
	if err != nil {
		return nil, err
	}
	for _, t := range m.grads {
		finalize(t)
	}
	m.grads = sum
	return dx, nil
}

// Gradients returns the parameter gradients accumulated by Backward, flat in
// the layout of Weights, or nil if there are none.
func (m *Model) Gradients() ([]float32, error) {
	if m.grads == nil {
		return nil, nil
	}
	flat := make([]float32, 0, m.NumParams())
	for i, g := range m.grads {
		v, err := tensors.CopyFlatData[float32](g)
		if err != nil {
			return nil, fmt.Errorf("nn: reading gradient %d: %w", i, err)
		}
		flat = append(flat, v...)
	}
	return flat, nil
}

// ZeroGrad drops the accumulated parameter gradients.
func (m *Model) ZeroGrad() {
	for _, g := range m.grads {
		finalize(g)
	}
	m.grads = nil
}

// Step applies one SGD update with the accumulated gradients and then drops
// them. Without accumulated gradients it does nothing.
func (m *Model) Step() error {
	if m.grads == nil {
		return nil
	}
	if _, err := m.run(execStep, append(asArgs(m.grads), m.lr)...); err != nil {
		return err
	}
	m.ZeroGrad()
	return nil
}

// BackwardStep is ZeroGrad, Backward and Step fused into one executable:
// it back-propagates gradOut through the last Forward, updates the
// parameters with SGD, and returns the gradient with respect to the
// Forward's input if needInputGrad (nil otherwise). Gradients accumulated
// earlier by Backward are dropped.
func (m *Model) BackwardStep(gradOut *tensors.Tensor, needInputGrad bool) (*tensors.Tensor, error) {
	if err := m.checkGradOut(gradOut); err != nil {
		return nil, err
	}
	m.ZeroGrad()
	dx, _, err := m.runBackward(gradOut, needInputGrad, true, m.lr)
	return dx, err
}

// Batch wraps rows*features values (row-major) as a float32 tensor of shape
// [rows, features], the form Forward, TrainTop and BackwardStep take. The data
// is copied.
func Batch(data []float32, rows, features int) (*tensors.Tensor, error) {
	if rows <= 0 || features <= 0 || len(data) != rows*features {
		return nil, fmt.Errorf("nn: %d values do not make %d rows of %d features", len(data), rows, features)
	}
	return tensors.FromFlatDataAndDimensions(data, rows, features), nil
}
