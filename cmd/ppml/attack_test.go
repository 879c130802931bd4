package main

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestAttackGradientCommand(t *testing.T) {
	out, _, err := output(runAttackGradient, "--model", "mlp", "--batch", "1", "--images", "20", "--dtype", "float64")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "mlp batch 1, 1 client(s), dp noise 0:") || !strings.Contains(out, "reconstruction: median PSNR ") ||
		!strings.HasSuffix(out, "labels 20 of 20\n") {
		t.Errorf("ppml attack gradient printed:\n%s", out)
	}
	for _, args := range [][]string{
		{"--model", "cnn"},
		{"--batch", "3", "--images", "16"},
		{"--secagg-clients", "0"},
		{"--dp-noise", "x"},
		{"--method", "magic"},
		{"--method", "analytic", "--batch", "4"},
		{"--dtype", "int8"},
	} {
		if err := runAttackGradient(io.Discard, io.Discard, args); !errors.Is(err, errUsage) {
			t.Errorf("ppml attack gradient %q: %v, want a usage error", args, err)
		}
	}
}

func TestAttackSplitLabelsCommand(t *testing.T) {
	out, _, err := output(runAttackSplitLabels, "--train", "3000", "--epochs", "1", "--defence", "maxnorm")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "leak AUC: norm ") || !strings.Contains(last, "; test accuracy ") {
		t.Errorf("ppml attack split-labels printed:\n%s", out)
	}
	for _, args := range [][]string{
		{"--defence", "marvell"},
		{"--positive", "12"},
		{"--train", "0"},
		{"--batch", "1", "--train", "100"},
	} {
		if err := runAttackSplitLabels(io.Discard, io.Discard, args); !errors.Is(err, errUsage) {
			t.Errorf("ppml attack split-labels %q: %v, want a usage error", args, err)
		}
	}
}
