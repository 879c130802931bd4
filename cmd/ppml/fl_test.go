package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestFLUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(stdout, stderr io.Writer, args []string) error
		args []string
	}{
		{"fedavg unknown flag", runFedAvg, []string{"--bogus"}},
		{"fedavg extra argument", runFedAvg, []string{"extra"}},
		{"fedavg bad digits", runFedAvg, []string{"--digits", "0,x"}},
		{"fedavg zero clients", runFedAvg, []string{"--clients", "0"}},
		{"fedavg negative lr", runFedAvg, []string{"--lr", "-1"}},
		{"server bad digits", runFLServer, []string{"--digits", ""}},
		{"client unknown flag", runFLClient, []string{"--bogus"}},
		{"fedavg negative dp clip", runFedAvg, []string{"--dp-clip", "-1"}},
		{"fedavg dp sample above 1", runFedAvg, []string{"--dp-clip", "1", "--sample", "2"}},
		{"fedavg sweep without dp", runFedAvg, []string{"--dp-sweep", "0,1"}},
		{"fedavg bad sweep", runFedAvg, []string{"--dp-clip", "1", "--dp-sweep", "0,x"}},
		{"client bad ids", runFLClient, []string{"--ids", "5-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(io.Discard, io.Discard, tc.args); !errors.Is(err, errUsage) {
				t.Fatalf("error %v, want a usage error", err)
			}
		})
	}
}

// runParties runs `ppml fl server` with the server arguments and one `ppml
// fl client` per element of clients, all on a free loopback endpoint,
// reports the parties that fail, and returns what each party wrote to its
// stdout and its stderr, the server's first.
func runParties(t *testing.T, server []string, clients ...[]string) (stdout, stderr []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("tcp://%s", l.Addr())
	l.Close()
	var wg sync.WaitGroup
	n := 1 + len(clients)
	errs, stdout, stderr := make([]error, n), make([]string, n), make([]string, n)
	wg.Go(func() {
		stdout[0], stderr[0], errs[0] = output(runFLServer, append([]string{"--listen", endpoint}, server...)...)
	})
	for i, args := range clients {
		wg.Go(func() {
			stdout[i+1], stderr[i+1], errs[i+1] = output(runFLClient, append([]string{"--connect", endpoint}, args...)...)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v\n%s", i, err, stderr[i])
		}
	}
	return stdout, stderr
}

// checkLines checks that out matches the regular expressions, a line each.
func checkLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Errorf("%s printed %d lines, want %d:\n%s", what, len(lines), len(want), out)
		return
	}
	for i, re := range want {
		if !regexp.MustCompile("^" + re + "$").MatchString(lines[i]) {
			t.Errorf("%s line %d: %q, want %q", what, i+1, lines[i], re)
		}
	}
}

const (
	num      = `[0-9]+(\.[0-9]+)?`
	accuracy = `(0\.[0-9]{4}|1\.0000)`
)

// `ppml fl server` and two `ppml fl client`s train a round together: the
// server prints the round and the test accuracy, logs the joins, and a
// client not --quiet logs its round.
func TestFLServerAndClients(t *testing.T) {
	stdout, stderr := runParties(t, []string{"--clients", "2", "--rounds", "1", "--local-epochs", "1", "--hidden", "8"},
		[]string{"--id", "0", "--hidden", "8", "--quiet"}, []string{"--id", "1", "--hidden", "8"})
	checkLines(t, "fl server", stdout[0],
		`round  1: loss `+num+`  sparse_categorical_accuracy `+accuracy+`  \(2 clients, [0-9]+ examples\)`,
		`test accuracy `+accuracy+` on 2115 images; training `+num+` s`)
	for _, want := range []string{"fl server: listening on tcp://127.0.0.1:", `level=INFO msg="fedavg server: client 0 joined" cmd="fl server"`, `msg="fedavg server: client 1 joined"`} {
		if !strings.Contains(stderr[0], want) {
			t.Errorf("the server's stderr lacks %q:\n%s", want, stderr[0])
		}
	}
	if stdout[1] != "" || stderr[1] != "" {
		t.Errorf("a --quiet client printed %q and logged %q", stdout[1], stderr[1])
	}
	if want := `level=INFO msg="fedavg client 1: round 0 trained on `; !strings.Contains(stderr[2], want) {
		t.Errorf("client 1's log lacks %q:\n%s", want, stderr[2])
	}
}

// `ppml fl server` with DP-FedAvg and secure aggregation among each round's
// sample trains with one `ppml fl client --ids` process running all clients,
// printing each round's sample and epsilon.
func TestFLServerDPWithClientRange(t *testing.T) {
	stdout, _ := runParties(t, []string{"--clients", "12", "--rounds", "2", "--local-epochs", "1", "--hidden", "8",
		"--secagg", "--dp-clip", "0.5", "--dp-noise", "1", "--sample", "0.5", "--dp-seed", "3"},
		[]string{"--ids", "0-11", "--hidden", "8", "--quiet"})
	round := `: loss ` + num + `  sparse_categorical_accuracy ` + accuracy + `  \([0-9]+ clients, [0-9]+ examples\)  sampled [0-9]+  epsilon ` + num + ` \(delta ` + num + `e-[0-9]+\).*`
	checkLines(t, "fl server", stdout[0], `round  1`+round, `round  2`+round,
		`test accuracy `+accuracy+` on 2115 images; training `+num+` s`)
}
