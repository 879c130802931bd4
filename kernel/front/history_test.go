package front

import (
	"encoding/json"
	"testing"
)

func TestHistory(t *testing.T) {
	var h history
	for i, code := range []string{"%%\nfmt.Println(1)", "func f() {}", "%%\nfmt.Println(2)", "%%\nfmt.Println(1)"} {
		h.add(i+1, code)
	}
	n := func(v int) *int { return &v }
	tests := []struct {
		name string
		req  historyRequest
		want string
	}{
		{"tail", historyRequest{HistAccessType: "tail", N: n(2)}, `[[1,3,"%%\nfmt.Println(2)"],[1,4,"%%\nfmt.Println(1)"]]`},
		{"tail with output", historyRequest{HistAccessType: "tail", N: n(1), Output: true}, `[[1,4,["%%\nfmt.Println(1)",""]]]`},
		{"tail of all", historyRequest{HistAccessType: "tail"}, `[[1,1,"%%\nfmt.Println(1)"],[1,2,"func f() {}"],[1,3,"%%\nfmt.Println(2)"],[1,4,"%%\nfmt.Println(1)"]]`},
		{"range", historyRequest{HistAccessType: "range", Session: 1, Start: 2, Stop: 3}, `[[1,2,"func f() {}"]]`},
		{"range of another session", historyRequest{HistAccessType: "range", Session: 7, Start: 1, Stop: 3}, `[]`},
		{"search", historyRequest{HistAccessType: "search", Pattern: "*Println(?)"}, `[[1,1,"%%\nfmt.Println(1)"],[1,3,"%%\nfmt.Println(2)"],[1,4,"%%\nfmt.Println(1)"]]`},
		{"search unique", historyRequest{HistAccessType: "search", Pattern: "*Println(1)", Unique: true}, `[[1,4,"%%\nfmt.Println(1)"]]`},
		{"search n", historyRequest{HistAccessType: "search", Pattern: "*", N: n(1)}, `[[1,4,"%%\nfmt.Println(1)"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(h.answer(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("answer(%+v) = %s, want %s", tt.req, got, tt.want)
			}
		})
	}
}

func TestOnCommandLine(t *testing.T) {
	tests := []struct {
		code   string
		cursor int
		want   bool
	}{
		{"%%\nfmt.Println(1)", 5, false},
		{"%%\nfmt.Println(1)", 1, true},
		{"x := 1\n!ls -l", 10, true},
		{"x := 1\n%help", 7, true},
		{"s := \"é\"\nvar y", 11, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if got := onCommandLine(tt.code, tt.cursor); got != tt.want {
			t.Errorf("onCommandLine(%q, %d) = %v, want %v", tt.code, tt.cursor, got, tt.want)
		}
	}
}
