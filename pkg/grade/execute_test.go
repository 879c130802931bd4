package grade

import (
	"slices"
	"testing"

	"github.com/ppml-go/ppml/kernel/gonbcell"
	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

func TestGroup(t *testing.T) {
	code := func(src string) *nbformat.Cell { return &nbformat.Cell{CellType: nbformat.Code, Source: src} }
	test := func(src string) *nbformat.Cell {
		c := code(src)
		if err := c.SetNbgrader(&nbformat.Nbgrader{Grade: true, GradeID: "t", Points: 1}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	md := &nbformat.Cell{CellType: nbformat.Markdown, Source: "# title"}
	nb := &nbformat.Notebook{Cells: []*nbformat.Cell{
		code("import \"fmt\"\nfunc f() { fmt.Println() }"), // 0
		md,                           // 1
		code(""),                     // 2: empty, does not run
		code("func g() {}"),          // 3
		test("%%\nf()\ng()"),         // 4
		code("func h() {}\n%%\nh()"), // 5: has a main body
		test("%%\nh()"),              // 6
		test("%%\nf()"),              // 7
	}}
	runs := func(c *nbformat.Cell) bool { return c.CellType == nbformat.Code && c.Source != "" }
	tests := []struct {
		from int
		want []int
	}{
		{0, []int{0, 3, 4}},
		{3, []int{3, 4}},
		{4, nil}, // a test alone
		{5, nil}, // not declarations only
		{6, nil}, // a test, then a test
	}
	for _, tt := range tests {
		if got := group(nb, tt.from, runs); !slices.Equal(got, tt.want) {
			t.Errorf("group(%d) = %v, want %v", tt.from, got, tt.want)
		}
	}
}

func TestRelocate(t *testing.T) {
	j, err := gonbcell.Join("import \"fmt\"\n\nfunc f() {\n\tfmt.Println()\n}", "func g() {\n\tpanic(1)\n}", "%%\ng()")
	if err != nil {
		t.Fatal(err)
	}
	// Line 8 of the joined cell is line 2 of the second cell.
	// The runner's result and its error output share their traceback.
	tb := []string{"main.g(...)", "\t[[ Cell [7] Line 8 ]] /tmp/main.go:30 +0x1d", "\t[[ Cell [3] Line 8 ]] /tmp/main.go:12"}
	r := CellResult{Status: runner.StatusError, ExecutionCount: 7, Traceback: tb,
		Outputs: []*nbformat.Output{{OutputType: nbformat.Error, Traceback: tb}, {OutputType: nbformat.Error, Traceback: []string{"\x1b[0m[[ Cell [7] Line 8 ]]\x1b[0m"}}},
	}
	relocate(&r, j)
	want := []string{"main.g(...)", "\t[[ Cell [7] Line 2 ]] /tmp/main.go:30 +0x1d", "\t[[ Cell [3] Line 8 ]] /tmp/main.go:12"}
	if !slices.Equal(r.Traceback, want) {
		t.Errorf("traceback %q, want %q", r.Traceback, want)
	}
	if !slices.Equal(r.Outputs[0].Traceback, want) {
		t.Errorf("error output's traceback %q, want %q", r.Outputs[0].Traceback, want)
	}
	if got := r.Outputs[1].Traceback[0]; got != "\x1b[0m[[ Cell [7] Line 2 ]]\x1b[0m" {
		t.Errorf("output's traceback %q", got)
	}
}
