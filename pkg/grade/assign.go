package grade

import (
	"fmt"
	"strings"

	"github.com/ppml-go/ppml/kernel/gonbcell"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// Markers of the regions assign rewrites. They are matched as substrings of
// a line, like nbgrader does, so any comment syntax works.
const (
	BeginSolution    = "BEGIN SOLUTION"
	EndSolution      = "END SOLUTION"
	BeginHiddenTests = "BEGIN HIDDEN TESTS"
	EndHiddenTests   = "END HIDDEN TESTS"
	// StubMarker starts a line, inside a solution region, whose rest is a
	// line of the stub the release gets instead of the region.
	StubMarker = "// STUB:"
	// NotImplemented is the message of the default stub.
	NotImplemented = "not implemented yet"
)

// DefaultStub is what a solution region inside a function body becomes in
// the release when it has no STUB lines: it compiles in any function, since
// panic ends the function's control flow, and fails with a clear message.
const DefaultStub = `panic("` + NotImplemented + `")`

// MarkdownStub replaces the whole answer of a markdown solution cell.
const MarkdownStub = "YOUR ANSWER HERE"

// Assign returns the student release of the source notebook src: solution
// regions replaced by their stubs, hidden tests removed, outputs cleared,
// and checksums recorded on grade, solution and locked cells. src is not
// modified. Assign fails, naming the cell, on invalid nbgrader metadata,
// unbalanced markers, markers in cells of the wrong role, or a solution
// region outside a function body with no STUB lines (it would not compile).
func Assign(src *nbformat.Notebook) (*nbformat.Notebook, error) {
	rel, err := clone(src)
	if err != nil {
		return nil, err
	}
	cs, err := cells(rel)
	if err != nil {
		return nil, err
	}
	if err := validateMeta(cs); err != nil {
		return nil, err
	}
	for i, c := range cs {
		if c.Source, err = releaseSource(c); err != nil {
			return nil, fmt.Errorf("%s: %w", cellName(i, c), err)
		}
		if c.CellType == nbformat.Code {
			c.Outputs, c.ExecutionCount = nil, nil
		}
		if c.isGrade() || c.isSolution() || c.isLocked() {
			c.g.Checksum = checksum(c)
			c.g.CellType = c.CellType
			if err := c.SetNbgrader(c.g); err != nil {
				return nil, err
			}
		}
	}
	return rel, nil
}

// clone returns a deep copy of nb.
func clone(nb *nbformat.Notebook) (*nbformat.Notebook, error) {
	data, err := nbformat.Marshal(nb)
	if err != nil {
		return nil, err
	}
	return nbformat.Parse(data)
}

// cellName names cell i (0-based) for messages: its number and grade_id.
func cellName(i int, c cell) string {
	if id := c.id(); id != "" {
		return fmt.Sprintf("cell %d (%s)", i+1, id)
	}
	return fmt.Sprintf("cell %d", i+1)
}

// releaseSource returns what the student sees of cell c.
func releaseSource(c cell) (string, error) {
	hasSol := strings.Contains(c.Source, BeginSolution) || strings.Contains(c.Source, EndSolution)
	hasHidden := strings.Contains(c.Source, BeginHiddenTests) || strings.Contains(c.Source, EndHiddenTests)
	if hasSol && !c.isSolution() {
		return "", fmt.Errorf("%q region in a cell that is not a solution cell", BeginSolution)
	}
	if hasHidden && !c.isGrade() {
		return "", fmt.Errorf("%q region in a cell that is not a grade (test) cell", BeginHiddenTests)
	}
	src := c.Source
	if hasHidden {
		var err error
		if src, err = stripHidden(src); err != nil {
			return "", err
		}
	}
	if c.isSolution() {
		if c.CellType != nbformat.Code {
			if !hasSol {
				return MarkdownStub, nil
			}
			return rewriteRegions(src, BeginSolution, EndSolution, func([]string, string, bool) ([]string, error) {
				return []string{MarkdownStub + "\n"}, nil
			})
		}
		if !hasSol {
			return "", fmt.Errorf("solution cell has no %q ... %q region (a Go cell cannot be blanked whole)", "// "+BeginSolution, "// "+EndSolution)
		}
		return rewriteRegions(src, BeginSolution, EndSolution, goStub)
	}
	return src, nil
}

// stripHidden removes the hidden test regions of src.
func stripHidden(src string) (string, error) {
	return rewriteRegions(src, BeginHiddenTests, EndHiddenTests, func([]string, string, bool) ([]string, error) { return nil, nil })
}

// goStub is the release text of one Go solution region: its STUB lines if
// it has any, else DefaultStub, indented like the BEGIN line. A region at
// the top level of a cell must have STUB lines.
func goStub(region []string, indent string, inFunc bool) ([]string, error) {
	var stub []string
	for _, l := range region {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, StubMarker); ok {
			stub = append(stub, indent+strings.TrimPrefix(rest, " ")+"\n")
		}
	}
	if stub != nil {
		return stub, nil
	}
	if !inFunc {
		return nil, fmt.Errorf("solution region at the top level of the cell needs %q lines (a bare panic would not compile there)", StubMarker)
	}
	return []string{indent + DefaultStub + "\n"}, nil
}

// rewriteRegions replaces every begin...end region of src (marker lines
// included) by what repl returns for the region's inner lines, the BEGIN
// line's indentation and whether the region lies inside a function body.
func rewriteRegions(src, begin, end string, repl func(region []string, indent string, inFunc bool) ([]string, error)) (string, error) {
	lines := strings.SplitAfter(src, "\n")
	depths := gonbcell.Depths(src) // brace depth at the start of each line
	var out, region []string
	in := false
	var indent string
	var inFunc bool
	beginLine := 0
	inMain := false // after a GoNB "%%" or "%main" line: a function body
	for n, l := range lines {
		switch {
		case strings.Contains(l, begin):
			if in {
				return "", fmt.Errorf("line %d: %q inside the region opened at line %d", n+1, begin, beginLine)
			}
			in, region, beginLine = true, nil, n+1
			indent = l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			inFunc = depths[n] > 0 || inMain
		case strings.Contains(l, end):
			if !in {
				return "", fmt.Errorf("line %d: %q without %q", n+1, end, begin)
			}
			r, err := repl(region, indent, inFunc)
			if err != nil {
				return "", fmt.Errorf("line %d: %w", beginLine, err)
			}
			out = append(out, r...)
			in = false
		case in:
			region = append(region, l)
		default:
			out = append(out, l)
		}
		inMain = inMain || gonbcell.IsMainLine(l)
	}
	if in {
		return "", fmt.Errorf("line %d: %q never closed by %q", beginLine, begin, end)
	}
	return strings.Join(out, ""), nil
}
