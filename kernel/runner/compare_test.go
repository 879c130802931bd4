package runner

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// nbclientPython returns a Python with nbclient and nbconvert (Debian's
// python3-nbclient and python3-nbconvert), or skips the test.
func nbclientPython(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import nbclient, nbconvert").Run() == nil {
			return py
		}
	}
	t.Skip("nbclient not installed: apt-get install -y python3-nbclient python3-nbconvert (CI installs them)")
	return ""
}

// requireIPyKernel skips unless the python3 kernelspec and ipykernel are
// there (Debian's python3-ipykernel).
func requireIPyKernel(t testing.TB, py string) {
	t.Helper()
	if _, err := FindSpec("python3"); err != nil {
		t.Skip("no python3 kernelspec: apt-get install -y python3-ipykernel")
	}
	if exec.Command(py, "-c", "import ipykernel").Run() != nil {
		t.Skip("ipykernel not installed: apt-get install -y python3-ipykernel")
	}
}

// nbconvertExecute runs the notebook at in through nbconvert --execute and
// returns the executed notebook.
func nbconvertExecute(t testing.TB, py, in string, extra ...string) *nbformat.Notebook {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-m", "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
		"--output-dir", dir, "--output", "out.ipynb"}, extra...)
	cmd := exec.Command(py, append(args, in)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nbconvert --execute: %v\n%s", err, stderr.Bytes())
	}
	nb, err := nbformat.ReadFile(filepath.Join(dir, "out.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// normalize drops what legitimately differs between two runs (nbclient's
// timing metadata, GoNB's temporary directory) and merges consecutive streams of the same name, which
// this nbclient keeps apart when they come in separate messages.
func normalize(t *testing.T, nb *nbformat.Notebook) string {
	t.Helper()
	for _, c := range nb.Cells {
		c.DeleteMetadataField("execution")
		var outs []*nbformat.Output
		for _, o := range c.Outputs {
			if n := len(outs); n > 0 && o.OutputType == nbformat.Stream && outs[n-1].OutputType == nbformat.Stream && outs[n-1].Name == o.Name {
				outs[n-1].Text += o.Text
				continue
			}
			outs = append(outs, o)
		}
		c.Outputs = outs
	}
	b, err := nbformat.Marshal(nb)
	if err != nil {
		t.Fatal(err)
	}
	s := gonbTempDir.ReplaceAllString(string(b), "/tmp/gonb_X")
	return gonbCellMark.ReplaceAllString(s, "\\t")
}

// gonbCellMark matches the "[[ Cell [N] Line M ]]" mark GoNB puts on a stack
// trace's line when it maps it to a cell in time, which it does not always.
var gonbCellMark = regexp.MustCompile(`\\t \\u001b\[7m\[\[ Cell \[\d+\] Line \d+ \]\]\\u001b\[0m `)

// gonbTempDir matches GoNB's per-kernel temporary directory, which panics'
// stack traces name.
var gonbTempDir = regexp.MustCompile(`/tmp/gonb_[0-9a-f]+`)

// TestSameOutputsAsNbclient executes the same notebooks with RunNotebook and
// with Debian's nbclient (through nbconvert --execute) and compares the
// resulting notebooks: the test kernel, and ipykernel and the course's Go
// kernel (kernelspec ppml-go) when installed.
func TestSameOutputsAsNbclient(t *testing.T) {
	py := nbclientPython(t)
	for _, tc := range []struct{ name, file string }{
		{"testkernel", "testkernel.ipynb"},
		{"ipykernel", "python.ipynb"},
		{"ppml-go", "go.ipynb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "ipykernel":
				requireIPyKernel(t, py)
			case "ppml-go":
				if _, err := FindSpec("ppml-go"); err != nil {
					t.Skip("Go kernel not installed (scripts/install-kernel.sh; JUPYTER_PATH for --prefix)")
				}
			}
			in := filepath.Join("testdata", tc.file)
			want := nbconvertExecute(t, py, in)
			nb, err := nbformat.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := RunNotebook(context.Background(), nb, RunOptions{Timeout: time.Minute, AllowErrors: true})
			if err != nil {
				t.Fatal(err)
			}
			if f := rep.Failed(); len(f) != 1 || f[0].Status != StatusError {
				t.Errorf("failed cells %+v, want the one error cell", f)
			}
			got, wantS := normalize(t, nb), normalize(t, want)
			if got != wantS {
				t.Errorf("runner and nbclient differ:\n%s", lineDiff(got, wantS))
			}
		})
	}
}

func lineDiff(got, want string) string {
	g, w := bytes.Split([]byte(got), []byte("\n")), bytes.Split([]byte(want), []byte("\n"))
	for i := range min(len(g), len(w)) {
		if !bytes.Equal(g[i], w[i]) {
			lo := max(0, i-3)
			return "runner:\n" + string(bytes.Join(g[lo:min(len(g), i+4)], []byte("\n"))) +
				"\nnbclient:\n" + string(bytes.Join(w[lo:min(len(w), i+4)], []byte("\n")))
		}
	}
	return "different lengths"
}
