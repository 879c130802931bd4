package grade

import (
	"strings"
	"testing"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

func nbgCell(t *testing.T, typ, src string, g nbformat.Nbgrader) *nbformat.Cell {
	t.Helper()
	c := nbformat.NewCell(typ, src)
	g.SchemaVersion = SchemaVersion
	if err := c.SetNbgrader(&g); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChecksumMatchesNbgrader(t *testing.T) {
	// Expected values from nbgrader's utils.compute_checksum algorithm run in Python.
	tests := []struct {
		name string
		cell func(t *testing.T) *nbformat.Cell
		want string
	}{
		{"grade cell", func(t *testing.T) *nbformat.Cell {
			return nbgCell(t, "code", "%%\nif 1 != 1 { panic(1) }", nbformat.Nbgrader{Grade: true, GradeID: "test_a", Points: 2.5})
		}, "4002e24fd6301bec63e7bf71a4129522"},
		{"solution cell", func(t *testing.T) *nbformat.Cell {
			return nbgCell(t, "code", "func F() {}", nbformat.Nbgrader{Solution: true, GradeID: "f"})
		}, "0b467c502805a13e8c251865b2e2bd7e"},
	}
	for _, tt := range tests {
		got, err := Checksum(tt.cell(t))
		if err != nil || got != tt.want {
			t.Errorf("%s: Checksum = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{2: "2.0", 2.5: "2.5", 0.1: "0.1", 100: "100.0", 1e16: "1e+16", 1.5e-5: "1.5e-05", 0: "0.0"} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestAssignCourse(t *testing.T) {
	src, err := nbformat.ReadFile("testdata/course.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := Assign(src)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := cells(rel)
	for i, c := range cs {
		for _, m := range []string{BeginSolution, EndSolution, BeginHiddenTests, "Sigmoid(2)", "math.Exp(-x)"} {
			if strings.Contains(c.Source, m) {
				t.Errorf("release %s still has %q:\n%s", cellName(i, c), m, c.Source)
			}
		}
		if c.isSolution() && !strings.Contains(c.Source, "\t"+DefaultStub+"\n}") {
			t.Errorf("release %s has no indented stub:\n%s", cellName(i, c), c.Source)
		}
		if (c.isGrade() || c.isSolution() || c.isLocked()) && c.g.Checksum != checksum(c) {
			t.Errorf("release %s: checksum %q, want %q", cellName(i, c), c.g.Checksum, checksum(c))
		}
	}
	if !strings.Contains(cs[4].Source, "Sigmoid(0)") {
		t.Errorf("visible test lost:\n%s", cs[4].Source)
	}
	orig, _ := cells(src)
	if !strings.Contains(orig[3].Source, "math.Exp") {
		t.Error("Assign modified its source notebook")
	}
}

func TestAssignStubs(t *testing.T) {
	tests := []struct {
		name, src, want, err string
	}{
		{"default in func", "func F(x int) int {\n\ty := x\n\t// BEGIN SOLUTION\n\treturn y\n\t// END SOLUTION\n}\n",
			"func F(x int) int {\n\ty := x\n\t// STUB\n}\n", ""},
		{"stub lines", "func F(x int) int {\n\ty := x\n\t// BEGIN SOLUTION\n\t// STUB: _ = y\n\t// STUB: panic(\"not implemented yet\")\n\treturn y\n\t// END SOLUTION\n}\n",
			"func F(x int) int {\n\ty := x\n\t_ = y\n\tpanic(\"not implemented yet\")\n}\n", ""},
		{"in %% main", "%%\n// BEGIN SOLUTION\nfmt.Println(1)\n// END SOLUTION\n", "%%\n// STUB\n", ""},
		{"two regions", "func A() {\n  // BEGIN SOLUTION\n  a()\n  // END SOLUTION\n}\nfunc B() {\n\t// BEGIN SOLUTION\n\tb()\n\t// END SOLUTION\n}\n",
			"func A() {\n  // STUB\n}\nfunc B() {\n\t// STUB\n}\n", ""},
		{"top level", "// BEGIN SOLUTION\nfunc F() {}\n// END SOLUTION\n", "", "top level"},
		{"top level with stub", "// BEGIN SOLUTION\n// STUB: func F() { panic(\"not implemented yet\") }\nfunc F() {}\n// END SOLUTION\n",
			"func F() { panic(\"not implemented yet\") }\n", ""},
		{"brace in string", "func F() string {\n\ts := \"}\"\n\t// BEGIN SOLUTION\n\treturn s\n\t// END SOLUTION\n}\n", "func F() string {\n\ts := \"}\"\n\t// STUB\n}\n", ""},
		{"unclosed", "func F() {\n// BEGIN SOLUTION\n}\n", "", "never closed"},
		{"end without begin", "func F() {\n// END SOLUTION\n}\n", "", "without"},
		{"nested", "func F() {\n// BEGIN SOLUTION\n// BEGIN SOLUTION\n// END SOLUTION\n}\n", "", "inside the region"},
		{"no region", "func F() {}\n", "", "no"},
	}
	for _, tt := range tests {
		nb := nbformat.New()
		nb.Cells = append(nb.Cells, nbgCell(t, "code", tt.src, nbformat.Nbgrader{Solution: true, GradeID: "f"}))
		rel, err := Assign(nb)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "cell 1 (f)") {
				t.Errorf("%s: err = %v, want one naming cell 1 (f) with %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		want := strings.ReplaceAll(tt.want, "// STUB\n", DefaultStub+"\n")
		if got := rel.Cells[0].Source; got != want {
			t.Errorf("%s: release\n%s\nwant\n%s", tt.name, got, want)
		}
	}
}

func TestAssignRejectsBadMetadata(t *testing.T) {
	tests := []struct {
		name  string
		cells []nbformat.Nbgrader
		src   string
		err   string
	}{
		{"dup id", []nbformat.Nbgrader{{Locked: true, GradeID: "a"}, {Locked: true, GradeID: "a"}}, "x", "already used"},
		{"bad id", []nbformat.Nbgrader{{Locked: true, GradeID: "a b"}}, "x", "letters"},
		{"no id", []nbformat.Nbgrader{{Locked: true}}, "x", "without grade_id"},
		{"negative points", []nbformat.Nbgrader{{Grade: true, GradeID: "t", Points: -1}}, "x", ">= 0"},
		{"solution marker in test", []nbformat.Nbgrader{{Grade: true, GradeID: "t", Points: 1}}, "// BEGIN SOLUTION\n// END SOLUTION\n", "not a solution cell"},
		{"hidden marker in solution", []nbformat.Nbgrader{{Solution: true, GradeID: "s"}}, "func F() {\n// BEGIN HIDDEN TESTS\n// END HIDDEN TESTS\n}", "not a grade"},
	}
	for _, tt := range tests {
		nb := nbformat.New()
		for _, g := range tt.cells {
			nb.Cells = append(nb.Cells, nbgCell(t, "code", tt.src, g))
		}
		if _, err := Assign(nb); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		}
	}
}
