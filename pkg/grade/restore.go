package grade

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ppml-go/ppml/kernel/gonbcell"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// Issue kinds: what a submission did that the teacher should know.
const (
	// Tampered: a locked or test cell was edited, deleted, or had its role
	// or points changed. The grader runs the source's version instead.
	Tampered = "tampered"
	// Missing: an answer cell is gone; it is graded as not attempted.
	Missing = "missing"
	// Reordered: graded cells are not in the source's order; the grader
	// runs them in the source's order.
	Reordered = "reordered"
	// Invalid: the file is not a usable notebook.
	Invalid = "invalid"
	// Suspicious: code that may game the grader (exits the process,
	// redefines a test helper, ...); for the teacher to review.
	Suspicious = "suspicious"
)

// Issue is one finding about a submission, shown in its feedback and
// gradebook.
type Issue struct {
	Kind    string `json:"kind"`
	Cell    string `json:"cell,omitempty"` // grade_id or cell number
	Message string `json:"message"`
}

func (i Issue) String() string {
	if i.Cell != "" {
		return fmt.Sprintf("%s: %s: %s", i.Kind, i.Cell, i.Message)
	}
	return fmt.Sprintf("%s: %s", i.Kind, i.Message)
}

// Restored is the notebook the grader executes for one submission and what
// it found on the way.
type Restored struct {
	// Notebook has the source's cells (locked cells and tests with their
	// hidden parts) with the student's answers in the solution cells and the
	// student's own extra cells where they put them.
	Notebook *nbformat.Notebook
	// Answered counts the solution cells found in the submission.
	Answered int
	Issues   []Issue
	// overrides maps a cell index of Notebook to the name of a locked
	// declaration it redefines.
	overrides map[int]string
	// stubs maps the index of each answer code cell of Notebook to the
	// release's text of that cell, its stub.
	stubs map[int]string
	// student marks the cells of Notebook that come from the student:
	// answers and added cells.
	student map[int]bool
}

// answered reports whether answer cell i of r.Notebook is not the stub.
func (r *Restored) answered(i int) bool {
	stub, ok := r.stubs[i]
	return !ok || strings.TrimSpace(r.Notebook.Cells[i].Source) != strings.TrimSpace(stub)
}

// Restore builds the notebook to grade from the source notebook src (with
// solutions and hidden tests) and a student's submission sub. Cells are
// matched by grade_id. Locked and test cells come from src whatever the
// submission did to them; changes are reported as Tampered issues. Solution
// cells come from the submission. Cells the student added (no known
// grade_id, not a source cell) are kept after the graded cell they followed,
// without nbgrader metadata. Source cells without nbgrader roles come from
// src.
func Restore(src, sub *nbformat.Notebook) (*Restored, error) {
	src, err := clone(src) // the result shares no cell with the caller's
	if err != nil {
		return nil, err
	}
	sc, err := cells(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if err := validateMeta(sc); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	rel, err := Assign(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	rc, _ := cells(rel)
	// Submission cells, with metadata when it decodes.
	uc := make([]cell, len(sub.Cells))
	for i, c := range sub.Cells {
		g, ok, err := c.Nbgrader()
		if err != nil || !ok {
			g = nil
		}
		uc[i] = cell{c, g}
	}
	x := &restoring{src: src, sc: sc, rc: rc, uc: uc,
		r: &Restored{overrides: map[int]string{}, stubs: map[int]string{}, student: map[int]bool{}}}
	x.matchCells()
	x.compare()
	x.checkOrder()
	if err := x.assemble(); err != nil {
		return nil, err
	}
	return x.r, nil
}

// restoring is one run of Restore, in phases: match the submission's cells
// to the source's, compare the cells with roles, check their order, and
// assemble the notebook to run.
type restoring struct {
	src    *nbformat.Notebook
	sc, rc []cell // the source's cells and the release's
	uc     []cell // the submission's
	match  []int  // for each submission cell, its source cell, or -1 for a student cell
	subOf  map[int]int
	r      *Restored
}

// matchCells matches the submission's cells to the source's: by grade_id, else
// by cell id or identical content for cells without a role. subOf maps a
// source index to its first submission index.
func (x *restoring) matchCells() {
	sc, uc, r := x.sc, x.uc, x.r
	srcByID := map[string]int{}
	srcByCellID := map[string]int{}
	for i, c := range sc {
		if id := c.id(); id != "" {
			srcByID[id] = i
		}
		if c.ID != "" {
			srcByCellID[c.ID] = i
		}
	}
	match := make([]int, len(uc))
	subOf := map[int]int{}
	for i, c := range uc {
		match[i] = -1
		j, ok := srcByID[c.id()]
		if c.id() == "" || !ok {
			if k, byCellID := srcByCellID[c.ID]; byCellID && c.ID != "" && sc[k].id() == "" {
				j, ok = k, true
			} else {
				j = findUnmarked(sc, c)
				ok = j >= 0
			}
			if !ok {
				if c.g != nil && c.id() != "" {
					what := "a cell"
					if c.isGrade() {
						what = "a graded cell"
					}
					r.Issues = append(r.Issues, Issue{Tampered, c.id(), what + " that is not in the source notebook; run as an ordinary cell, worth no points"})
				}
				continue
			}
		}
		if _, dup := subOf[j]; dup {
			r.Issues = append(r.Issues, Issue{Tampered, cellName(j, sc[j]), fmt.Sprintf("appears twice (cell %d again); the first is graded", i+1)})
			continue
		}
		match[i], subOf[j] = j, i
	}

	x.match, x.subOf = match, subOf
}

// compare reports how each cell with a role in the source differs in the
// submission: deleted, edited, role or points or type changed.
func (x *restoring) compare() {
	sc, uc, rc, subOf, r := x.sc, x.uc, x.rc, x.subOf, x.r
	for j, s := range sc {
		if s.id() == "" {
			continue
		}
		i, ok := subOf[j]
		name := s.id()
		kind := "locked cell"
		if s.isTest() {
			kind = "test cell"
		}
		switch {
		case !ok && s.isSolution():
			r.Issues = append(r.Issues, Issue{Missing, name, "answer cell deleted: graded as not attempted"})
		case !ok && s.isLocked():
			r.Issues = append(r.Issues, Issue{Tampered, name, kind + " deleted: the source's version was run"})
		case ok:
			u := uc[i]
			if s.isSolution() {
				r.Answered++
			}
			// The release's text, or the source's itself (a teacher grading
			// the source notebook as a submission).
			if s.isLocked() && u.Source != rc[j].Source && u.Source != s.Source {
				r.Issues = append(r.Issues, Issue{Tampered, name, kind + " edited: the source's version was run"})
			}
			if u.g == nil || u.g.Grade != s.g.Grade || u.g.Solution != s.g.Solution || u.isLocked() != s.isLocked() {
				r.Issues = append(r.Issues, Issue{Tampered, name, "cell role changed in the nbgrader metadata: the source's role was used"})
			} else if s.isGrade() && u.g.Points != s.g.Points {
				r.Issues = append(r.Issues, Issue{Tampered, name, fmt.Sprintf("points changed from %v to %v: the source's points count", s.g.Points, u.g.Points)})
			}
			if s.CellType != u.CellType {
				r.Issues = append(r.Issues, Issue{Tampered, name, fmt.Sprintf("cell type changed from %s to %s", s.CellType, u.CellType)})
			}
		}
	}
}

// checkOrder reports cells with roles that are not in the source's order.
func (x *restoring) checkOrder() {
	sc, r := x.sc, x.r
	var order []int
	for _, j := range x.match {
		if j >= 0 && sc[j].id() != "" {
			order = append(order, j)
		}
	}
	if !sort.IntsAreSorted(order) {
		r.Issues = append(r.Issues, Issue{Reordered, "", "graded cells are not in the source's order: they were run in the source's order"})
	}
}

// assemble builds the notebook to run: the source's cells, the student's
// answers in the solution cells (the stub where an answer is missing), and
// the student's own cells after the matched cell they followed; it notes
// the student's cells that redefine a declaration of a locked cell.
func (x *restoring) assemble() error {
	sc, rc, uc, match, subOf, r := x.sc, x.rc, x.uc, x.match, x.subOf, x.r
	// Student cells go after the matched cell they follow (-1: at the top).
	extras := map[int][]cell{}
	anchor := -1
	for i, c := range uc {
		if match[i] >= 0 {
			anchor = match[i]
			continue
		}
		extras[anchor] = append(extras[anchor], c)
	}

	out, err := clone(x.src)
	if err != nil {
		return err
	}
	out.Cells = nil
	locked := lockedDecls(sc)
	add := func(c cell) {
		r.student[len(out.Cells)] = true
		nc := *c.Cell
		nc.Outputs, nc.ExecutionCount = nil, nil
		if c.CellType == nbformat.Code {
			for _, d := range gonbcell.Decls(nc.Source) {
				if owner, ok := locked[d]; ok {
					r.overrides[len(out.Cells)] = d
					r.Issues = append(r.Issues, Issue{Suspicious, "", fmt.Sprintf("a student cell redefines %s, declared in locked cell %s: the tests after it score 0", d, owner)})
				}
			}
		}
		out.Cells = append(out.Cells, &nc)
	}
	studentCell := func(c cell) cell {
		nc := *c.Cell
		nc.Metadata = nil
		nc.DeleteMetadataField("nbgrader")
		return cell{&nc, nil}
	}
	for _, c := range extras[-1] {
		add(studentCell(c))
	}
	for j, s := range sc {
		i, ok := subOf[j]
		if s.isSolution() {
			c := rc[j] // the stub when the answer is missing
			if ok {
				nc := *s.Cell
				nc.Source = uc[i].Source
				c = cell{&nc, s.g}
			}
			if s.CellType == nbformat.Code {
				r.stubs[len(out.Cells)] = rc[j].Source
				add(c)
			} else {
				r.student[len(out.Cells)] = true
				out.Cells = append(out.Cells, c.Cell)
			}
		} else {
			out.Cells = append(out.Cells, s.Cell)
		}
		for _, c := range extras[j] {
			add(studentCell(c))
		}
	}
	r.Notebook = out
	return nil
}

// findUnmarked returns the index of the source cell without a role whose
// content equals c's, or -1.
func findUnmarked(sc []cell, c cell) int {
	for j, s := range sc {
		if s.id() == "" && s.CellType == c.CellType && s.Source == c.Source {
			return j
		}
	}
	return -1
}

// lockedDecls maps each name declared by a locked or test code cell of the
// source to that cell's grade_id.
func lockedDecls(sc []cell) map[string]string {
	m := map[string]string{}
	for _, c := range sc {
		if c.CellType == nbformat.Code && c.isLocked() {
			for _, d := range gonbcell.Decls(c.Source) {
				m[d] = c.id()
			}
		}
	}
	return m
}

// strip removes ANSI escapes and trailing space from s.
func strip(s string) string {
	return strings.TrimSpace(ansi.ReplaceAllString(s, ""))
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
