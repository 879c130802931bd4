package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

func TestMain(m *testing.M) {
	reaper.Main() // the guardian of a kernel the runner starts
	if code, ok := sandbox.Main(os.Args[1:]); ok {
		os.Exit(code) // this test binary as the grader's sandbox helper
	}
	os.Exit(m.Run())
}

// class copies three submissions of the grader's test course to a new
// directory.
func class(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []string{"good", "partial", "blank"} {
		data, err := os.ReadFile(filepath.Join("../../pkg/grade/testdata/submissions", s+".ipynb"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, s+".ipynb"), data, 0o644)
	}
	return dir
}

// checkNotGraded checks that autograde failed and recorded every
// submission as not-graded, with reason, and no score.
func checkNotGraded(t *testing.T, err error, stdout, out, reason string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "3 of 3 submissions could not be graded") {
		t.Errorf("autograde: %v, want 3 of 3 submissions not graded\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "not graded (grader failures): 3") || !strings.Contains(stdout, reason) {
		t.Errorf("the summary does not say why nothing was graded (%q):\n%s", reason, stdout)
	}
	f, ferr := os.Open(filepath.Join(out, "gradebook.csv"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	defer f.Close()
	rows, _ := csv.NewReader(f).ReadAll()
	if len(rows) != 4 {
		t.Fatalf("gradebook.csv: %d rows, want 4", len(rows))
	}
	for _, r := range rows[1:] {
		if r[1] != "" || r[3] != "not-graded" || r[4] != "" || r[5] != "" || !strings.Contains(r[len(r)-1], reason) {
			t.Errorf("gradebook.csv row %q: want no score, status not-graded and the reason", r)
		}
	}
}

// TestAutogradeNoKernel runs `ppml autograde` where Jupyter finds no
// kernelspec (JUPYTER_PATH an empty directory, no user kernels): no
// submission can be graded, and none gets a zero.
func TestAutogradeNoKernel(t *testing.T) {
	empty := t.TempDir()
	for _, k := range []string{"JUPYTER_PATH", "JUPYTER_DATA_DIR", "HOME", "XDG_DATA_HOME"} {
		t.Setenv(k, empty)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runAutograde(&stdout, &stderr, []string{"--source", "../../pkg/grade/testdata/course.ipynb", class(t), "-o", out})
	checkNotGraded(t, err, stdout.String(), out, `kernel "ppml-go"`)
	if first, _, _ := strings.Cut(stdout.String(), "\n"); !strings.HasPrefix(first, "autograde: sandbox limits: ") {
		t.Errorf("first line %q does not say how the sandbox limits", first)
	}
}

// TestAutogradeKernelDoesNotStart runs `ppml autograde` on a kernelspec
// whose program does not exist, in the sandbox: the check on the release
// fails, and every submission is not-graded.
func TestAutogradeKernelDoesNotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sandboxes")
	}
	spec := t.TempDir()
	os.WriteFile(filepath.Join(spec, "kernel.json"), []byte(`{"argv": ["/nonexistent/kernel", "{connection_file}"], "display_name": "broken", "language": "go"}`), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runAutograde(&stdout, &stderr, []string{"--source", "../../pkg/grade/testdata/course.ipynb", "--kernelspec", spec, class(t), "-o", out})
	checkNotGraded(t, err, stdout.String(), out, "the grader's check failed")
}
