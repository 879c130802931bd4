package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// Forward runs the model on a batch x ([rows, input shape...] float32) and
// returns its output ([rows, OutputDim]). It keeps x for the next Backward
// or BackwardStep, replacing what an earlier Forward kept; x must not be
// freed until then. The returned tensor belongs to the caller.
func (m *Model) Forward(x *tensors.Tensor) (*tensors.Tensor, error) {
	out, err := m.PredictTensor(x)
	if err != nil {
		return nil, err
	}
	m.saved, m.savedBatch = x, x.Shape().Dimensions[0]
	return out, nil
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

// dropSaved forgets what Forward kept (the input, which the caller owns).
func (m *Model) dropSaved() {
	m.saved = nil
	m.savedBatch = 0
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
	kind := execBackwardNoDx
	if needInputGrad {
		kind = execBackward
	}
	out, err := m.run(kind, m.saved, gradOut)
	m.dropSaved()
	if err != nil {
		return nil, err
	}
	var dx *tensors.Tensor
	if needInputGrad {
		dx, out = out[0], out[1:]
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
	kind := execBackwardStepNoDx
	if needInputGrad {
		kind = execBackwardStep
	}
	out, err := m.run(kind, m.saved, gradOut, m.lr)
	m.dropSaved()
	if err != nil {
		return nil, err
	}
	if needInputGrad {
		return out[0], nil
	}
	return nil, nil
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
