package front

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMarkFrames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gonb_1a2b3c4d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	program := "package main\n\nimport \"fmt\"\n\n// F sums.\nfunc F(xs []int) int {\n\tn := 0\n\tn += xs[len(xs)]\n\treturn n\n}\n\nfunc main() {\n\tfmt.Println(F(nil))\n}\n"
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	cells := []ranCell{
		{count: 2, code: "func F(xs []int) int { return 0 }"}, // an older F
		{count: 5, code: "import \"fmt\"\n\n// F sums.\nfunc F(xs []int) int {\n    n := 0\n    n += xs[len(xs)]\n    return n\n}"},
		{count: 6, code: "%%\nfmt.Println(F(nil))"},
	}
	tb := []string{
		"panic: runtime error: index out of range [0] with length 0", "", "goroutine 1 [running]:",
		"main.F(...)",
		"\t" + main + ":8",
		"main.main()",
		"\t" + main + ":13 +0x1d",
		"\t \x1b[7m[[ Cell [6] Line 2 ]]\x1b[0m " + main + ":13 +0x1d",
	}
	got := markFrames(tb, cells)
	want := slices.Clone(tb)
	want[4] = "\t \x1b[7m[[ Cell [5] Line 6 ]]\x1b[0m " + main + ":8" // F's line 8 of main.go is line 6 of cell 5
	if !slices.Equal(got, want) {
		t.Errorf("markFrames:\n%q\nwant\n%q", got, want)
	}
	if tb[4] != "\t"+main+":8" {
		t.Error("markFrames changed its argument")
	}
	// A function no cell has, and an unreadable program, stay as they are.
	if got := markFrames(tb[:5], cells[:1]); !slices.Equal(got, tb[:5]) {
		t.Errorf("without F's cell: %q", got)
	}
	gone := []string{"\t/nowhere/gonb_00000000/main.go:8"}
	if got := markFrames(gone, cells); !slices.Equal(got, gone) {
		t.Errorf("without main.go: %q", got)
	}
}
