package split

import (
	"fmt"

	"github.com/ppml-go/ppml/pkg/nn"
)

// TrainStep is one step of vanilla split learning across one cut, the step
// that Network.Fit pipelines, written with pointers as in PySyft: the bottom
// segment runs forward on the batch x points to (on the data owner's
// worker), the activation moves to the top segment's worker, which computes
// the loss on the labels there, steps its optimizer and returns the gradient
// at its input; that gradient moves back, and the bottom segment
// back-propagates it and steps (the part the original notebook left commented
// out, so that its bottom layers never trained). It returns the batch's
// metrics (loss and accuracy before the step). The course notebook's
// split-learning exercise asks students to write it.
func TrainStep(bottom, top *ModelPointer, x, labels *Pointer) (nn.Metrics, error) {
	a, err := bottom.Forward(x)
	if err != nil {
		return nn.Metrics{}, fmt.Errorf("split: bottom forward: %w", err)
	}
	sent, err := a.Move(top.Location())
	if err != nil {
		return nn.Metrics{}, fmt.Errorf("split: sending the activation: %w", err)
	}
	grad, metrics, err := top.TrainTop(sent, labels)
	if err != nil {
		return nn.Metrics{}, fmt.Errorf("split: top step: %w", err)
	}
	back, err := grad.Move(bottom.Location())
	if err != nil {
		return nn.Metrics{}, fmt.Errorf("split: sending the cut gradient back: %w", err)
	}
	if _, err := bottom.BackwardStep(back, false); err != nil {
		return nn.Metrics{}, fmt.Errorf("split: bottom backward: %w", err)
	}
	return metrics, nil
}
