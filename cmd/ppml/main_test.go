package main

import (
	"bytes"
	"strings"
	"testing"
)

// The command table dispatches one- and two-word commands, lists them all in
// the usage, and maps failures to exit statuses.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // substrings
	}{
		{[]string{"dp", "epsilon", "--q", "0.0025", "--noise", "1.3", "--steps", "6000"}, 0, "epsilon 0.72422340261", ""},
		{nil, 2, "", "usage: ppml COMMAND"},
		{[]string{"help"}, 0, "", "  attack split-labels "},
		{[]string{"fl", "bogus"}, 2, "", `ppml: unknown command "fl bogus"`},
		{[]string{"dp", "epsilon", "--q", "0.01"}, 2, "", "ppml dp epsilon: usage error: give --q and --steps"},
		{[]string{"dp", "epsilon", "-h"}, 0, "", "-noise float"},
		{[]string{"run", "/nonexistent.ipynb"}, 1, "", "ppml run: "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(&stdout, &stderr, tc.args)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("ppml %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
	var usage bytes.Buffer
	run(&usage, &usage, []string{"help"})
	for _, c := range commands {
		if !strings.Contains(usage.String(), "  "+c.name+" ") {
			t.Errorf("the usage does not list %q:\n%s", c.name, usage.String())
		}
	}
}
