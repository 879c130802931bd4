package front

import (
	"fmt"
	"testing"
)

func TestIsComplete(t *testing.T) {
	tests := []struct {
		code   string
		status Completeness
		indent string
	}{
		{"", Complete, ""},
		{`%%` + "\n" + `fmt.Println("hello")`, Complete, ""},
		{"func add(a, b int) int { return a + b }", Complete, ""},
		{"x := 1", Complete, ""},
		{"x++", Complete, ""},
		{"return", Complete, ""},
		{"!echo hi", Complete, ""},
		{"%%bash\necho {", Complete, ""},
		{"// just a comment", Complete, ""},
		{"func add(a, b int) int {", Incomplete, "\t"},
		{"func f() {\n\tif x {", Incomplete, "\t\t"},
		{"xs := []int{1, 2,", Incomplete, "\t"},
		{"y := 1 +", Incomplete, ""},
		{"y := a.", Incomplete, ""},
		{"y :=", Incomplete, ""},
		{"s := `a raw string", Incomplete, ""},
		{"/* a comment", Incomplete, ""},
		{"!echo \\", Incomplete, ""},
		{"%%", Incomplete, ""},
		{"func f() {}\n%%\n", Incomplete, ""},
		{"}", Invalid, ""},
		{"f(x]", Invalid, ""},
		{`%%` + "\n" + `fmt.Println("hello"))`, Invalid, ""},
		{`s := "unterminated`, Invalid, ""},
		{"x := 1 @ 2", Invalid, ""},
	}
	for _, tt := range tests {
		status, indent := IsComplete(tt.code)
		if status != tt.status || indent != tt.indent {
			t.Errorf("IsComplete(%q) = %q, %q; want %q, %q", tt.code, status, indent, tt.status, tt.indent)
		}
	}
}

func ExampleIsComplete() {
	status, indent := IsComplete("for i := range 3 {")
	fmt.Printf("%s %q\n", status, indent)
	// Output: incomplete "\t"
}
