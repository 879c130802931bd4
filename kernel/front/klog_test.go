package front

import (
	"strings"
	"testing"
)

func TestKlogFilter(t *testing.T) {
	in := "I1125 11:36:21.006577   13556 main.go:190] starting\n" +
		"goroutine 1 [running]:\n" + // continues the informational record
		"W1125 11:36:21.006577   13556 main.go:190] [x] Warning message\n" +
		"W1125 11:36:21.006716   13556 exec.go:124] gopls failed\n" +
		"E1125 11:36:21.006716   13556 exec.go:124] broken\n" +
		"  detail of broken\n"
	var quiet, verbose strings.Builder
	for _, c := range []struct {
		f *klogFilter
	}{{&klogFilter{w: &quiet}}, {&klogFilter{w: &verbose, verbose: true}}} {
		// Written in odd pieces, as a pipe delivers it.
		for i := 0; i < len(in); i += 7 {
			c.f.Write([]byte(in[i:min(i+7, len(in))]))
		}
	}
	wantQuiet := "W1125 11:36:21.006716   13556 exec.go:124] gopls failed\n" +
		"E1125 11:36:21.006716   13556 exec.go:124] broken\n" +
		"  detail of broken\n"
	if quiet.String() != wantQuiet {
		t.Errorf("filtered log:\n%s\nwant:\n%s", quiet.String(), wantQuiet)
	}
	if verbose.String() != in {
		t.Errorf("verbose log:\n%s\nwant:\n%s", verbose.String(), in)
	}
}
