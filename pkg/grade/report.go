package grade

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteGradebook writes dir/gradebook.csv (one row per student and test)
// and dir/gradebook.json (one object per student), and one feedback page
// per student in dir/feedback/<student>.html.
func WriteGradebook(dir string, grades []*Grade) error {
	if err := os.MkdirAll(filepath.Join(dir, "feedback"), 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "gradebook.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"student", "test", "points", "max_points", "status", "message", "student_score", "student_max", "tampered", "issues"})
	for _, g := range grades {
		var issues []string
		for _, i := range g.Issues {
			issues = append(issues, i.String())
		}
		for _, t := range g.Tests {
			w.Write([]string{g.Student, t.ID, num(t.Points), num(t.MaxPoints), t.Status, t.Message,
				num(g.Score), num(g.MaxScore), strconv.FormatBool(g.Tampered), strings.Join(issues, "; ")})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
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

var feedbackPage = template.Must(template.New("feedback").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {{.Student}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;color:#222}
.test{border:1px solid #ccc;border-radius:6px;margin:1em 0;padding:.6em 1em}
.passed{border-left:6px solid #2a2}.failed{border-left:6px solid #c22}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.issue{background:#fff4d6;padding:.4em .8em;margin:.3em 0;border-radius:4px}
</style></head><body>
<h1>Feedback for {{.Student}}</h1>
<p><strong>Score: {{.Score}} / {{.MaxScore}}</strong></p>
{{if .Issues}}<h2>Notes on your notebook</h2>{{range .Issues}}<div class="issue"><strong>{{.Kind}}</strong>{{if .Cell}} ({{.Cell}}){{end}}: {{.Message}}</div>{{end}}{{end}}
<h2>Tests</h2>
{{range .Tests}}<div class="test {{if eq .Status "passed"}}passed{{else}}failed{{end}}">
<h3>{{.ID}}: {{if eq .Status "passed"}}passed{{else}}{{.Status}}{{end}} ({{.Points}} / {{.MaxPoints}} points)</h3>
{{if .Message}}<pre>{{.Message}}</pre>{{end}}
{{if and .Hint (ne .Status "passed")}}<p><em>Hint:</em> {{.Hint}}</p>{{end}}
</div>{{end}}
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
