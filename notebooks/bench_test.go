package notebooks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/runner"
)

// BenchmarkSolutionNotebook runs the teachers' notebook top to bottom on a
// fresh kernel and reports how much of its wall time goes to compiling
// cells. GoNB runs goimports and "go build" for every cell; the benchmark
// puts wrappers of both first on the kernel's PATH, which log how long each
// call takes. Metrics:
//
//	notebook-s  wall time of the whole run, kernel start included
//	cells-s     sum of the cells' execution times
//	compile-s   time in go and goimports (compiling, linking, formatting)
//	compile-%   compile-s / cells-s
//
// go test ./notebooks -run '^$' -bench SolutionNotebook -benchtime 1x
func BenchmarkSolutionNotebook(b *testing.B) {
	spec, err := runner.FindSpec(kernelName)
	if err != nil {
		b.Skipf("kernel %s is not installed (%v); install it with scripts/install-kernel.sh", kernelName, err)
	}
	nb := read(b, sourcePath)
	dir := b.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(dir, "tools.log")
	path := spec.Env["PATH"]
	if path == "" {
		path = os.Getenv("PATH")
	}
	for _, tool := range []string{"go", "goimports"} {
		real, err := lookPath(tool, path)
		if err != nil {
			b.Fatal(err)
		}
		// The wrapper logs "tool subcommand nanoseconds caller" per call;
		// the caller (the parent's command name) lets readToolLog count
		// each of GoNB's calls once, not again the go commands that
		// goimports and gopls run inside them.
		script := fmt.Sprintf("#!/bin/sh\nstart=$(date +%%s%%N)\n%q \"$@\"\nrc=$?\necho \"%s ${1:-none} $(( $(date +%%s%%N) - start )) $(cat /proc/$PPID/comm 2>/dev/null || echo unknown)\" >>%q\nexit $rc\n", real, tool, logPath)
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	wrapped := *spec
	wrapped.Env = map[string]string{}
	for k, v := range spec.Env {
		wrapped.Env[k] = v
	}
	wrapped.Env["PATH"] = bin + string(filepath.ListSeparator) + path
	wd, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}

	var total, cells, tools time.Duration
	byTool := map[string]time.Duration{}
	for b.Loop() {
		os.Remove(logPath)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		rep, err := runner.RunNotebook(ctx, nb, runner.RunOptions{Options: runner.Options{Dir: wd}, Spec: &wrapped, Timeout: 3 * time.Minute})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			b.Fatal(err)
		}
		total += rep.Duration
		for _, c := range rep.Cells {
			cells += c.Duration
		}
		calls, err := readToolLog(logPath)
		if err != nil {
			b.Fatal(err)
		}
		for k, d := range calls {
			byTool[k] += d
			tools += d
		}
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "notebook-s")
	b.ReportMetric(cells.Seconds()/n, "cells-s")
	b.ReportMetric(tools.Seconds()/n, "compile-s")
	b.ReportMetric(100*tools.Seconds()/cells.Seconds(), "compile-%")
	for k, d := range byTool {
		b.Logf("%-16s %6.2fs per run", k, d.Seconds()/n)
	}
}

// lookPath finds an executable in a PATH list.
func lookPath(file, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// readToolLog sums the wrappers' log by tool and subcommand, counting only
// the calls GoNB makes itself.
func readToolLog(path string) (map[string]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		if fields[3] != "gonb" {
			continue // a call made by goimports or gopls, inside one already counted
		}
		ns, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		key := fields[0]
		if fields[0] == "go" {
			key += " " + fields[1]
		}
		out[key] += time.Duration(ns)
	}
	return out, sc.Err()
}
