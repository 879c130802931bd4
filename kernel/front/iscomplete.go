package front

import (
	"go/scanner"
	"go/token"
	"strings"
)

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
	lines := strings.Split(code, "\n")
	if first := strings.TrimSpace(lines[0]); strings.HasPrefix(first, "%%") && first != "%%" && !strings.HasPrefix(first, "%% ") {
		return Complete, "" // a cell magic: the rest is not Go.
	}
	continued, mainOpen := false, false
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if continued || strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!") {
			continued = strings.HasSuffix(t, `\`)
			mainOpen = mainOpen || t == "%%" || strings.HasPrefix(t, "%% ")
			lines[i] = ""
		} else if t != "" {
			mainOpen = false
		}
	}
	if continued || mainOpen {
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
