package grade

import (
	"fmt"
	"strings"

	"github.com/ppml-go/ppml/kernel/gonbcell"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// runnable returns the copy of the restored notebook nb that the grader
// executes, and which of its test cells got the completion mark. Test cells
// run whole, with the mark. Unless all, the grader runs only what can change
// a test's result: GoNB keeps nothing of a cell but its declarations, so the
// other code cells (demonstrations, training runs, the student's own
// experiments) run without their main body ("%%" to the end), cells left
// empty are skipped, and so is everything after the last test cell. Indexes
// of cells are those of nb.
func runnable(nb *nbformat.Notebook, mark completionMark, all bool) (*nbformat.Notebook, map[int]bool, error) {
	run, err := clone(nb)
	if err != nil {
		return nil, nil, err
	}
	cs, err := cells(run)
	if err != nil {
		return nil, nil, err
	}
	last := -1
	for i, c := range cs {
		if c.isTest() {
			last = i
		}
	}
	marked := map[int]bool{}
	for i, c := range cs {
		switch {
		case c.CellType != nbformat.Code:
		case c.isTest():
			if src, ok := withMark(c.Source, mark); ok {
				c.Source = src
				marked[i] = true
			}
		case all:
		case i > last:
			c.Source = ""
		default:
			c.Source = declarations(c.Source)
		}
	}
	return run, marked, nil
}

// declarations returns the part of a GoNB cell before its main body: its
// imports, declarations and special commands.
func declarations(src string) string {
	decls, _, _ := gonbcell.Split(src)
	return decls
}

// withMark adds a deferred print of the completion mark at the top of the
// main body of a test cell; false when the cell has no main body.
func withMark(src string, mark completionMark) (string, bool) {
	lines := strings.SplitAfter(src, "\n")
	for k, l := range lines {
		if gonbcell.IsMainLine(l) {
			if !strings.HasSuffix(l, "\n") {
				lines[k] += "\n"
			}
			lines[k] += fmt.Sprintf("defer println(%q)\n", string(mark))
			return strings.Join(lines, ""), true
		}
	}
	return src, false
}
