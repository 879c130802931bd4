package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ppml-go/ppml/pkg/mnistio"
)

func TestPerceptronUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "sgd"}, `--mode "sgd"`},
		{[]string{"--rounds", "x"}, "invalid value"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		err := runPerceptron(io.Discard, io.Discard, tt.args)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ppml fl perceptron %q: error %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestPerceptronCommand(t *testing.T) {
	if _, err := mnistio.Dir(); err != nil {
		t.Skipf("MNIST not installed: %v", err)
	}
	const (
		metric = ` ` + accuracy
		final  = `test accuracy (0\.9[0-9]{3}|1\.0000) on 400 images; training ` + num + ` s`
	)
	for _, tt := range []struct {
		args []string
		want []string // a regular expression per line
	}{
		{[]string{"--mode", "single", "--rounds", "2"}, []string{
			`epoch  0: loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric,
			`epoch  1: loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric,
			final}},
		{[]string{"--mode", "masked", "--rounds", "2"}, []string{
			`round  0: train loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric + `  \(10 parties\)`,
			`round  1: train loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric + `  \(10 parties\)`,
			final}},
		{[]string{"--mode", "fedavg", "--partition", "dirichlet", "--alpha", "0.1", "--rounds", "2"}, []string{
			`[0-9]+ of 10 parties got no examples and are left out`,
			`round  0: train loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric + `  \([0-9]+ parties\)`,
			`round  1: train loss ` + num + `  train accuracy` + metric + `  test accuracy` + metric + `  \([0-9]+ parties\)`,
			final}},
	} {
		out, _, err := output(runPerceptron, tt.args...)
		if err != nil {
			t.Errorf("ppml fl perceptron %q: %v", tt.args, err)
			continue
		}
		checkLines(t, fmt.Sprintf("ppml fl perceptron %q", tt.args), out, tt.want...)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--per-party", "50"}, "need 500 examples"},
		{[]string{"--partition", "x"}, `--partition "x"`},
		{[]string{"--mode", "masked", "--fraction", "0.5"}, "every party in every round"},
	} {
		if err := runPerceptron(io.Discard, io.Discard, tt.args); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ppml fl perceptron %q: error %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}
