package front

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
)

// unmappedFrame matches a line of a stack trace that GoNB left without its
// cell mark: GoNB v0.11.5 matches "main.go:N" in each piece of stderr it
// reads, and misses a frame that a read splits (the runtime writes a trace
// piece by piece).
var unmappedFrame = regexp.MustCompile(`^\t(/\S*/gonb_[0-9a-f]+/main\.go):(\d+)(.*)$`)

// ranCell is a cell GoNB ran: its execution count and its code.
type ranCell struct {
	count int
	code  string
}

// markFrames returns tb with GoNB's mark ("[[ Cell [C] Line L ]]") added to
// the frames it missed: it finds the function of such a frame in the
// program's main.go, and that function's text in the cells, latest first
// (GoNB keeps the latest declaration of a name). A frame whose function is
// main, or is in no cell, stays as it is.
func markFrames(tb []string, cells []ranCell) []string {
	out := tb
	programs := map[string]*program{} // by main.go path; nil if unreadable
	for k, l := range tb {
		m := unmappedFrame.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		path, n := m[1], 0
		fmt.Sscan(m[2], &n)
		p, ok := programs[path]
		if !ok {
			p = readProgram(path)
			programs[path] = p
		}
		count, line, ok := p.findLine(n, cells)
		if !ok {
			continue
		}
		if &out[0] == &tb[0] {
			out = append([]string(nil), tb...)
		}
		out[k] = fmt.Sprintf("\t \x1b[7m[[ Cell [%d] Line %d ]]\x1b[0m %s:%s%s", count, line, path, m[2], m[3])
	}
	return out
}

// program is a cell's main.go, parsed.
type program struct {
	lines []string
	fset  *token.FileSet
	file  *ast.File
}

// readProgram reads and parses the main.go at path; nil if it cannot.
func readProgram(path string) *program {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	p := &program{lines: strings.Split(string(data), "\n"), fset: token.NewFileSet()}
	if p.file, err = parser.ParseFile(p.fset, path, data, parser.SkipObjectResolution); err != nil {
		return nil
	}
	return p
}

// findLine returns the cell and the line in it of line n of the program.
func (p *program) findLine(n int, cells []ranCell) (count, line int, ok bool) {
	if p == nil {
		return 0, 0, false
	}
	for _, d := range p.file.Decls {
		f, ok := d.(*ast.FuncDecl)
		if !ok || f.Recv == nil && f.Name.Name == "main" {
			continue
		}
		first, last := p.fset.Position(f.Pos()).Line, p.fset.Position(f.End()).Line
		if n < first || n > last {
			continue
		}
		decl := p.lines[first-1 : last]
		for i := len(cells) - 1; i >= 0; i-- {
			if at := indexLines(strings.Split(cells[i].code, "\n"), decl); at >= 0 {
				return cells[i].count, at + 1 + n - first, true
			}
		}
		return 0, 0, false
	}
	return 0, 0, false
}

// indexLines returns the index in lines where want starts, spaces aside
// (GoNB's program is gofmt-ed), or -1.
func indexLines(lines, want []string) int {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for s := 0; s+len(want) <= len(lines); s++ {
		k := 0
		for k < len(want) && norm(lines[s+k]) == norm(want[k]) {
			k++
		}
		if k == len(want) {
			return s
		}
	}
	return -1
}
