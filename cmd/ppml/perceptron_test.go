package main

import (
	"errors"
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
		err := runPerceptron(tt.args)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ppml fl perceptron %q: error %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestPerceptronCommand(t *testing.T) {
	if _, err := mnistio.Dir(); err != nil {
		t.Skipf("MNIST not installed: %v", err)
	}
	for _, args := range [][]string{
		{"--mode", "single", "--rounds", "2"},
		{"--mode", "masked", "--rounds", "2"},
		{"--mode", "fedavg", "--partition", "dirichlet", "--alpha", "0.1", "--rounds", "2"},
	} {
		if err := runPerceptron(args); err != nil {
			t.Errorf("ppml fl perceptron %q: %v", args, err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--per-party", "50"}, "need 500 examples"},
		{[]string{"--partition", "x"}, `--partition "x"`},
		{[]string{"--mode", "masked", "--fraction", "0.5"}, "every party in every round"},
	} {
		if err := runPerceptron(tt.args); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ppml fl perceptron %q: error %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}
