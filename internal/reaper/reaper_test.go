//go:build linux

package reaper

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	Main()
	if os.Getenv("REAPER_TEST_PARENT") == "1" {
		os.Exit(parent())
	}
	os.Exit(m.Run())
}

// parent is a program that starts a shell under a guardian; the shell
// orphans a sleep (its subshell exits) and sleeps itself. It prints "ready"
// when both run and waits to be killed.
func parent() int {
	cmd, guarded := Command("sh", "-c", "(sleep 300 &); echo ready; exec sleep 300")
	if !guarded {
		os.Stdout.WriteString("not guarded\n")
		return 1
	}
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		return 1
	}
	cmd.Wait()
	return 0
}

func waitNoneLeft(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(WithEnv(marker)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", WithEnv(marker))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestParentKilled kills the program that started a guarded command with
// SIGKILL: the guardian must kill the command and the process it orphaned.
func TestParentKilled(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := "REAPER_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "REAPER_TEST_PARENT=1", marker)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("parent said %q, want ready", line)
	}
	if n := len(WithEnv(marker)); n < 4 { // parent, guardian, shell's sleep, orphaned sleep
		t.Errorf("%d marked processes before the kill, want 4", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitNoneLeft(t, marker)
}

// TestCommandExits checks that the guardian passes on the command's exit
// status and kills what the command orphaned.
func TestCommandExits(t *testing.T) {
	marker := "REAPER_TEST_MARK=exit-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	cmd, guarded := Command("sh", "-c", "(sleep 300 &); exit 3")
	if !guarded {
		t.Fatal("Command did not start a guardian after Main")
	}
	cmd.Env = append(cmd.Env, marker)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("guarded sh -c 'exit 3': %v, want exit status 3", err)
	}
	waitNoneLeft(t, marker)
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat string
		want Process
		ok   bool
	}{
		{"42 (sleep) S 7 42 42 0", Process{PID: 42, PPID: 7, State: "S"}, true},
		{"43 (a (b) c) Z 1 0", Process{PID: 43, PPID: 1, State: "Z"}, true},
		{"44 (x) R", Process{}, false},
		{"garbage", Process{}, false},
	}
	for _, tt := range tests {
		got, ok := parseStat(tt.stat)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tt.stat, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 & exec sleep 301")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { KillDescendants(os.Getpid()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var direct, grand int
		for _, p := range Descendants(os.Getpid()) {
			if p.PID == cmd.Process.Pid {
				direct++
			} else if p.PPID == cmd.Process.Pid {
				grand++
			}
		}
		if direct == 1 && grand == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Descendants: %d child and %d grandchild, want 1 and 1", direct, grand)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if killed := KillDescendants(os.Getpid()); len(killed) != 2 {
		t.Errorf("KillDescendants killed %v, want 2 processes", killed)
	}
	if d := Descendants(os.Getpid()); len(d) != 0 {
		t.Errorf("after KillDescendants: %+v", d)
	}
}
