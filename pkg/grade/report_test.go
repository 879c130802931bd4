package grade

import (
	"strings"
	"testing"
)

func TestSummaryHistogram(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		max    float64
		want   []string // the histogram's lines, bars left out
	}{
		{"one bar per point", []float64{0, 3, 3, 12}, 12,
			[]string{"0 1", "1 0", "2 0", "3 2", "4 0", "5 0", "6 0", "7 0", "8 0", "9 0", "10 0", "11 0", "12 1"}},
		{"tenths, full marks in the last bar", []float64{0, 7, 24, 24, 21.6}, 24,
			[]string{"0-2.4 1", "2.4-4.8 0", "4.8-7.2 1", "7.2-9.6 0", "9.6-12 0", "12-14.4 0", "14.4-16.8 0",
				"16.8-19.2 0", "19.2-21.6 0", "21.6-24 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var grades []*Grade
			for _, s := range tc.scores {
				grades = append(grades, &Grade{Score: s, MaxScore: tc.max})
			}
			grades = append(grades, &Grade{Student: "x", NotGraded: "the kernel did not start"})
			var b strings.Builder
			Summary(&b, grades)
			var got []string
			for _, l := range strings.Split(b.String(), "\n") {
				if label, rest, ok := strings.Cut(l, " | "); ok {
					f := strings.Fields(rest)
					got = append(got, strings.TrimSpace(label)+" "+f[len(f)-1])
				}
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("histogram:\n%s\nwant the bins %q", b.String(), tc.want)
			}
			if !strings.Contains(b.String(), "not graded (grader failures): 1") {
				t.Errorf("summary does not count the submission not graded:\n%s", b.String())
			}
		})
	}
}
