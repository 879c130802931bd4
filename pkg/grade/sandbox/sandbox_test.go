package sandbox

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func newTest(t *testing.T) (*Sandbox, string, string) {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("the sandbox cannot run here: %v (scripts/install-test-deps.sh installs bubblewrap)", err)
	}
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "source.ipynb")
	os.WriteFile(secret, []byte("hidden tests"), 0o644)
	outside := t.TempDir()
	cfg := &Config{
		ReadOnly: []string{secretDir, outside},
		Hide:     []string{secret},
		Work:     t.TempDir(),
		Env:      []string{"PATH=/usr/bin:/bin"},
		Memory:   256 << 20,
		Procs:    64,
		CPU:      20 * time.Second,
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, secret, outside
}

func run(t *testing.T, s *Sandbox, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Command(ctx, []string{"/bin/sh", "-c", script}, nil, false).CombinedOutput()
	return string(out), err
}

func TestSandboxContains(t *testing.T) {
	s, secret, outside := newTest(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name, script, want string
	}{
		{"reads hidden file", "cat " + secret + "; echo rc=$?", "rc=0"},
		{"writes outside", "echo x > " + outside + "/pwned; echo rc=$?", "rc=0"},
		{"writes /etc", "echo x > /etc/pwned; echo rc=$?", "rc=0"},
		{"reaches host port", "exec 3<>/dev/tcp/127.0.0.1/" + itoa(port) + " && echo connected", "connected"},
		{"sees host processes", "ls /proc | grep -c '^[0-9]' | awk '$1>10{print \"many\"}'", "many"},
	}
	for _, tt := range tests {
		out, _ := run(t, s, strings.ReplaceAll(tt.script, "exec 3<>", "bash -c 'exec 3<>")+map[bool]string{true: "'", false: ""}[strings.Contains(tt.script, "exec 3<>")])
		if strings.Contains(out, tt.want) || strings.Contains(out, "hidden tests") {
			t.Errorf("%s: sandbox allowed it:\n%s", tt.name, out)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
		t.Error("a file was written outside the work dir")
	}
	out, err := run(t, s, "echo hello > $HOME/f && cat $HOME/f && pwd && id -u")
	if err != nil || !strings.Contains(out, "hello\n"+Home+"\n1000") {
		t.Errorf("work dir: %v\n%s", err, out)
	}
}

func TestSandboxLimits(t *testing.T) {
	s, _, _ := newTest(t)
	start := time.Now()
	out, _ := run(t, s, `bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 1; echo survived`)
	t.Logf("fork bomb: %q in %v", out, time.Since(start))
	out, err := run(t, s, `python3 -c "b = b'x' * (600 << 20); print('done')"`)
	if err == nil && strings.Contains(out, "done") {
		memCG, _ := s.Limited()
		if memCG {
			t.Errorf("allocating 600 MB under a 256 MB limit succeeded: %s", out)
		}
	}
}

func TestMain(m *testing.M) {
	if code, ok := Main(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSandboxSources(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("the sandbox cannot run here: %v (scripts/install-test-deps.sh installs bubblewrap)", err)
	}
	root := t.TempDir()
	files := map[string]bool{ // visible?
		"go.mod": true, "go.sum": true, "pkg/a/a.go": true, "doc.go": true,
		"pkg/a/a_test.go": false, "pkg/a/testdata/x.go": false, ".git/HEAD": false,
		"notebooks/source/course.ipynb": false, "README.md": false, "nested/go.mod": false, "nested/n.go": false,
		"third_party/x/go.mod": true, "third_party/x/x.go": true, "third_party/x/x_test.go": false,
	}
	for f := range files {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), []byte("secret\n"), 0o644)
	}
	// A module replaced by a local directory is built from there.
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module m\n\nreplace x => ./third_party/x\n"), 0o644)
	files["go.mod"] = false // its text is not "secret" any more; its visibility is checked below
	s, err := New(&Config{Sources: []string{root}, Work: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for f, visible := range files {
		out, _ := run(t, s, "cat "+filepath.Join(root, f))
		if got := out == "secret\n"; got != visible {
			t.Errorf("%s: visible=%v, want %v (%q)", f, got, visible, out)
		}
	}
	if out, _ := run(t, s, "cat "+filepath.Join(root, "go.mod")); !strings.HasPrefix(out, "module m") {
		t.Errorf("go.mod not visible: %q", out)
	}
}

// TestSandboxGoCacheWrite checks that a sandbox with GoCacheWrite writes
// its build entries to that host directory (the cache program's writable
// layer), and one without sees it read-only.
func TestSandboxGoCacheWrite(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatal(err)
	}
	warm := t.TempDir()
	s, err := New(&Config{Work: t.TempDir(), GoCacheWrite: warm, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := run(t, s, `set -- $GOCACHEPROG; echo entry > "$3/x" && echo "$3"`)
	if err != nil || strings.TrimSpace(out) != goCacheWrite {
		t.Fatalf("GOCACHEPROG's writable layer: %v %q", err, out)
	}
	if data, _ := os.ReadFile(filepath.Join(warm, "x")); string(data) != "entry\n" {
		t.Errorf("the warmed cache did not get the entry: %q", data)
	}
	r, err := New(&Config{Work: t.TempDir(), GoCache: []string{warm}, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, _ = run(t, r, `set -- $GOCACHEPROG; cat "$4/x"; echo again > "$4/x" && echo wrote`)
	if !strings.Contains(out, "entry") || strings.Contains(out, "wrote") {
		t.Errorf("a later sandbox reads the warmed cache read-only: %q", out)
	}
}
