package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/shapes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// LayerKind is the kind of a Sequential layer.
type LayerKind uint8

const (
	// DenseLayer is a fully connected layer (the zero value, so that
	// Layer{Units: 10, Activation: ReLU} is a Dense layer).
	DenseLayer LayerKind = iota
	// Conv2DLayer is a 2-D convolution over channels-last images, without
	// padding and with stride 1.
	Conv2DLayer
	// MaxPool2DLayer takes the maximum over non-overlapping square windows.
	MaxPool2DLayer
	// FlattenLayer flattens each example into a vector.
	FlattenLayer
	// ReshapeLayer gives each example the layer's Shape.
	ReshapeLayer
	numLayerKinds
)

// Layer describes one layer of a Sequential model. Use the constructors
// (Dense, Conv2D, MaxPool2D, Flatten, Reshape) rather than the fields.
type Layer struct {
	Kind       LayerKind
	Units      int        // Dense: output units; Conv2D: filters (output channels)
	Activation Activation // Dense and Conv2D
	Size       int        // Conv2D: kernel size; MaxPool2D: window size
	Shape      []int      // Reshape: the shape of one example
}

// Dense is a fully connected layer with the given number of output units and
// activation: out = activation(x·W + b), with W of shape [in, units], built
// of GoMLX's graph.MatMul, graph.Add and the activation.
func Dense(units int, activation Activation) Layer {
	return Layer{Kind: DenseLayer, Units: units, Activation: activation}
}

// Conv2D is a 2-D convolution with the given number of filters and a square
// kernel of the given size, on images shaped [height, width, channels],
// without padding, stride 1, with biases, followed by the activation: what
// GoMLX's layers.Convolution(...).NoPadding() computes, with the same
// variables (conv/weights [size, size, in, filters], conv/biases).
func Conv2D(filters, kernel int, activation Activation) Layer {
	return Layer{Kind: Conv2DLayer, Units: filters, Size: kernel, Activation: activation}
}

// MaxPool2D takes the maximum over non-overlapping size×size windows of
// images shaped [height, width, channels], as graph.MaxPool with window and
// stride size; rows and columns that do not fill a window are dropped.
func MaxPool2D(size int) Layer { return Layer{Kind: MaxPool2DLayer, Size: size} }

// Flatten turns each example into a vector.
func Flatten() Layer { return Layer{Kind: FlattenLayer} }

// Reshape gives each example the given shape, for instance 28, 28, 1 to see
// a flat MNIST row as an image for Conv2D.
func Reshape(dims ...int) Layer { return Layer{Kind: ReshapeLayer, Shape: slices.Clone(dims)} }

// String describes the layer like Keras' summary.
func (l Layer) String() string {
	switch l.Kind {
	case DenseLayer:
		return fmt.Sprintf("Dense(%d, %v)", l.Units, l.Activation)
	case Conv2DLayer:
		return fmt.Sprintf("Conv2D(%d, %dx%d, %v)", l.Units, l.Size, l.Size, l.Activation)
	case MaxPool2DLayer:
		return fmt.Sprintf("MaxPool2D(%d)", l.Size)
	case FlattenLayer:
		return "Flatten()"
	case ReshapeLayer:
		return fmt.Sprintf("Reshape%v", l.Shape)
	}
	return fmt.Sprintf("Layer(kind %d)", l.Kind)
}

// hasActivation reports whether the layer applies l.Activation.
func (l Layer) hasActivation() bool { return l.Kind == DenseLayer || l.Kind == Conv2DLayer }

// outputShape checks the layer against the shape of one input example and
// returns the shape of one output example.
func (l Layer) outputShape(in []int) ([]int, error) {
	if l.Kind >= numLayerKinds {
		return nil, fmt.Errorf("unknown layer kind %d", l.Kind)
	}
	if l.hasActivation() && !l.Activation.valid() {
		return nil, fmt.Errorf("%v: unknown activation %v", l, l.Activation)
	}
	switch l.Kind {
	case DenseLayer:
		if l.Units <= 0 {
			return nil, fmt.Errorf("%v has %d units, want a positive number", l, l.Units)
		}
		if len(in) != 1 {
			return nil, fmt.Errorf("%v takes vectors, got examples shaped %v (add Flatten)", l, in)
		}
		return []int{l.Units}, nil
	case Conv2DLayer, MaxPool2DLayer:
		if l.Size <= 0 || (l.Kind == Conv2DLayer && l.Units <= 0) {
			return nil, fmt.Errorf("%v: filters and sizes must be positive", l)
		}
		if len(in) != 3 {
			return nil, fmt.Errorf("%v takes images [height width channels], got examples shaped %v (add Reshape)", l, in)
		}
		if l.Kind == Conv2DLayer {
			h, w := in[0]-l.Size+1, in[1]-l.Size+1
			if h <= 0 || w <= 0 {
				return nil, fmt.Errorf("%v does not fit images shaped %v", l, in)
			}
			return []int{h, w, l.Units}, nil
		}
		h, w := in[0]/l.Size, in[1]/l.Size
		if h <= 0 || w <= 0 {
			return nil, fmt.Errorf("%v does not fit images shaped %v", l, in)
		}
		return []int{h, w, in[2]}, nil
	case FlattenLayer:
		return []int{size(in)}, nil
	case ReshapeLayer:
		if len(l.Shape) == 0 || slices.Min(l.Shape) <= 0 || size(l.Shape) != size(in) {
			return nil, fmt.Errorf("%v does not fit examples shaped %v", l, in)
		}
		return slices.Clone(l.Shape), nil
	}
	return nil, fmt.Errorf("unknown layer kind %d", l.Kind)
}

// size is the number of values of an example of the given shape.
func size(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// gomlxActivation maps an element-wise activation to GoMLX's.
func (a Activation) gomlxActivation() activation.Type {
	switch a {
	case ReLU:
		return activation.TypeRelu
	case Sigmoid:
		return activation.TypeSigmoid
	case Tanh:
		return activation.TypeTanh
	}
	return activation.TypeNone
}

// build adds the layer to the graph under scope, GoMLX's way: variables
// "weights" and "biases" created in the layer's scope.
func (l Layer) build(scope *model.Scope, x *G.Node, act Activation) *G.Node {
	batch := x.Shape().Dimensions[0]
	switch l.Kind {
	case DenseLayer:
		in := x.Shape().Dimensions[1]
		w := scope.VariableWithShape("weights", shapes.Make(x.DType(), in, l.Units)).NodeValue(x.Graph())
		b := scope.VariableWithShape("biases", shapes.Make(x.DType(), l.Units)).NodeValue(x.Graph())
		// The plain product rather than GoMLX's nn.Dense: the backend's
		// fused dense backward pass always computes the input gradient
		// (wasted on the model's input) and runs its products in layouts
		// the gradient cannot choose (residual.go's layoutProduct does).
		y := G.Add(G.MatMul(x, w), G.ExpandAxes(b, 0))
		return activation.Apply(act.gomlxActivation(), y)
	case Conv2DLayer:
		scope = scope.In("conv")
		d := x.Shape().Dimensions
		k := scope.VariableWithShape("weights", shapes.Make(x.DType(), l.Size, l.Size, d[3], l.Units)).NodeValue(x.Graph())
		b := scope.VariableWithShape("biases", shapes.Make(x.DType(), l.Units)).NodeValue(x.Graph())
		return activation.Apply(act.gomlxActivation(), G.Add(conv2D(x, k), G.Reshape(b, 1, 1, 1, l.Units)))
	case MaxPool2DLayer:
		// Non-overlapping windows are a reshape and a reduction, which the
		// pure-Go backend runs much faster than its generic window
		// reduction (graph.MaxPool); the values are the same.
		d := x.Shape().Dimensions
		h, w, k := d[1]/l.Size, d[2]/l.Size, l.Size
		if h*k != d[1] || w*k != d[2] {
			x = G.Slice(x, G.AxisRange(), G.AxisRange(0, h*k), G.AxisRange(0, w*k))
		}
		return G.ReduceMax(G.Reshape(x, batch, h, k, w, k, d[3]), 2, 4)
	case FlattenLayer:
		return G.Reshape(x, batch, size(x.Shape().Dimensions[1:]))
	case ReshapeLayer:
		return G.Reshape(x, append([]int{batch}, l.Shape...)...)
	}
	panic(fmt.Sprintf("nn: unknown layer kind %d", l.Kind))
}

// conv2D is graph.Convolve(x, kernel).NoPadding() for channels-last images
// x [batch, h, w, in] and a kernel [k, k, in, out], written as a matrix
// product of image patches (im2col): the pure-Go backend's matrix product
// is many times faster than its generic convolution, and the gradient
// follows from the slices and the product.
func conv2D(x, kernel *G.Node) *G.Node {
	d, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	k := kd[0]
	h, w := d[1]-k+1, d[2]-k+1
	patches := make([]*G.Node, 0, k*k)
	for i := range k {
		for j := range k {
			patches = append(patches, G.Slice(x, G.AxisRange(), G.AxisRange(i, i+h), G.AxisRange(j, j+w)))
		}
	}
	cols := G.Reshape(G.Concatenate(patches, -1), d[0]*h*w, k*k*d[3])
	return G.Reshape(G.MatMul(cols, G.Reshape(kernel, k*k*d[3], kd[3])), d[0], h, w, kd[3])
}

// sequentialFunc is the GoMLX model function of a stack of layers: each
// layer in its own scope "layer_<i>". A normalising activation of the last
// layer is left to the model's head (the function returns the logits).
func sequentialFunc(ls []Layer) Func {
	return func(scope *model.Scope, x *G.Node) *G.Node {
		for i, l := range ls {
			act := l.Activation
			if act.normalizes() {
				act = Linear
			}
			x = l.build(scope.In("layer_%d", i), x, act)
		}
		return x
	}
}

// describeLayers joins the layers' descriptions.
func describeLayers(ls []Layer) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, " -> %v", l)
	}
	return b.String()
}

// MNISTCNN returns the layers of a small convolutional network for 28×28
// grey images given as 784 features: a 3×3 convolution with 8 filters and a
// 3×3 convolution with 16 filters (ReLU), each followed by 2×2 max pooling,
// and a dense head of the given classes and activation (Softmax for
// SparseCategoricalCrossentropy, LogSoftmax for NLL). The Flatten and
// Reshape between the two convolution blocks change nothing but let split
// learning cut the model there as well as before the head: the first 4
// layers are the first block, the first 8 the whole convolutional part.
func MNISTCNN(classes int, head Activation) []Layer {
	return []Layer{
		Reshape(28, 28, 1), Conv2D(8, 3, ReLU), MaxPool2D(2), Flatten(),
		Reshape(13, 13, 8), Conv2D(16, 3, ReLU), MaxPool2D(2), Flatten(),
		Dense(classes, head),
	}
}
