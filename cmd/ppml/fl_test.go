package main

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
)

func TestFLUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func([]string) error
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
			if err := tc.run(tc.args); !errors.Is(err, errUsage) {
				t.Fatalf("error %v, want a usage error", err)
			}
		})
	}
}

// runParties runs `ppml fl server` with the server arguments and one `ppml
// fl client` per element of clients, all on a free loopback endpoint, and
// reports the parties that fail.
func runParties(t *testing.T, server []string, clients ...[]string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("tcp://%s", l.Addr())
	l.Close()
	var wg sync.WaitGroup
	errs := make([]error, 1+len(clients))
	wg.Go(func() { errs[0] = runFLServer(append([]string{"--listen", endpoint}, server...)) })
	for i, args := range clients {
		wg.Go(func() { errs[i+1] = runFLClient(append([]string{"--connect", endpoint, "--quiet"}, args...)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
}

// `ppml fl server` and two `ppml fl client`s train a round together.
func TestFLServerAndClients(t *testing.T) {
	runParties(t, []string{"--clients", "2", "--rounds", "1", "--local-epochs", "1", "--hidden", "8"},
		[]string{"--id", "0", "--hidden", "8"}, []string{"--id", "1", "--hidden", "8"})
}

// `ppml fl server` with DP-FedAvg and secure aggregation among each round's
// sample trains with one `ppml fl client --ids` process running all clients.
func TestFLServerDPWithClientRange(t *testing.T) {
	runParties(t, []string{"--clients", "12", "--rounds", "2", "--local-epochs", "1", "--hidden", "8",
		"--secagg", "--dp-clip", "0.5", "--dp-noise", "1", "--sample", "0.5", "--dp-seed", "3"},
		[]string{"--ids", "0-11", "--hidden", "8"})
}
