package grade

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// stubExecutor runs a notebook as a kernel would as far as the grader can
// tell: a cell that still has the stub panics with "not implemented yet",
// every other cell runs ok (tests print their completion mark).
type stubExecutor struct{}

func (stubExecutor) Execute(ctx context.Context, nb *nbformat.Notebook, stubs map[int]string) ([]CellResult, error) {
	res, _ := okExecutor{}.Execute(ctx, nb, stubs)
	stubbed := false
	for i, c := range nb.Cells {
		if strings.Contains(c.Source, DefaultStub) {
			stubbed = true
		}
		if isTestCell(c) && stubbed {
			res[i] = CellResult{Status: runner.StatusError, EName: "panic", EValue: NotImplemented,
				Outputs: []*nbformat.Output{{OutputType: nbformat.Error, EName: "panic", EValue: NotImplemented}}}
			stubbed = false
		} else if isTestCell(c) {
			stubbed = false
		}
	}
	return res, nil
}

// failingExecutor cannot run anything, as a kernel that does not start.
type failingExecutor struct{}

func (failingExecutor) Execute(context.Context, *nbformat.Notebook, map[int]string) ([]CellResult, error) {
	return nil, errors.New("start kernel: dial shell: connection reset by peer")
}

func testGrader(t *testing.T, ex Executor) *Grader {
	t.Helper()
	src, err := nbformat.ReadFile("testdata/course.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGrader(src, ex)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func readTestdata(t *testing.T, student string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/submissions", student+".ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func makeZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, path, buf.Bytes())
}

// gradeAll grades the submissions at path, -j 2, and writes their gradebook
// into a new directory, out.
func gradeAll(t *testing.T, g *Grader, path string, opts FindOptions) (grades []*Grade, out string) {
	t.Helper()
	subs, err := FindSubmissions(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	grades, err = g.GradeAll(context.Background(), subs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	out = t.TempDir()
	if err := WriteGradebook(out, grades); err != nil {
		t.Fatal(err)
	}
	return grades, out
}

// gradebookOf grades the submissions at path and returns its gradebook.csv.
func gradebookOf(t *testing.T, g *Grader, path string, opts FindOptions) string {
	t.Helper()
	_, out := gradeAll(t, g, path, opts)
	data, err := os.ReadFile(filepath.Join(out, "gradebook.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestLayoutsGradeAlike grades one class handed in three ways: the plain
// layout, nbgrader's submitted/ tree and a learning platform's zip export:
// the gradebooks are the same.
func TestLayoutsGradeAlike(t *testing.T) {
	g := testGrader(t, stubExecutor{})
	students := []string{"good", "partial", "blank"}
	tmp := t.TempDir()
	plain, course, export := filepath.Join(tmp, "plain"), filepath.Join(tmp, "course"), filepath.Join(tmp, "export.zip")
	zipped := map[string][]byte{}
	for i, s := range students {
		data := readTestdata(t, s)
		if s == "partial" {
			write(t, filepath.Join(plain, s, "ps1.ipynb"), data)
		} else {
			write(t, filepath.Join(plain, s+".ipynb"), data)
		}
		write(t, filepath.Join(course, "submitted", s, "ps1", "ps1.ipynb"), data)
		zipped[s+"_"+string(rune('1'+i))+"234_assignsubmission_file_ps1.ipynb"] = data
	}
	makeZip(t, export, zipped)
	want := gradebookOf(t, g, plain, FindOptions{})
	if !strings.Contains(want, "good,5,5,graded") || !strings.Contains(want, "partial,2,5,graded") || !strings.Contains(want, "blank,0,5,graded") {
		t.Fatalf("plain layout: gradebook\n%s", want)
	}
	for name, path := range map[string]string{"nbgrader course": course, "nbgrader submitted/": filepath.Join(course, "submitted"), "zip export": export} {
		if got := gradebookOf(t, g, path, FindOptions{}); got != want {
			t.Errorf("%s: gradebook\n%s\nwant (plain layout)\n%s", name, got, want)
		}
	}
	// The student id from another field of the zip's names.
	subs, err := FindSubmissions(export, FindOptions{IDPattern: DefaultIDPattern})
	if err != nil || len(subs) != 3 || subs[0].Student != "blank" {
		t.Errorf("zip export: %+v, %v", subs, err)
	}
}

// TestRefusals checks that what must not be graded is refused unread, with
// a message, and that the rest of the class is graded.
func TestRefusals(t *testing.T) {
	g := testGrader(t, stubExecutor{})
	dir := t.TempDir()
	good := readTestdata(t, "good")
	write(t, filepath.Join(dir, "ok.ipynb"), good)
	src, _ := filepath.Abs("testdata/course.ipynb")
	os.Symlink(src, filepath.Join(dir, "link.ipynb"))                         // the source notebook: full marks if read
	os.Symlink(filepath.Join(dir, "ok.ipynb"), filepath.Join(dir, "linkdir")) // a directory entry that is a link
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.ipynb"), 0o644); err != nil {
		t.Fatal(err) // reading it would block the grader
	}
	big, err := os.Create(filepath.Join(dir, "big.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	big.Truncate(100 << 20) // 100 MB, sparse
	big.Close()
	write(t, filepath.Join(dir, "two", "a.ipynb"), good)
	write(t, filepath.Join(dir, "two", "b.ipynb"), good)
	os.MkdirAll(filepath.Join(dir, "none"), 0o755)
	write(t, filepath.Join(dir, "twice.ipynb"), good)
	write(t, filepath.Join(dir, "twice", "a.ipynb"), good)

	var bomb bytes.Buffer // 100 MB of zeros, about 100 KB zipped
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("bomb_9_file.ipynb")
	w.Write(make([]byte, 100<<20))
	zw.Close()
	export := filepath.Join(t.TempDir(), "export.zip")
	var buf bytes.Buffer
	zw = zip.NewWriter(&buf)
	for name, data := range map[string][]byte{
		"ann_1_file_a.ipynb": good, "../evil_2_file.ipynb": good, "/abs_3_file.ipynb": good,
		"dup_4_file_a.ipynb": good, "dup_4_file_b.ipynb": good,
	} {
		w, _ := zw.Create(name)
		w.Write(data)
	}
	r, _ := zip.NewReader(bytes.NewReader(bomb.Bytes()), int64(bomb.Len()))
	zw.Copy(r.File[0])
	zw.Close()
	write(t, export, buf.Bytes())

	want := map[string]string{ // student -> refusal ("" for graded)
		"ok": "", "link": "symbolic link", "linkdir": "symbolic link", "fifo": "FIFO", "big": "over the 20 MiB limit",
		"two": "2 notebooks", "twice": "2 submissions", "none": "no .ipynb", "ann": "", "evil": `".."`, "abs": `".."`, "dup": "2 notebooks", "bomb": "over the 20 MiB limit",
	}
	var subs []Submission
	for _, p := range []string{dir, export} {
		s, err := FindSubmissions(p, FindOptions{})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s...)
	}
	grades, err := g.GradeAll(context.Background(), subs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, gr := range grades {
		seen[gr.Student] = true
		why, ok := want[gr.Student]
		switch {
		case !ok:
			t.Errorf("unexpected submission %s: %+v", gr.Student, gr)
		case why == "" && (gr.NotGraded != "" || gr.Score != 5):
			t.Errorf("%s: %g, %q; want graded 5", gr.Student, gr.Score, gr.NotGraded)
		case why != "" && (!gr.Refused || !strings.Contains(gr.NotGraded, why) || gr.Tests[0].Status != NotGraded):
			t.Errorf("%s: refused=%v %q, want refused saying %q", gr.Student, gr.Refused, gr.NotGraded, why)
		}
	}
	for s := range want {
		if !seen[s] {
			t.Errorf("%s: not listed", s)
		}
	}
}

// TestGraderFailureIsNotAZero checks that when the grader cannot run the
// notebooks, no score is recorded: every submission is not-graded with the
// reason, and the gradebook's scores are empty (null in JSON).
func TestGraderFailureIsNotAZero(t *testing.T) {
	for name, ex := range map[string]Executor{
		"kernel does not start": failingExecutor{},
		"disk full":             fixedExecutor{"// Helpers the tests use.": {Status: runner.StatusError, EValue: `failed to run "go build": write /tmp/x: no space left on device`}},
		"setup cell fails":      fixedExecutor{"// Helpers the tests use.": {Status: runner.StatusError, EValue: `failed to run "go build": cannot find module providing package`}},
	} {
		g := testGrader(t, ex)
		dir := t.TempDir()
		for _, s := range []string{"good", "blank"} {
			write(t, filepath.Join(dir, s+".ipynb"), readTestdata(t, s))
		}
		grades, out := gradeAll(t, g, dir, FindOptions{})
		for _, gr := range grades {
			if gr.NotGraded == "" || gr.Refused || gr.Status() != "not-graded" {
				t.Errorf("%s: %s: graded %g (%q), want not-graded", name, gr.Student, gr.Score, gr.NotGraded)
			}
		}
		csv, _ := os.ReadFile(filepath.Join(out, "gradebook.csv"))
		if !strings.Contains(string(csv), "\nblank,,5,not-graded,,,false,") {
			t.Errorf("%s: gradebook.csv\n%s", name, csv)
		}
		js, _ := os.ReadFile(filepath.Join(out, "gradebook.json"))
		var raw []map[string]any
		json.Unmarshal(js, &raw)
		if len(raw) != 2 || raw[0]["score"] != nil || raw[0]["tests"].([]any)[0].(map[string]any)["points"] != nil {
			t.Errorf("%s: gradebook.json records a score: %s", name, js)
		}
		page, _ := os.ReadFile(filepath.Join(out, "feedback", "good.html"))
		if !strings.Contains(string(page), "Not graded yet") || strings.Contains(string(page), "0 / 5") {
			t.Errorf("%s: the feedback page does not say the notebook was not graded, or shows a zero", name)
		}
		if err := g.Check(context.Background()); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
	if err := testGrader(t, stubExecutor{}).Check(context.Background()); err != nil {
		t.Errorf("Check on a working executor: %v", err)
	}
}

// TestResume keeps what was graded from unchanged files and grades again
// what was not graded, is new or changed.
func TestResume(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	for _, s := range []string{"good", "partial", "blank"} {
		write(t, filepath.Join(dir, s+".ipynb"), readTestdata(t, s))
	}
	subs, _ := FindSubmissions(dir, FindOptions{})
	grades, _ := testGrader(t, stubExecutor{}).GradeAll(context.Background(), subs, 1, nil)
	grades[1] = testGrader(t, failingExecutor{}).NotGradedAll(subs[1:2], "the kernel did not start")[0] // good
	if err := WriteGradebook(out, grades); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "partial.ipynb"), readTestdata(t, "good")) // changed since
	write(t, filepath.Join(dir, "new.ipynb"), readTestdata(t, "good"))
	prev, err := ReadGradebook(out)
	if err != nil {
		t.Fatal(err)
	}
	subs, _ = FindSubmissions(dir, FindOptions{})
	keep, todo := Resume(prev, subs)
	var kept, again []string
	for _, g := range keep {
		kept = append(kept, g.Student)
	}
	for _, s := range todo {
		again = append(again, s.Student)
	}
	if strings.Join(kept, " ") != "blank" || strings.Join(again, " ") != "good new partial" {
		t.Errorf("resume keeps %v and grades %v, want [blank] and [good new partial]", kept, again)
	}
}
