package grade

import (
	"context"
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
