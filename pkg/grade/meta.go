package grade

import (
	"crypto/md5"

	"encoding/hex"
	"fmt"
	"github.com/ppml-go/ppml/kernel/nbformat"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// SchemaVersion is the version of nbgrader's cell metadata schema the grader
// reads and writes.
const SchemaVersion = 3

var gradeIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]*$`)

// cell is a notebook cell with its nbgrader metadata decoded (g is nil when
// the cell has none).
type cell struct {
	*nbformat.Cell
	g *nbformat.Nbgrader
}

// cells decodes the nbgrader metadata of every cell of nb.
func cells(nb *nbformat.Notebook) ([]cell, error) {
	out := make([]cell, len(nb.Cells))
	for i, c := range nb.Cells {
		g, ok, err := c.Nbgrader()
		if err != nil {
			return nil, fmt.Errorf("cell %d: metadata.nbgrader: %w", i+1, err)
		}
		if !ok {
			g = nil
		}
		out[i] = cell{c, g}
	}
	return out, nil
}

// id returns the cell's grade_id, "" when it has none.
func (c cell) id() string {
	if c.g == nil {
		return ""
	}
	return c.g.GradeID
}

// isGrade reports whether c is a grade cell (a test, for code cells).
func (c cell) isGrade() bool { return c.g != nil && c.g.Grade }

// isSolution reports whether c is a cell the student answers in.
func (c cell) isSolution() bool { return c.g != nil && c.g.Solution }

// isTest reports whether c is an autograded test: a grade code cell.
func (c cell) isTest() bool { return c.isGrade() && c.CellType == nbformat.Code }

// isLocked reports whether the student may not change c, with nbgrader's
// rule: solution cells never are, grade cells always are, others when
// marked locked.
func (c cell) isLocked() bool {
	switch {
	case c.g == nil, c.g.Solution:
		return false
	case c.g.Grade:
		return true
	}
	return c.g.Locked
}

// points returns what a grade cell is worth (0 for other cells).
func (c cell) points() float64 {
	if !c.isGrade() {
		return 0
	}
	return c.g.Points
}

// Checksum returns c's checksum exactly as nbgrader's utils.compute_checksum
// computes it: the MD5 of the source, the cell type, Python's str() of
// is_grade, is_solution and is_locked, the grade_id and, on grade cells,
// Python's str(float(points)).
func Checksum(c *nbformat.Cell) (string, error) {
	g, ok, err := c.Nbgrader()
	if err != nil {
		return "", err
	}
	if !ok {
		g = nil
	}
	return checksum(cell{c, g}), nil
}

func checksum(c cell) string {
	h := md5.New()
	h.Write([]byte(c.Source))
	h.Write([]byte(c.CellType))
	h.Write([]byte(pyBool(c.isGrade())))
	h.Write([]byte(pyBool(c.isSolution())))
	h.Write([]byte(pyBool(c.isLocked())))
	h.Write([]byte(c.id()))
	if c.isGrade() {
		h.Write([]byte(pyFloat(c.points())))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat formats f like Python's str(float): shortest round-trip digits,
// always a decimal point or exponent, exponent form outside [1e-4, 1e16).
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64) // two exponent digits at least, as Python
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// validateMeta checks the nbgrader metadata of every cell of nb: schema
// version, grade_id syntax and uniqueness, points on grade cells.
func validateMeta(cs []cell) error {
	seen := map[string]int{}
	for i, c := range cs {
		m := c.g
		if m == nil {
			continue
		}
		where := cellName(i, c)
		if m.SchemaVersion != SchemaVersion {
			return fmt.Errorf("%s: nbgrader schema_version %d, want %d", where, m.SchemaVersion, SchemaVersion)
		}
		if !m.Grade && !m.Solution && !m.Locked && !m.Task {
			continue // nbgrader's "-" role: an ordinary cell
		}
		if m.GradeID == "" {
			return fmt.Errorf("%s: nbgrader cell without grade_id", where)
		}
		if !gradeIDPattern.MatchString(m.GradeID) {
			return fmt.Errorf("%s: grade_id %q may only have letters, digits, _ and -", where, m.GradeID)
		}
		if j, dup := seen[m.GradeID]; dup {
			return fmt.Errorf("%s: grade_id %q already used by cell %d", where, m.GradeID, j+1)
		}
		seen[m.GradeID] = i
		if m.Points < 0 || math.IsNaN(m.Points) || math.IsInf(m.Points, 0) {
			return fmt.Errorf("%s: points %v, want a number >= 0", where, m.Points)
		}
	}
	return nil
}
