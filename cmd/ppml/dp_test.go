package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// output runs the subcommand run with args and returns what it wrote to
// its stdout and its stderr.
func output(run func(stdout, stderr io.Writer, args []string) error, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = run(&o, &e, args)
	return o.String(), e.String(), err
}

func TestDPEpsilonCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--q", "0.0025", "--noise", "1.3", "--steps", "6000", "--delta", "1e-5"}, "epsilon 0.72422340261"},
		{[]string{"--n", "60000", "--batch", "150", "--epochs", "15", "--noise", "1.3", "--delta", "1e-5"}, "epsilon 0.72422340261"},
		{[]string{"--n", "100000", "--batch", "100", "--epochs", "30", "--noise", "1.0", "--delta", "1e-7"}, "epsilon 1.41549884954"},
	} {
		out, _, err := output(runDPEpsilon, tc.args...)
		if err != nil || !strings.HasPrefix(out, tc.want) {
			t.Errorf("ppml dp epsilon %q: %q, %v; want %q...", tc.args, out, err, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--q", "0.01", "--noise", "1"},
		{"--n", "100", "--noise", "1"},
		{"--q", "0.01", "--steps", "10"},
		{"--q", "2", "--steps", "10", "--noise", "1"},
		{"--n", "100", "--batch", "10", "--epochs", "1", "--q", "0.1", "--noise", "1"},
	} {
		if err := runDPEpsilon(io.Discard, io.Discard, args); !errors.Is(err, errUsage) {
			t.Errorf("ppml dp epsilon %q: %v, want a usage error", args, err)
		}
	}
}
