package grade

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteGradebook writes the gradebook of a class to dir:
//
//   - gradebook.csv, one row per student: student, score, max_score, status
//     (graded, not-graded or refused), one column of points per test (by
//     grade_id), tampered, and the issues or the reason it was not graded;
//   - gradebook-tests.csv, one row per student and test (the long format);
//   - gradebook.json, one object per student (see Grade);
//   - feedback/STUDENT.html, one feedback page per student.
//
// A submission that was not graded has empty scores and points (null in
// JSON): never a zero.
func WriteGradebook(dir string, grades []*Grade) error {
	if err := os.MkdirAll(filepath.Join(dir, "feedback"), 0o755); err != nil {
		return err
	}
	var tests []string // the test columns, in the notebook's order
	for _, g := range grades {
		for _, t := range g.Tests {
			if !slices.Contains(tests, t.ID) {
				tests = append(tests, t.ID)
			}
		}
	}
	wide := [][]string{append(append([]string{"student", "score", "max_score", "status"}, tests...), "tampered", "notes")}
	long := [][]string{{"student", "test", "points", "max_points", "status", "message", "student_score", "student_max", "tampered", "issues"}}
	for _, g := range grades {
		notes := g.NotGraded
		if notes == "" {
			var issues []string
			for _, i := range g.Issues {
				issues = append(issues, i.String())
			}
			notes = strings.Join(issues, "; ")
		}
		points := map[string]string{}
		for _, t := range g.Tests {
			points[t.ID] = g.points(t.Points)
			long = append(long, []string{g.Student, t.ID, g.points(t.Points), num(t.MaxPoints), string(t.Status), t.Message,
				g.points(g.Score), num(g.MaxScore), strconv.FormatBool(g.Tampered), notes})
		}
		row := []string{g.Student, g.points(g.Score), num(g.MaxScore), g.Status()}
		for _, id := range tests {
			row = append(row, points[id])
		}
		wide = append(wide, append(row, strconv.FormatBool(g.Tampered), notes))
	}
	for name, rows := range map[string][][]string{"gradebook.csv": wide, "gradebook-tests.csv": long} {
		if err := writeCSV(filepath.Join(dir, name), rows); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(grades, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "gradebook.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	for _, g := range grades {
		if err := WriteFeedback(filepath.Join(dir, "feedback", safeName(g.Student)+".html"), g); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Status is the submission's status in the gradebook: "graded",
// "not-graded" (a failure of the grader) or "refused" (the file).
func (g *Grade) Status() string {
	switch {
	case g.Refused:
		return "refused"
	case g.NotGraded != "":
		return string(NotGraded)
	}
	return "graded"
}

// points formats points of g for the gradebook: empty when g was not
// graded.
func (g *Grade) points(p float64) string {
	if g.NotGraded != "" {
		return ""
	}
	return num(p)
}

// MarshalJSON writes g with a null score (and null points) when it was
// not graded.
func (g *Grade) MarshalJSON() ([]byte, error) {
	type plain Grade
	v := struct {
		*plain
		Score *float64 `json:"score"`
	}{plain: (*plain)(g)}
	if g.NotGraded == "" {
		v.Score = &g.Score
	}
	return json.Marshal(v)
}

// MarshalJSON writes t with null points when it was not graded.
func (t TestResult) MarshalJSON() ([]byte, error) {
	type plain TestResult
	v := struct {
		plain
		Points *float64 `json:"points"`
	}{plain: plain(t)}
	if t.Status != NotGraded {
		v.Points = &t.Points
	}
	return json.Marshal(v)
}

// ReadGradebook reads the grades of a gradebook.json written by
// WriteGradebook (for --resume).
func ReadGradebook(dir string) ([]*Grade, error) {
	data, err := os.ReadFile(filepath.Join(dir, "gradebook.json"))
	if err != nil {
		return nil, err
	}
	var grades []*Grade
	if err := json.Unmarshal(data, &grades); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "gradebook.json"), err)
	}
	return grades, nil
}

// Summary writes the end of a run for the teacher: how many submissions
// were graded, refused and not graded (each with its reason), the mean
// score and a histogram of the scores in text.
func Summary(w io.Writer, grades []*Grade) {
	var graded []*Grade
	var failed, refused []*Grade
	for _, g := range grades {
		switch g.Status() {
		case "graded":
			graded = append(graded, g)
		case "refused":
			refused = append(refused, g)
		default:
			failed = append(failed, g)
		}
	}
	fmt.Fprintf(w, "graded: %d, refused: %d, not graded (grader failures): %d, of %d submissions\n",
		len(graded), len(refused), len(failed), len(grades))
	for _, l := range []struct {
		what   string
		grades []*Grade
	}{{"refused", refused}, {"NOT GRADED", failed}} {
		// By reason: one broken kernel fails a whole class the same way.
		var reasons []string
		students := map[string][]string{}
		for _, g := range l.grades {
			why := firstLines(g.NotGraded, 1)
			if students[why] == nil {
				reasons = append(reasons, why)
			}
			students[why] = append(students[why], g.Student)
		}
		for _, why := range reasons {
			fmt.Fprintf(w, "  %s (%d): %s\n      %s\n", l.what, len(students[why]), why, strings.Join(students[why], ", "))
		}
	}
	if len(graded) == 0 {
		return
	}
	var sum, maxScore float64
	for _, g := range graded {
		sum += g.Score
		maxScore = max(maxScore, g.MaxScore)
	}
	fmt.Fprintf(w, "mean score %.2f / %g over the %d graded\n", sum/float64(len(graded)), maxScore, len(graded))
	// One bar per point, 0 to the maximum; over 20 points, ten bars of a
	// tenth of the maximum each, the last one closed (it holds full marks).
	bins, width := int(maxScore)+1, 1.0
	if maxScore > 20 {
		bins, width = 10, maxScore/10
	}
	counts := make([]int, bins)
	for _, g := range graded {
		counts[min(bins-1, max(0, int(g.Score/width)))]++
	}
	most := slices.Max(counts)
	for i, c := range counts {
		bar := strings.Repeat("#", (c*40+most-1)/max(most, 1))
		label := num(float64(i))
		if width != 1 {
			label = fmt.Sprintf("%s-%s", bound(float64(i)*width), bound(float64(i+1)*width))
		}
		fmt.Fprintf(w, "  %9s | %-40s %d\n", label, bar, c)
	}
}

// bound writes a histogram bin's bound to one decimal at most.
func bound(f float64) string { return num(math.Round(f*10) / 10) }

// num writes a score or points as they are.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// safeName makes a student id usable as a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// statusLabels are the words a student reads for each test status.
var statusLabels = map[TestStatus]string{
	Passed:       "Passed",
	Failed:       "Failed",
	NotAttempted: "Not attempted",
	NoCompile:    "Does not compile",
	TimedOut:     "Too slow (time limit)",
	KernelDied:   "Crashed",
	Incomplete:   "Did not finish",
	Overridden:   "Not counted",
	NotGraded:    "Not graded",
}

// issueLabels are the headings of the notes on a submission.
var issueLabels = map[string]string{
	Tampered:   "Changed cell",
	Missing:    "Missing cell",
	Reordered:  "Cells moved",
	Invalid:    "Unusable file",
	Suspicious: "To review",
}

var feedbackPage = template.Must(template.New("feedback").Funcs(template.FuncMap{
	"label": func(status TestStatus) string {
		if l, ok := statusLabels[status]; ok {
			return l
		}
		return string(status)
	},
	"issue": func(kind string) string {
		if l, ok := issueLabels[kind]; ok {
			return l
		}
		return kind
	},
	"num":  num,
	"base": filepath.Base,
	"percent": func(score, max float64) float64 {
		if max == 0 {
			return 0
		}
		return 100 * score / max
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2 January 2006, 15:04")
	},
	"name": func(t TestResult) string {
		if t.Title != "" {
			return t.Title
		}
		return t.ID
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feedback: {{.Student}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:52em;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin:0 0 .2em}
h2{font-size:1.2em;margin:1.6em 0 .6em}
.meta{color:#59636e;margin:0 0 1em}
.score{display:flex;align-items:center;gap:1em;margin:1em 0 1.5em}
.score strong{font-size:1.5em;white-space:nowrap}
.bar{flex:1;height:.8em;background:#eaeef2;border-radius:.4em;overflow:hidden}
.bar span{display:block;height:100%;background:#1a7f37}
table{border-collapse:collapse;width:100%}
td,th{padding:.45em .6em;border-bottom:1px solid #d1d9e0;text-align:left;vertical-align:top}
th{font-weight:600;color:#59636e;font-size:.9em}
td.pts{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05em .6em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}
.passed .badge{background:#dafbe1;color:#116329}
.failed .badge,.compile-error .badge,.timeout .badge,.died .badge,.incomplete .badge{background:#ffebe9;color:#a40e26}
.not-attempted .badge,.not-graded .badge,.overridden .badge{background:#eaeef2;color:#424a53}
.test{border:1px solid #d1d9e0;border-left-width:6px;border-radius:6px;margin:1em 0;padding:.6em 1em}
.test.failed,.test.compile-error,.test.timeout,.test.died,.test.incomplete{border-left-color:#cf222e}
.test.not-attempted,.test.not-graded,.test.overridden{border-left-color:#8c959f}
.test h3{margin:.2em 0 .5em;font-size:1.05em;display:flex;justify-content:space-between;gap:1em}
pre{background:#f6f8fa;border-radius:4px;padding:.6em .8em;overflow-x:auto;white-space:pre-wrap;font-size:.88em;margin:.5em 0}
.hint{background:#ddf4ff;border-radius:4px;padding:.4em .8em;margin:.5em 0}
details summary{cursor:pointer;color:#0969da;font-size:.9em}
.issue{background:#fff8c5;border-radius:4px;padding:.4em .8em;margin:.4em 0}
.ok{color:#116329}
a{color:#0969da;text-decoration:none}
</style></head><body>
<h1>Feedback: {{.Student}}</h1>
<p class="meta">{{with .Submitted}}Notebook {{base .}}{{end}}{{with when .Graded}} · graded {{.}}{{end}}</p>
{{if .NotGraded}}<div class="issue"><strong>{{if .Refused}}Not graded: the file was refused{{else}}Not graded yet: the grader could not run your notebook{{end}}</strong>. No points were given or taken: {{.NotGraded}}</div>
{{else}}<div class="score"><strong>{{num .Score}} / {{num .MaxScore}} points</strong>
<div class="bar" role="img" aria-label="{{printf "%.0f" (percent .Score .MaxScore)}} %"><span style="width:{{printf "%.1f" (percent .Score .MaxScore)}}%"></span></div></div>{{end}}
{{if .Issues}}<h2>Notes on your notebook</h2>
{{range .Issues}}<div class="issue"><strong>{{issue .Kind}}</strong>{{if .Cell}} (cell {{.Cell}}){{end}}: {{.Message}}</div>
{{end}}{{end}}
<h2>Exercises</h2>
<table><tr><th>Exercise</th><th>Result</th><th class="pts">Points</th></tr>
{{range .Tests}}<tr class="{{.Status}}"><td>{{if eq .Status "passed"}}{{name .}}{{else}}<a href="#{{.ID}}">{{name .}}</a>{{end}}</td>
<td><span class="badge">{{label .Status}}</span></td><td class="pts">{{if eq .Status "not-graded"}}– / {{num .MaxPoints}}{{else}}{{num .Points}} / {{num .MaxPoints}}{{end}}</td></tr>
{{end}}</table>
{{$failed := false}}{{range .Tests}}{{if ne .Status "passed"}}{{$failed = true}}{{end}}{{end}}
{{if $failed}}<h2>What to fix</h2>
{{range .Tests}}{{if ne .Status "passed"}}<div class="test {{.Status}}" id="{{.ID}}">
<h3><span>{{name .}}</span><span class="badge">{{label .Status}}</span></h3>
{{with .Message}}<pre>{{.}}</pre>{{end}}
{{with .Hint}}<div class="hint"><strong>Hint:</strong> {{.}}</div>{{end}}
{{if .Code}}<details><summary>Show the test (cell {{.ID}})</summary><pre>{{.Code}}</pre></details>{{end}}
</div>
{{end}}{{end}}{{else}}<p class="ok">Every test passed.</p>{{end}}
</body></html>
`))

// WriteFeedback writes the HTML feedback page of one student.
func WriteFeedback(path string, g *Grade) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := feedbackPage.Execute(f, g); err != nil {
		f.Close()
		return fmt.Errorf("feedback %s: %w", path, err)
	}
	return f.Close()
}
