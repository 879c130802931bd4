package gonbcell

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		src, decls, main string
		hasMain          bool
	}{
		{"func f() {}\n", "func f() {}\n", "", false},
		{"import \"fmt\"\n%%\nfmt.Println(1)\n", "import \"fmt\"\n", "%%\nfmt.Println(1)\n", true},
		{"%% --flag\nx := 1", "", "%% --flag\nx := 1", true},
		{"var a = 1\n  %main\n", "var a = 1\n", "  %main\n", true},
		{"%%bash\necho", "%%bash\necho", "", false}, // a cell magic, not main
	}
	for _, tt := range tests {
		d, m, ok := Split(tt.src)
		if d != tt.decls || m != tt.main || ok != tt.hasMain {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q, %v", tt.src, d, m, ok, tt.decls, tt.main, tt.hasMain)
		}
	}
}

func TestDecls(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"func near(a, b float64) bool { return a == b }\n", "near"},
		{"const (\n\tnParties = 3\n\tlr, epochs = 0.1, 5\n)\nvar _ = 1\n", "nParties lr epochs"},
		{"type T struct{}\n\nfunc (T) M() {}\nfunc init() {}\n", "T"},
		{"var (\n\tx int\n\ty = `}`\n)\n%%\nz := 1\n", "x y"},
		{"!echo hi\n%env A=1\nimport \"fmt\"\nfunc F() { fmt.Println() }\n", "F"},
		{"func ok() {}\nfunc broken( {\n", "ok broken"}, // a syntax error: what the parser made out
		{"%%\nfunc notDecl() {}", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(Decls(tt.src), " "); got != tt.want {
			t.Errorf("Decls(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestDepths(t *testing.T) {
	src := "func f() {\n\tx := \"{\" // {\n\tif x != `}` {\n\t\t/* { */\n\t}\n}\n%%\nfor {\n}"
	want := []int{0, 1, 1, 2, 2, 1, 0, 0, 1}
	if got := Depths(src); !slices.Equal(got, want) {
		t.Errorf("Depths = %v, want %v", got, want)
	}
}

func TestIsComplete(t *testing.T) {
	tests := []struct {
		code   string
		status Completeness
		indent string
	}{
		{"%%\nfmt.Println(1)", Complete, ""},
		{"func f() {", Incomplete, "\t"},
		{"!echo \\", Incomplete, ""},
		{"%%", Incomplete, ""},
		{"%%bash\necho {", Complete, ""},
		{"}", Invalid, ""},
	}
	for _, tt := range tests {
		if s, in := IsComplete(tt.code); s != tt.status || in != tt.indent {
			t.Errorf("IsComplete(%q) = %q, %q; want %q, %q", tt.code, s, in, tt.status, tt.indent)
		}
	}
}

func ExampleDecls() {
	fmt.Println(Decls("const (\n\tnParties = 3\n\tlr       = 0.1\n)\n\nfunc Step() {}\n%%\nStep()"))
	// Output: [nParties lr Step]
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name   string
		srcs   []string
		want   string
		origin map[int][2]int // line of the joined cell -> cell, line
		err    string
	}{
		{
			name: "imports first, lines kept",
			srcs: []string{
				"import \"fmt\"\n\nfunc f() { fmt.Println() }",
				"// g\nimport (\n\t\"math\"\n)\n%env A=1\nfunc g() float64 { return math.Pi }",
				"%%\nf()\ng()",
			},
			want: "import \"fmt\"\nimport (\n\t\"math\"\n)\n" +
				"\n\nfunc f() { fmt.Println() }\n" +
				"// g\n\n\n\n%env A=1\nfunc g() float64 { return math.Pi }\n" +
				"%%\nf()\ng()",
			origin: map[int][2]int{1: {-1, 1}, 5: {0, 1}, 7: {0, 3}, 8: {1, 1}, 13: {1, 6}, 14: {2, 1}, 16: {2, 3}},
		},
		{name: "one cell", srcs: []string{"func f() {}\n%%\nf()"}, want: "func f() {}\n%%\nf()", origin: map[int][2]int{3: {0, 3}}},
		{name: "main before the last", srcs: []string{"%%\nx := 1", "func f() {}"}, err: "cell 1 of 2 has a main body"},
		{name: "does not parse", srcs: []string{"func f() {}", "func g( {"}, err: "cell 2 of 2"},
		{name: "import and func on a line", srcs: []string{"import \"fmt\"; func f() { fmt.Println() }"}, err: "shares its line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Join(tt.srcs...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Join: error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Source != tt.want {
				t.Errorf("Join:\n%s\nwant:\n%s", j.Source, tt.want)
			}
			for n, want := range tt.origin {
				if c, l := j.Origin(n); c != want[0] || l != want[1] {
					t.Errorf("Origin(%d) = %d, %d; want %d, %d", n, c, l, want[0], want[1])
				}
			}
		})
	}
}
