package front

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeGoMod(t *testing.T, content string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSetupCell(t *testing.T) {
	root := writeGoMod(t, "module example.com/proj\n\ngo 1.24\n\nrequire golang.org/x/mod v0.41.0\n\n"+
		"replace example.com/local => ../local\n\nreplace golang.org/x/mod v0.41.0 => example.com/fork v1.0.0\n")
	p, err := readProject(root)
	if err != nil {
		t.Fatal(err)
	}
	got := p.setupCell()
	for _, want := range []string{
		"!*'go' 'mod' 'edit' '-require=example.com/proj@" + zeroVersion + "' '-replace=example.com/proj=" + root + "'",
		"'-require=golang.org/x/mod@v0.41.0'",
		"'-replace=example.com/local=" + filepath.Join(filepath.Dir(root), "local") + "'",
		"'-replace=golang.org/x/mod@v0.41.0=example.com/fork@v1.0.0'",
		" && cp '" + filepath.Join(root, "go.sum") + "' go.sum",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("setup cell\n%s\nlacks %s", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("setup cell %q is more than one line", got)
	}
}

func TestReadProjectErrors(t *testing.T) {
	if _, err := readProject(t.TempDir()); err == nil || !strings.Contains(err.Error(), "go.mod") {
		t.Errorf("no go.mod: err = %v", err)
	}
	if _, err := readProject(writeGoMod(t, "go 1.24\n")); err == nil || !strings.Contains(err.Error(), "no module line") {
		t.Errorf("no module line: err = %v", err)
	}
}
