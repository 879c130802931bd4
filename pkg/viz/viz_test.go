package viz

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"testing"
)

// wellFormed fails the test unless s parses as XML.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("not well-formed SVG: %v\n%s", err, s[:min(len(s), 300)])
		}
	}
}

func TestChart(t *testing.T) {
	tests := []struct {
		name  string
		chart Chart
		want  []string
	}{
		{"empty", Chart{}, []string{"<svg"}},
		{"one point", Chart{Series: []Series{{Name: "acc", Y: []float64{0.5}}}}, []string{"acc", "<polyline"}},
		{"two series, escaped title", Chart{Title: "loss & acc", Series: []Series{
			{Name: "train", Y: []float64{0.9, 0.5, 0.2}},
			{Name: "test", X: []float64{1, 2, 3}, Y: []float64{1, math.NaN(), 0.3}},
		}}, []string{"loss &amp; acc", "train", "test"}},
		{"fixed range", Chart{YMin: 0, YMax: 1, Series: []Series{{Y: []float64{2, -1}}}}, []string{"<polyline"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.chart.SVG()
			wellFormed(t, s)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
		})
	}
}

func TestHeatmap(t *testing.T) {
	v := make([]float64, 28*28)
	v[0], v[1] = -2, 4
	s, err := Heatmap("gradient", v, 28, 28, 4)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, s)
	if got := strings.Count(s, "<rect"); got != 784 {
		t.Errorf("%d cells, want 784", got)
	}
	if !strings.Contains(s, diverging(1)) || !strings.Contains(s, diverging(-0.5)) || !strings.Contains(s, "#ffffff") {
		t.Error("colours of +max, -max/2 and zero missing")
	}
	if _, err := Heatmap("", v[:10], 28, 28, 4); err == nil {
		t.Error("no error for 10 values as 28x28")
	}
}

func TestDiverging(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0, "#ffffff"}, {1, "#b2182b"}, {-1, "#2166ac"}, {5, "#b2182b"}, {math.NaN(), "#808080"}} {
		if got := diverging(tc.in); got != tc.want {
			t.Errorf("diverging(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDiagram(t *testing.T) {
	s, err := Diagram("split", []Node{{"alice", "784-128-640"}, {"bob", "640-10, labels"}}, []Edge{{"activations 1.2 MB", "gradients 1.2 MB"}})
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, s)
	if _, err := Diagram("", []Node{{"a", ""}}, []Edge{{}}); err == nil {
		t.Error("no error for 1 node and 1 edge")
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1_234_567, "1.2 MB"}, {3_100_000_000, "3.1 GB"}} {
		if got := Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestRow(t *testing.T) {
	s := Row(Captioned{"<svg></svg>", "a < b"}, Captioned{"<svg></svg>", "c"})
	wellFormed(t, s)
	if !strings.Contains(s, "a &lt; b") {
		t.Error("caption not escaped")
	}
}

func ExampleBytes() {
	fmt.Println(Bytes(64 * 640 * 4))
	// Output: 163.8 kB
}

// TestFigureOneScale checks that Figure colours every panel on one scale: a
// small gradient beside a large mask stays pale, and the colour bar prints
// the range.
func TestFigureOneScale(t *testing.T) {
	small, large := []float64{0.05, -0.05, 0, 0}, []float64{100, -100, 50, 0}
	s, err := Figure(2, 2, 4, 0, Panel{small, "gradient"}, Panel{large, "mask"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, diverging(1)) || strings.Count(s, diverging(1)) < 2 { // the mask's +100 and the bar's end
		t.Error("the largest value is not at the end of the scale")
	}
	if !strings.Contains(s, diverging(0.05/100)) {
		t.Error("the gradient is not drawn on the mask's scale")
	}
	for _, w := range []string{">-100<", ">0<", ">100<", "colour scale"} {
		if !strings.Contains(s, w) {
			t.Errorf("figure lacks %q", w)
		}
	}
	if _, err := Figure(2, 2, 4, 0, Panel{[]float64{1}, "short"}); err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("Figure of a wrong-sized panel: %v, want an error naming it", err)
	}
	s, _ = Figure(2, 2, 4, 0.1, Panel{small, "fixed"})
	if !strings.Contains(s, ">0.1<") {
		t.Error("a fixed top is not printed")
	}
}

// TestLegendNotClipped checks that a long series name fits in the picture.
func TestLegendNotClipped(t *testing.T) {
	name := "test accuracy, party 0 alone"
	c := Chart{Series: []Series{{Name: name, Y: []float64{1, 2}}}}
	s := c.SVG()
	var width float64
	fmt.Sscanf(s[strings.Index(s, `width="`)+7:], "%g", &width)
	i := strings.Index(s, esc(name))
	j := strings.LastIndex(s[:i], `x="`)
	var x float64
	fmt.Sscanf(s[j+3:], "%g", &x)
	if x+legendCharWidth*float64(len(name)) > width {
		t.Errorf("legend text at x=%g, %d characters, in a picture %g wide", x, len(name), width)
	}
}
