package viz

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"regexp"
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

// pngs decodes the PNG images embedded in s.
func pngs(t *testing.T, s string) []image.Image {
	t.Helper()
	var imgs []image.Image
	for _, m := range regexp.MustCompile(`href="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(s, -1) {
		data, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return imgs
}

// sameColour reports whether a and b are the same opaque colour.
func sameColour(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestHeatmap(t *testing.T) {
	v := make([]float64, 28*28)
	v[0], v[1] = -2, 4
	s, err := Heatmap("gradient", v, 28, 28, 4)
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, s)
	imgs := pngs(t, s)
	if len(imgs) != 1 || imgs[0].Bounds() != image.Rect(0, 0, 28*4, 28*4) {
		t.Fatalf("%d images, want one PNG of 112x112", len(imgs))
	}
	// Cell (0, 0) is -2, cell (0, 1) the largest, 4, the rest zero; each
	// is a 4x4 square of the PNG.
	for _, tc := range []struct {
		x, y int
		want float64
	}{{0, 0, -0.5}, {3, 3, -0.5}, {4, 0, 1}, {7, 3, 1}, {8, 0, 0}, {111, 111, 0}} {
		if got := imgs[0].At(tc.x, tc.y); !sameColour(got, divergingRGB(tc.want)) {
			t.Errorf("pixel (%d, %d) is %v, want %v", tc.x, tc.y, got, divergingRGB(tc.want))
		}
	}
	if len(s) > 5000 {
		t.Errorf("a 28x28 heatmap takes %d bytes, want a few kB", len(s))
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
	imgs := pngs(t, s)
	if len(imgs) != 2 {
		t.Fatalf("%d panels, want 2", len(imgs))
	}
	if got := imgs[1].At(0, 0); !sameColour(got, divergingRGB(1)) || !strings.Contains(s, diverging(1)) { // the mask's +100 and the bar's end
		t.Error("the largest value is not at the end of the scale")
	}
	if got := imgs[0].At(0, 0); !sameColour(got, divergingRGB(0.05/100)) {
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
