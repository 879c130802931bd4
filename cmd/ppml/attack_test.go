package main

import (
	"errors"
	"strings"
	"testing"
)

func TestAttackGradientCommand(t *testing.T) {
	out, err := stdoutOf(t, func() error {
		return runAttackGradient([]string{"--model", "mlp", "--batch", "1", "--images", "20", "--dtype", "float64"})
	})
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
		{"--dtype", "int8"},
	} {
		if err := runAttackGradient(args); !errors.Is(err, errUsage) {
			t.Errorf("ppml attack gradient %q: %v, want a usage error", args, err)
		}
	}
}
