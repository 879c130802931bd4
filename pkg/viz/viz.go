// Package viz draws the course's pictures as self-contained SVG: line charts
// of loss and accuracy, heatmaps of 28x28 gradients and diagrams of a split
// network. It has no dependencies, so a notebook cell that imports it compiles
// fast, and its output shows the same in JupyterLab, Notebook and a saved
// .ipynb (SVG is a plain display_data MIME type).
package viz

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"slices"
	"strings"
)

// Series is one line of a chart: Y[i] is plotted at X[i], or at i+1 when X is
// nil (epochs and rounds count from 1).
type Series struct {
	Name string
	X, Y []float64
}

// Chart describes a line chart. The zero values of Width and Height give a
// 480x300 picture; YMin and YMax fix the vertical range when YMax > YMin.
type Chart struct {
	Title, XLabel, YLabel string
	Width, Height         int
	YMin, YMax            float64
	Series                []Series
}

// legendCharWidth is a generous width of a character of the charts' 11px
// sans-serif font, so that legends are never clipped.
const legendCharWidth = 6.6

// palette holds colour-blind-safe colours (Okabe and Ito) for the series.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// SVG renders the chart. Points that are NaN or infinite are skipped.
func (c Chart) SVG() string {
	const left, top, bottom = 56.0, 30.0, 44.0
	right := 16.0
	for _, s := range c.Series {
		if s.Name != "" { // room for the legend beside the plot, as wide as its longest name
			right = math.Max(right, 44+legendCharWidth*float64(len([]rune(s.Name))))
		}
	}
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 360 + int(right) // a plot of the same width whatever the legend
	}
	if h <= 0 {
		h = 300
	}
	pw, ph := float64(w)-left-right, float64(h)-top-bottom

	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i, y := range s.Y {
			x := s.x(i)
			if !finite(x) || !finite(y) {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	if c.YMax > c.YMin {
		ymin, ymax = c.YMin, c.YMax
	}
	if xmin > xmax { // no points
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymax == ymin {
		ymin, ymax = ymin-1, ymax+1
	}
	px := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return top + (1-(y-ymin)/(ymax-ymin))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	if c.Title != "" {
		fmt.Fprintf(&b, `<text x="%g" y="18" text-anchor="middle" font-size="13" font-weight="bold">%s</text>`, left+pw/2, esc(c.Title))
	}
	// Grid and ticks.
	for _, t := range ticks(ymin, ymax, 5) {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e5e5e5"/>`, left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-4, y, num(t))
	}
	xticks := ticks(xmin, xmax, 8)
	if c.integerX() {
		xticks = slices.DeleteFunc(xticks, func(t float64) bool { return t != math.Trunc(t) })
	}
	for _, t := range xticks {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/>`, x, top+ph, x, top+ph+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, x, top+ph+16, num(t))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, left, top, pw, ph)
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text x="%g" y="%d" text-anchor="middle">%s</text>`, left+pw/2, h-6, esc(c.XLabel))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text transform="translate(14 %g) rotate(-90)" text-anchor="middle">%s</text>`, top+ph/2, esc(c.YLabel))
	}
	// Lines, points and legend.
	for k, s := range c.Series {
		col := palette[k%len(palette)]
		var pts []string
		for i, y := range s.Y {
			x := s.x(i)
			if !finite(x) || !finite(y) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(math.Max(ymin, math.Min(ymax, y)))))
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(pts, " "))
			if len(pts) <= 40 {
				for _, p := range pts {
					xy := strings.SplitN(p, ",", 2)
					fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], col)
				}
			}
		}
		if s.Name != "" {
			ly := top + 8 + float64(k)*15
			fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`, left+pw+8, ly, left+pw+24, ly, col)
			fmt.Fprintf(&b, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`, left+pw+28, ly, esc(s.Name))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// integerX reports whether every x of the chart is a whole number (epochs,
// rounds), so that its axis gets whole ticks only.
func (c Chart) integerX() bool {
	for _, s := range c.Series {
		for i := range s.Y {
			if x := s.x(i); finite(x) && x != math.Trunc(x) {
				return false
			}
		}
	}
	return true
}

func (s Series) x(i int) float64 {
	if s.X != nil {
		if i < len(s.X) {
			return s.X[i]
		}
		return math.NaN()
	}
	return float64(i + 1)
}

// Heatmap renders values, a rows x cols image stored row by row (an MNIST
// gradient is 28x28), as an SVG of square cells scale pixels wide: a PNG in
// the SVG, a few kB where a rectangle per cell took 55 kB for one MNIST
// image. Values are
// coloured on a diverging scale centred on zero, blue for negative and red for
// positive, saturating at the largest absolute value, so that the sign and
// the shape of a gradient show at a glance. To compare pictures, draw them
// on one scale with Figure. It returns an error if the sizes do not match.
func Heatmap(title string, values []float64, rows, cols, scale int) (string, error) {
	if rows <= 0 || cols <= 0 || len(values) != rows*cols {
		return "", fmt.Errorf("viz: heatmap of %d values is not %dx%d", len(values), rows, cols)
	}
	return heatmap(title, values, rows, cols, scale, maxAbs(values))
}

// maxAbs returns the largest absolute finite value of the slices, or 1 if
// there is none other than zero.
func maxAbs(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			if finite(x) {
				m = math.Max(m, math.Abs(x))
			}
		}
	}
	if m == 0 {
		return 1
	}
	return m
}

// heatmap draws values on the diverging scale that saturates at ±top.
func heatmap(title string, values []float64, rows, cols, scale int, top float64) (string, error) {
	if scale <= 0 {
		scale = 6
	}
	head := 0
	if title != "" {
		head = 18
	}
	w, h := cols*scale, rows*scale+head
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	if title != "" {
		fmt.Fprintf(&b, `<text x="%d" y="13" text-anchor="middle">%s</text>`, w/2, esc(title))
	}
	// The cells are drawn at their size in the PNG itself, not scaled up by
	// the browser, which would blur them.
	img := image.NewRGBA(image.Rect(0, 0, w, rows*scale))
	for r := range rows {
		for c := range cols {
			draw.Draw(img, image.Rect(c*scale, r*scale, (c+1)*scale, (r+1)*scale), image.NewUniform(divergingRGB(values[r*cols+c]/top)), image.Point{}, draw.Src)
		}
	}
	var p bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&p, img); err != nil {
		return "", fmt.Errorf("viz: heatmap %q: %w", title, err)
	}
	fmt.Fprintf(&b, `<image x="0" y="%d" width="%d" height="%d" href="data:image/png;base64,%s"/>`, head, w, rows*scale, base64.StdEncoding.EncodeToString(p.Bytes()))
	b.WriteString(`</svg>`)
	return b.String(), nil
}

// Panel is one picture of a Figure: a rows x cols image stored row by row,
// and its caption.
type Panel struct {
	Values  []float64
	Caption string
}

// Figure draws heatmaps side by side on ONE colour scale, so that their
// values compare: a mask of ±100 and a gradient of ±0.05 do not look alike.
// The scale saturates at ±top, or at the largest absolute value of all the
// panels when top is 0; a colour bar after the panels prints its range.
// Each panel is rows x cols, drawn with cells px pixels wide.
func Figure(rows, cols, px int, top float64, panels ...Panel) (string, error) {
	all := make([][]float64, len(panels))
	for i, p := range panels {
		if rows <= 0 || cols <= 0 || len(p.Values) != rows*cols {
			return "", fmt.Errorf("viz: panel %d (%q) has %d values, not %dx%d", i, p.Caption, len(p.Values), rows, cols)
		}
		all[i] = p.Values
	}
	if !(top > 0) {
		top = maxAbs(all...)
	}
	items := make([]Captioned, 0, len(panels)+1)
	for _, p := range panels {
		svg, err := heatmap("", p.Values, rows, cols, px, top)
		if err != nil {
			return "", err
		}
		items = append(items, Captioned{HTML: svg, Caption: p.Caption})
	}
	items = append(items, Captioned{HTML: ColourBar(top), Caption: "colour scale"})
	return Row(items...), nil
}

// ColourBar draws the diverging scale of Figure from -top (blue) through 0
// (white) to +top (red), with the three values printed under it.
func ColourBar(top float64) string {
	const w, h, bar = 150, 40, 14
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, w, h, w, h)
	const x0, x1 = 10.0, 140.0
	for i := range 26 {
		t := float64(i)/12.5 - 1
		fmt.Fprintf(&b, `<rect x="%.1f" y="4" width="%.1f" height="%d" fill="%s"/>`, x0+float64(i)*(x1-x0)/26, (x1-x0)/26+0.5, bar, diverging(t))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="4" width="%g" height="%d" fill="none" stroke="#999"/>`, x0, x1-x0, bar)
	for _, l := range []struct {
		x      float64
		anchor string
		v      float64
	}{{x0, "start", -top}, {(x0 + x1) / 2, "middle", 0}, {x1, "end", top}} {
		fmt.Fprintf(&b, `<text x="%g" y="%d" text-anchor="%s">%s</text>`, l.x, bar+18, l.anchor, esc(fmt.Sprintf("%.3g", l.v)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// diverging maps t in [-1, 1] to blue (-1), white (0) and red (+1), as an
// SVG colour.
func diverging(t float64) string {
	c := divergingRGB(t)
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// divergingRGB is diverging's colour; grey for NaN and infinities.
func divergingRGB(t float64) color.RGBA {
	if !finite(t) {
		return color.RGBA{0x80, 0x80, 0x80, 0xff}
	}
	t = math.Max(-1, math.Min(1, t))
	mix := func(a, b float64) uint8 { return uint8(math.Round(a + (b-a)*math.Abs(t))) }
	if t < 0 {
		return color.RGBA{mix(255, 33), mix(255, 102), mix(255, 172), 0xff}
	}
	return color.RGBA{mix(255, 178), mix(255, 24), mix(255, 43), 0xff}
}

// Row lays pictures (SVG or any HTML) side by side, each with a caption
// below it, as one HTML fragment.
func Row(items ...Captioned) string {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-end">`)
	for _, it := range items {
		fmt.Fprintf(&b, `<figure style="margin:0;text-align:center">%s<figcaption style="font:12px sans-serif;max-width:220px">%s</figcaption></figure>`, it.HTML, esc(it.Caption))
	}
	b.WriteString(`</div>`)
	return b.String()
}

// Captioned is a picture with its caption, for Row.
type Captioned struct {
	HTML, Caption string
}

// Node is one box of a Diagram: a party or worker and what it holds.
type Node struct {
	Name, Detail string
}

// Edge is an arrow of a Diagram from one node to the next, with labels for
// what goes forward and what comes back.
type Edge struct {
	Forward, Backward string
}

// Diagram draws nodes left to right, joined by edges (len(edges) must be
// len(nodes)-1): the split of a network across workers, with what crosses
// each cut.
func Diagram(title string, nodes []Node, edges []Edge) (string, error) {
	if len(nodes) == 0 || len(edges) != len(nodes)-1 {
		return "", fmt.Errorf("viz: diagram needs n nodes and n-1 edges, got %d and %d", len(nodes), len(edges))
	}
	const bw, bh, gap, top = 150.0, 64.0, 170.0, 34.0
	w := int(float64(len(nodes))*bw + float64(len(edges))*gap + 20)
	h := int(top + bh + 40)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, w, h, w, h)
	b.WriteString(`<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#444"/></marker></defs>`)
	if title != "" {
		fmt.Fprintf(&b, `<text x="%d" y="18" text-anchor="middle" font-size="13" font-weight="bold">%s</text>`, w/2, esc(title))
	}
	for i, n := range nodes {
		x := 10 + float64(i)*(bw+gap)
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" rx="8" fill="%s" stroke="#444"/>`, x, top, bw, bh, []string{"#e8f1fa", "#fdf0e6", "#e8f6f0", "#f7eaf2"}[i%4])
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-weight="bold" font-size="12">%s</text>`, x+bw/2, top+22, esc(n.Name))
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`, x+bw/2, top+42, esc(n.Detail))
		if i < len(edges) {
			x1, x2 := x+bw+4, x+bw+gap-4
			fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444" marker-end="url(#a)"/>`, x1, top+20, x2, top+20)
			fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444" stroke-dasharray="4 3" marker-end="url(#a)"/>`, x2, top+bh-16, x1, top+bh-16)
			fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`, (x1+x2)/2, top+14, esc(edges[i].Forward))
			fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`, (x1+x2)/2, top+bh-4, esc(edges[i].Backward))
		}
	}
	b.WriteString(`</svg>`)
	return b.String(), nil
}

// Bytes formats a byte count for people: 512 B, 3.1 MB, 1.2 GB (SI units).
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// ticks returns about n round values between lo and hi.
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, math.Round(t/step)*step)
	}
	return out
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func esc(s string) string { return html.EscapeString(s) }
