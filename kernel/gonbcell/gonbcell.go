// Package gonbcell reads the source of a GoNB cell as GoNB does, with the
// standard library's go/scanner and go/parser: its split into declarations
// and a main body (a "%%" or "%main" line), the names it declares at the
// top level, the brace depth of each line, and whether it is complete
// enough to run (Jupyter's is_complete_request).
//
// GoNB's special lines (starting with % or !) are not Go: they are read as
// blank lines, so that positions keep their line numbers.
package gonbcell

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// IsMainLine reports whether line starts the main body of a GoNB cell: "%%"
// (alone or followed by arguments) or "%main".
func IsMainLine(line string) bool {
	t := strings.TrimSpace(line)
	return t == "%%" || strings.HasPrefix(t, "%% ") || strings.HasPrefix(t, "%main")
}

// Split returns the part of a cell before its main line (its imports,
// declarations and special commands) and the rest, from the main line on;
// hasMain is false, and main "", when the cell has no main line.
func Split(src string) (decls, main string, hasMain bool) {
	lines := strings.SplitAfter(src, "\n")
	for k, l := range lines {
		if IsMainLine(l) {
			return strings.Join(lines[:k], ""), strings.Join(lines[k:], ""), true
		}
	}
	return src, "", false
}

// goLines returns src with GoNB's special lines blanked (a special line
// ending in a backslash continues on the next line).
func goLines(src string) []string {
	lines := strings.Split(src, "\n")
	continued := false
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if continued || strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!") {
			continued = strings.HasSuffix(t, `\`)
			lines[i] = ""
		}
	}
	return lines
}

// Decls returns the names a cell declares at the top level, in its
// declarations part (see Split): functions (not methods), types, variables
// and constants, those of grouped declarations ("const ( a = 1; b = 2 )")
// too, without "_" and init. Of a part that does not parse, the names of
// the declarations the parser made out.
func Decls(src string) []string {
	decls, _, _ := Split(src)
	file, _ := parser.ParseFile(token.NewFileSet(), "cell.go", "package main;"+strings.Join(goLines(decls), "\n"), parser.SkipObjectResolution)
	if file == nil {
		return nil
	}
	var names []string
	add := func(id *ast.Ident) {
		if id != nil && id.Name != "_" && id.Name != "init" {
			names = append(names, id.Name)
		}
	}
	for _, d := range file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				add(d.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					add(s.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						add(n)
					}
				}
			}
		}
	}
	return names
}

// Depths returns the depth of braces ({ }) open at the start of each line
// of src (as split by "\n"): 0 at the top level of the cell, more inside a
// function body or a composite literal. Strings, runes and comments do not
// count.
func Depths(src string) []int {
	lines := goLines(src)
	text := []byte(strings.Join(lines, "\n"))
	depths := make([]int, len(lines))
	fset := token.NewFileSet()
	file := fset.AddFile("cell.go", -1, len(text))
	var s scanner.Scanner
	s.Init(file, text, func(token.Position, string) {}, 0)
	depth, line := 0, 0
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		for l := file.Line(pos) - 1; line < l && line < len(lines)-1; {
			line++
			depths[line] = depth
		}
		switch tok {
		case token.LBRACE:
			depth++
		case token.RBRACE:
			depth--
		}
	}
	for line < len(lines)-1 {
		line++
		depths[line] = depth
	}
	return depths
}

// Completeness is the status of an is_complete_reply.
type Completeness string

// The statuses of is_complete_reply that IsComplete returns.
const (
	Complete   Completeness = "complete"   // the cell can run as it is
	Incomplete Completeness = "incomplete" // more lines are needed (open bracket, trailing operator, ...)
	Invalid    Completeness = "invalid"    // no continuation can make it valid Go
)

// IsComplete tells whether a GoNB cell is ready to run, as a console asks
// before it runs what the user typed: Incomplete while a bracket, a raw string
// or a comment is open, or the last token cannot end a statement (an operator,
// a comma, "func", ...); Invalid for a closing bracket that matches nothing or
// a token Go's scanner rejects; Complete otherwise. For Incomplete, indent is
// the indentation to offer for the next line: a tab per open bracket.
//
// GoNB's special lines (starting with % or !) are not Go and are skipped; a
// cell whose first line is a cell magic such as %%bash is Complete, a special
// line ending in a backslash continues on the next line, and a %% line (the
// start of main) with no statement after it is Incomplete.
func IsComplete(code string) (status Completeness, indent string) {
	raw := strings.Split(code, "\n")
	if first := strings.TrimSpace(raw[0]); strings.HasPrefix(first, "%%") && first != "%%" && !strings.HasPrefix(first, "%% ") {
		return Complete, "" // a cell magic: the rest is not Go.
	}
	lines := goLines(code)
	mainOpen := false
	for i, line := range raw {
		t := strings.TrimSpace(line)
		if lines[i] == "" && t != "" {
			mainOpen = mainOpen || t == "%%" || strings.HasPrefix(t, "%% ")
		} else if t != "" {
			mainOpen = false
		}
	}
	if last := strings.TrimSpace(raw[len(raw)-1]); lines[len(raw)-1] == "" && strings.HasSuffix(last, `\`) || mainOpen {
		return Incomplete, "" // a line continues, or a %% (main) has no statement yet
	}
	src := []byte(strings.Join(lines, "\n"))

	var (
		s        scanner.Scanner
		errs     []string
		stack    []token.Token
		last     token.Token = token.ILLEGAL // last significant token; ILLEGAL: none yet
		mismatch bool
	)
	fset := token.NewFileSet()
	file := fset.AddFile("cell.go", -1, len(src))
	s.Init(file, src, func(_ token.Position, msg string) { errs = append(errs, msg) }, 0)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted by the scanner at a newline
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			stack = append(stack, tok)
		case token.RPAREN, token.RBRACK, token.RBRACE:
			open := map[token.Token]token.Token{token.RPAREN: token.LPAREN, token.RBRACK: token.LBRACK, token.RBRACE: token.LBRACE}[tok]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				mismatch = true
			} else {
				stack = stack[:len(stack)-1]
			}
		}
		last = tok
	}
	for _, e := range errs {
		if strings.Contains(e, "raw string literal not terminated") || strings.Contains(e, "comment not terminated") {
			return Incomplete, ""
		}
	}
	if mismatch || len(errs) > 0 {
		return Invalid, ""
	}
	if len(stack) > 0 {
		return Incomplete, strings.Repeat("\t", len(stack))
	}
	if last != token.ILLEGAL && !canEndStatement(last) {
		return Incomplete, ""
	}
	return Complete, ""
}

// canEndStatement reports whether a line ending in tok can end a statement:
// the tokens after which Go inserts a semicolon at a newline, and ";".
func canEndStatement(tok token.Token) bool {
	switch tok {
	case token.IDENT, token.INT, token.FLOAT, token.IMAG, token.CHAR, token.STRING,
		token.BREAK, token.CONTINUE, token.FALLTHROUGH, token.RETURN,
		token.INC, token.DEC, token.RPAREN, token.RBRACK, token.RBRACE, token.SEMICOLON:
		return true
	}
	return false
}

// Joined is one cell made of several, by Join.
type Joined struct {
	// Source is the joined cell.
	Source string
	// starts[k] is the line of Source (from 1) where line 1 of cell k is.
	starts []int
}

// Join returns one cell that declares what the cells srcs declare, in
// their order, for GoNB to build as one program instead of one per cell:
// the import declarations of every cell come first (Go accepts them only
// before other declarations), then each cell with its imports blanked, so
// that a line of a cell keeps its place relative to the cell's start (see
// Origin). Only the last cell may have a main body. Join fails, naming the
// cell, when a cell's declarations do not parse, another cell has a main
// body, or an import shares a line with another declaration.
func Join(srcs ...string) (*Joined, error) {
	var imports []string
	cells := make([][]string, len(srcs))
	for k, src := range srcs {
		decls, _, hasMain := Split(src)
		if hasMain && k < len(srcs)-1 {
			return nil, fmt.Errorf("gonbcell: cell %d of %d has a main body", k+1, len(srcs))
		}
		fset := token.NewFileSet()
		// "package main;" on the first line keeps the cell's line numbers.
		file, err := parser.ParseFile(fset, "cell.go", "package main;"+strings.Join(goLines(decls), "\n"), parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("gonbcell: cell %d of %d: %w", k+1, len(srcs), err)
		}
		lines := strings.Split(src, "\n")
		taken := 0 // the last line of an import declaration so far
		for _, d := range file.Decls {
			first, last := fset.Position(d.Pos()).Line, fset.Position(d.End()).Line
			if first <= taken {
				return nil, fmt.Errorf("gonbcell: cell %d of %d, line %d: an import shares its line with another declaration", k+1, len(srcs), first)
			}
			if g, ok := d.(*ast.GenDecl); !ok || g.Tok != token.IMPORT {
				continue
			}
			for l := first; l <= last; l++ {
				imports = append(imports, lines[l-1])
				lines[l-1] = ""
			}
			taken = last
		}
		cells[k] = lines
	}
	j := &Joined{starts: make([]int, len(srcs))}
	all := imports
	for k, lines := range cells {
		j.starts[k] = len(all) + 1
		all = append(all, lines...)
	}
	j.Source = strings.Join(all, "\n")
	return j, nil
}

// Origin returns the cell (an index of Join's srcs) and the line in it of
// line n of the joined cell; cell is -1 for the imports put first.
func (j *Joined) Origin(n int) (cell, line int) {
	for k := len(j.starts) - 1; k >= 0; k-- {
		if n >= j.starts[k] {
			return k, n - j.starts[k] + 1
		}
	}
	return -1, n
}
