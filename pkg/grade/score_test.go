package grade

import (
	"context"
	"encoding/json"
	"github.com/ppml-go/ppml/kernel/front"
	"strings"
	"testing"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// gonbCompileHTML is (shortened) what GoNB v0.11.5 displays for a cell that
// does not compile.
const gonbCompileHTML = `
<style>
.gonb-err-location {
	background: var(--jp-err-color2);
}
</style>
<div class="jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr" style="font-family: monospace;">

<div style="white-space: pre-wrap;"> # gonb_61009fdb</div>

<div style="white-space: pre-wrap;"><span class="gonb-err-hover-area"><span class="gonb-cell-line-info">Cell[12]: Line 14</span> <span class="gonb-err-location">./main.go:81:2: </span></span>undefined: undefinedThing<div class="gonb-err-context">		}
		sum.B += g.B
<div class="gonb-err-line">	undefinedThing()
</div>	}
</div></div>

<div style="white-space: pre-wrap;"><span class="gonb-err-hover-area"><span class="gonb-cell-line-info">Cell[12]: Line 15</span> <span class="gonb-err-location">./main.go:82:9: </span></span>cannot use &#34;x&#34; (untyped string constant) as int value<div class="gonb-err-context">x
</div></div>

<div style="white-space: pre-wrap;"> </div>

</div>
`

func TestErrorMessage(t *testing.T) {
	htmlOut := &nbformat.Output{OutputType: nbformat.DisplayData, Data: nbformat.MimeBundle{}}
	raw, _ := json.Marshal(gonbCompileHTML)
	htmlOut.Data["text/html"] = raw
	tests := []struct {
		name string
		cr   CellResult
		want string
	}{
		{"compile error", CellResult{Status: runner.StatusError, EName: "ERROR", EValue: `failed to run "/go/bin/go build -o x": exit status 1`, Outputs: []*nbformat.Output{htmlOut}},
			"line 14: undefined: undefinedThing\nline 15: cannot use \"x\" (untyped string constant) as int value"},
		{"failed check (ppml-go kernel)", CellResult{Status: runner.StatusError, EName: "ERROR", EValue: "exit status 2", Outputs: []*nbformat.Output{
			{OutputType: nbformat.Error, EName: "panic", EValue: "Exercise 2c: 1 of 5 checks failed:\n  - Accuracy = 0.4, want 0.5",
				Traceback: []string{"panic: Exercise 2c: 1 of 5 checks failed:", "", "goroutine 1 [running]:", "main.main()", "\t \x1b[7m[[ Cell [10] Line 3 ]]\x1b[0m /tmp/gonb_1/main.go:97 +0x86"}}}},
			"Exercise 2c: 1 of 5 checks failed:\n  - Accuracy = 0.4, want 0.5"},
		{"panic in the student's code", CellResult{Status: runner.StatusError, Outputs: []*nbformat.Output{
			{OutputType: nbformat.Error, EName: "panic", EValue: "runtime error: index out of range [2] with length 2 [recovered, repanicked]",
				Traceback: []string{"panic: runtime error: index out of range [2] with length 2", "goroutine 1 [running]:",
					"main.Average({0xc000, 0x2, 0x2})", "\t \x1b[7m[[ Cell [14] Line 7 ]]\x1b[0m /tmp/gonb_1/main.go:40 +0x1a",
					"main.main.func1(0xc0001)", "\t \x1b[7m[[ Cell [15] Line 4 ]]\x1b[0m /tmp/gonb_1/main.go:90 +0x1a"}}}},
			"panic: runtime error: index out of range [2] with length 2\n  in Average, line 7 of its cell"},
		{"panic whose frame GoNB did not map to its cell", CellResult{Status: runner.StatusError, Outputs: []*nbformat.Output{
			{OutputType: nbformat.Error, EName: "panic", EValue: "runtime error: index out of range [1] with length 1",
				Traceback: []string{"panic: runtime error: index out of range [1] with length 1", "", "goroutine 1 [running]:",
					"main.F(...)", "\t/tmp/gonb_8c1d266d/main.go:10",
					"main.main()", "\t \x1b[7m[[ Cell [11] Line 4 ]]\x1b[0m /tmp/gonb_8c1d266d/main.go:19 +0xab"}}}},
			"panic: runtime error: index out of range [1] with length 1\n  in F"},
		{"panic on stderr (plain GoNB)", CellResult{Status: runner.StatusError, EName: "ERROR", EValue: "exit status 2", Outputs: []*nbformat.Output{
			{OutputType: nbformat.Stream, Name: "stderr", Text: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"}}},
			"panic: boom\nexit status 2"},
	}
	for _, tt := range tests {
		if got := errorMessage(tt.cr); got != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
	kernelCompile := CellResult{Status: runner.StatusError, EName: front.CompileErrorName, EValue: "Cell[5]: Line 2: undefined: x"}
	if !CompileFailed(kernelCompile) {
		t.Errorf("CompileFailed(%+v) = false, want true (the ppml-go kernel's compile error)", kernelCompile)
	}
	if !CompileFailed(tests[0].cr) || CompileFailed(tests[1].cr) {
		t.Error("CompileFailed does not tell a build failure from a panic")
	}
}

func TestRunnable(t *testing.T) {
	nb := nbformat.New()
	nb.Cells = []*nbformat.Cell{
		nbformat.NewCell(nbformat.Code, "import \"fmt\"\n\nfunc f() int { return 1 }\n\n%%\nfmt.Println(\"demo\")\n"),
		nbgCell(t, nbformat.Code, "func g() int {\n\treturn f()\n}\n", nbformat.Nbgrader{Solution: true, GradeID: "g"}),
		nbgCell(t, nbformat.Code, "%%\nif g() != 1 {\n\tpanic(\"wrong\")\n}\n", nbformat.Nbgrader{Grade: true, Locked: true, GradeID: "g-test", Points: 1}),
		nbformat.NewCell(nbformat.Code, "%%\nfmt.Println(\"training for minutes\")\n"),
	}
	mark := completionMark("MARK")
	run, marked, err := runnable(nb, mark, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"import \"fmt\"\n\nfunc f() int { return 1 }\n\n", nb.Cells[1].Source,
		"%%\ndefer println(\"MARK\")\nif g() != 1 {\n\tpanic(\"wrong\")\n}\n", ""}
	for i, c := range run.Cells {
		if c.Source != want[i] {
			t.Errorf("cell %d runs\n%q\nwant\n%q", i, c.Source, want[i])
		}
	}
	if len(marked) != 1 || !marked[2] {
		t.Errorf("marked %v, want the test cell", marked)
	}
	all, _, _ := runnable(nb, mark, true)
	if all.Cells[0].Source != nb.Cells[0].Source || all.Cells[3].Source != nb.Cells[3].Source {
		t.Error("runnable(all) changed the other cells")
	}
	if nb.Cells[2].Source == run.Cells[2].Source {
		t.Error("runnable modified its notebook")
	}
}

// fixedExecutor returns results for the code cells of a notebook by the
// first line of their source.
type fixedExecutor map[string]CellResult

func (f fixedExecutor) Execute(_ context.Context, nb *nbformat.Notebook, _ map[int]string) ([]CellResult, error) {
	res := make([]CellResult, len(nb.Cells))
	for i, c := range nb.Cells {
		first, _, _ := strings.Cut(c.Source, "\n")
		if r, ok := f[first]; ok {
			res[i] = r
		} else if c.CellType == nbformat.Code && c.Source != "" {
			res[i] = CellResult{Status: runner.StatusOK}
		} else {
			res[i] = CellResult{Status: runner.StatusSkipped}
		}
		if k := strings.Index(c.Source, "defer println(\""); k >= 0 && res[i].Status == runner.StatusOK {
			m := c.Source[k+len("defer println(\""):]
			res[i].Outputs = []*nbformat.Output{{OutputType: nbformat.Stream, Name: "stderr", Text: m[:strings.Index(m, "\"")] + "\n"}}
		}
	}
	return res, nil
}

func TestScoreCompileErrors(t *testing.T) {
	src := nbformat.New()
	src.Cells = []*nbformat.Cell{
		nbgCell(t, nbformat.Markdown, "### Exercise 1: f", nbformat.Nbgrader{Locked: true, GradeID: "ex1-md"}),
		nbgCell(t, nbformat.Code, "// f\nfunc f() int {\n\t// BEGIN SOLUTION\n\treturn 1\n\t// END SOLUTION\n}\n", nbformat.Nbgrader{Solution: true, GradeID: "ex1"}),
		nbgCell(t, nbformat.Code, "%%\n// test f\nif f() != 1 { panic(\"f\") }\n", nbformat.Nbgrader{Grade: true, Locked: true, GradeID: "ex1-test", Points: 1}),
		nbgCell(t, nbformat.Markdown, "### Exercise 2: g", nbformat.Nbgrader{Locked: true, GradeID: "ex2-md"}),
		nbgCell(t, nbformat.Code, "// g\nfunc g() int {\n\t// BEGIN SOLUTION\n\treturn f() + 1\n\t// END SOLUTION\n}\n", nbformat.Nbgrader{Solution: true, GradeID: "ex2"}),
		nbgCell(t, nbformat.Code, "%%\n// test g\nif g() != 2 { panic(\"g\") }\n", nbformat.Nbgrader{Grade: true, Locked: true, GradeID: "ex2-test", Points: 2}),
	}
	rel, err := Assign(src)
	if err != nil {
		t.Fatal(err)
	}
	rel.Cells[1].Source = "// f\nfunc f() int {\n\treturn 1 +\n}\n"
	rel.Cells[4].Source = "// g\nfunc g() int {\n\treturn f() + 1\n}\n"
	r, err := Restore(src, rel)
	if err != nil {
		t.Fatal(err)
	}
	mark := newMark()
	run, marked, _ := runnable(r.Notebook, mark, false)
	notImplemented := []*nbformat.Output{{OutputType: nbformat.Error, EName: "panic", EValue: NotImplemented}}
	res, _ := fixedExecutor{
		"// f": {Status: runner.StatusError, EName: "ERROR", EValue: "parsing go files in TempDir: main.go:3:13: expected operand", Stubbed: true},
		"%%":   {Status: runner.StatusError, EName: "ERROR", EValue: "exit status 2", Outputs: notImplemented},
	}.Execute(context.Background(), run, r.stubs)
	got := score(r, res, marked, mark)
	if len(got) != 2 || got[0].Status != NoCompile || got[1].Status != Failed {
		t.Fatalf("statuses %+v, want compile-error and failed", got)
	}
	if got[0].Title != "Exercise 1: f" || !strings.Contains(got[0].Message, "expected operand") {
		t.Errorf("ex1-test: %+v", got[0])
	}
	if !strings.Contains(got[1].Message, "stub that ran in place of an answer that does not compile: Exercise 1: f (cell ex1)") {
		t.Errorf("ex2-test message %q does not name the cell that did not compile", got[1].Message)
	}
}
