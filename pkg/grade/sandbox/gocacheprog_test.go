package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheProg builds a program with a plain GOCACHE, then again with
// that cache read-only under this package's GOCACHEPROG and an empty
// writable cache: the second build finds everything in the read-only
// cache, writes nothing new, and the read-only cache is not changed.
func TestCacheProg(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mod, warm, rw := filepath.Join(tmp, "mod"), filepath.Join(tmp, "warm"), filepath.Join(tmp, "rw")
	for _, d := range []string{mod, warm, rw} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module m\n\ngo 1.24\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n"), 0o644)
	build := func(env ...string) {
		t.Helper()
		cmd := exec.Command("go", "build", "-o", filepath.Join(tmp, "m"), ".")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", env, err, out)
		}
	}
	count := func(dir string) int {
		n := 0
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, "-d") || strings.HasSuffix(p, "-a")) {
				n++
			}
			return nil
		})
		return n
	}
	build("GOCACHE="+warm, "GOCACHEPROG=")
	before := count(warm)
	if before == 0 {
		t.Fatal("the plain build cached nothing")
	}
	// Read-only for real: a write would fail the build.
	filepath.WalkDir(warm, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.WalkDir(warm, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	prog := strings.Join([]string{self, cacheProgArg, rw, filepath.Join(tmp, "missing"), warm}, " ")
	build("GOCACHE="+filepath.Join(tmp, "gocache"), "GOCACHEPROG="+prog)
	// Only the go command's index of the module's directory may be new
	// (it is not cached while the directory is a few seconds old).
	for _, f := range outputs(rw) {
		if data, _ := os.ReadFile(f); !strings.HasPrefix(string(data), "go index") {
			t.Errorf("the build through the cache program wrote %s (%.40q): it missed the read-only cache", f, data)
		}
	}
	if n := count(warm); n != before {
		t.Errorf("the read-only cache went from %d to %d files", before, n)
	}
	// A change misses, and goes to the writable layer only.
	os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	build("GOCACHE="+filepath.Join(tmp, "gocache"), "GOCACHEPROG="+prog)
	if len(outputs(rw)) < 2 {
		t.Error("a changed package was not stored in the writable layer")
	}
	if n := count(warm); n != before {
		t.Errorf("the read-only cache went from %d to %d files", before, n)
	}
}

// outputs lists the output files ("-d") of a GOCACHE directory.
func outputs(dir string) []string {
	fs, _ := filepath.Glob(filepath.Join(dir, "*", "*-d"))
	return fs
}
