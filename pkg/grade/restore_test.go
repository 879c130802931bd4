package grade

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// okExecutor reports every code cell as run ok, printing what a completed
// test prints.
type okExecutor struct{}

func (okExecutor) Execute(_ context.Context, nb *nbformat.Notebook, _ map[int]string) ([]CellResult, error) {
	res := make([]CellResult, len(nb.Cells))
	for i, c := range nb.Cells {
		res[i].Status = runner.StatusOK
		if k := strings.Index(c.Source, "defer println(\""); k >= 0 {
			mark := c.Source[k+len("defer println(\""):]
			mark = mark[:strings.Index(mark, "\"")]
			res[i].Outputs = []*nbformat.Output{{OutputType: nbformat.Stream, Name: "stderr", Text: mark + "\n"}}
		}
	}
	return res, nil
}

func TestRestoreFindsTampering(t *testing.T) {
	src, err := nbformat.ReadFile("testdata/course.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGrader(src, okExecutor{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		student  string
		issues   []string // substrings expected among the issues
		tampered bool
		score    float64
	}{
		{"good", nil, false, 5},
		{"edits_tests", []string{"test_sigmoid: test cell edited", "points changed from 2 to 100"}, true, 5},
		{"deletes_tests", []string{"test_sigmoid: test cell deleted"}, true, 5},
		{"reordered", []string{"not in the source's order"}, false, 5},
		{"missing_answer", []string{"sigmoid: answer cell deleted"}, false, 5},
		{"redefines_helper", []string{"redefines near"}, false, 0},
		{"not_json", []string{"not a notebook"}, false, 0},
		{"empty", []string{"empty file"}, false, 0},
	}
	for _, tt := range tests {
		gr, err := g.Grade(context.Background(), Submission{Student: tt.student, Path: "testdata/submissions/" + tt.student + ".ipynb"})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, i := range gr.Issues {
			all = append(all, i.String())
		}
		joined := strings.Join(all, "\n")
		for _, want := range tt.issues {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: issues %q lack %q", tt.student, joined, want)
			}
		}
		if len(tt.issues) == 0 && len(all) > 0 {
			t.Errorf("%s: unexpected issues %q", tt.student, joined)
		}
		if gr.Tampered != tt.tampered || gr.Score != tt.score || gr.MaxScore != 5 {
			t.Errorf("%s: tampered=%v score=%g/%g, want %v %g/5", tt.student, gr.Tampered, gr.Score, gr.MaxScore, tt.tampered, tt.score)
		}
	}
	// The source notebook is never modified by grading.
	again, _ := nbformat.ReadFile("testdata/course.ipynb")
	a, _ := nbformat.Marshal(again)
	b, _ := nbformat.Marshal(g.Source)
	if string(a) != string(b) {
		t.Error("grading modified the source notebook")
	}
}

// TestRestoreSourceAsSubmission restores the course notebook from itself and
// from its release: cells without a role are matched, not run twice, and a
// test cell with its hidden tests (the teacher's own) is not tampering.
func TestRestoreSourceAsSubmission(t *testing.T) {
	src, err := nbformat.ReadFile(courseSource)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := nbformat.ReadFile(courseRelease)
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]*nbformat.Notebook{"source": src, "release": rel} {
		r, err := Restore(src, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Notebook.Cells) != len(src.Cells) || len(r.Issues) != 0 {
			t.Errorf("%s: %d cells (source: %d), issues %v", name, len(r.Notebook.Cells), len(src.Cells), r.Issues)
		}
	}
}

// TestRestoreGroupedOverride checks that a student cell redefining a name
// of a locked cell's grouped declaration (the course's setup cell's
// "const ( nParties ... lr ... )") is reported, and zeroes the tests after it.
func TestRestoreGroupedOverride(t *testing.T) {
	src := nbformat.New()
	src.Cells = []*nbformat.Cell{
		nbgCell(t, nbformat.Code, "const (\n\tnParties = 3\n\tlr       = 0.1\n)\n", nbformat.Nbgrader{Locked: true, GradeID: "setup"}),
		nbgCell(t, nbformat.Code, "func f() float64 {\n\t// BEGIN SOLUTION\n\treturn lr\n\t// END SOLUTION\n}\n", nbformat.Nbgrader{Solution: true, GradeID: "ex1"}),
		nbgCell(t, nbformat.Code, "%%\nif f() != 0.1 { panic(\"f\") }\n", nbformat.Nbgrader{Grade: true, Locked: true, GradeID: "ex1-test", Points: 1}),
	}
	sub, err := Assign(src)
	if err != nil {
		t.Fatal(err)
	}
	sub.Cells[1].Source = "const lr = 1.0\n\nfunc f() float64 { return 0.1 }\n"
	gr, err := testGraderOf(t, src).Grade(context.Background(), submissionOf(t, sub))
	if err != nil {
		t.Fatal(err)
	}
	if gr.Tests[0].Status != Overridden || !strings.Contains(gr.Tests[0].Message, "redefines lr") {
		t.Errorf("a cell redefining lr of a grouped const: %s %q, want %s", gr.Tests[0].Status, gr.Tests[0].Message, Overridden)
	}
}

func testGraderOf(t *testing.T, src *nbformat.Notebook) *Grader {
	g, err := NewGrader(src, okExecutor{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// submissionOf writes nb to a file and returns it as a submission.
func submissionOf(t *testing.T, nb *nbformat.Notebook) Submission {
	p := filepath.Join(t.TempDir(), "student.ipynb")
	if err := nbformat.WriteFile(p, nb); err != nil {
		t.Fatal(err)
	}
	return Submission{Student: "student", Path: p}
}
