package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/runner"
)

// TestStudentNotebookInBrowser runs notebook.mjs, or skips saying what is
// missing.
func TestStudentNotebookInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running the browser test (about two minutes)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	need := []struct{ what, fix string }{
		{"node", "apt-get install nodejs"},
		{"jupyter-notebook", "apt-get install jupyter-notebook"},
		{chromium, "apt-get install chromium"},
	}
	for _, n := range need {
		if _, err := exec.LookPath(n.what); err != nil {
			t.Skipf("%s not found (%s)", n.what, n.fix)
		}
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("playwright-core is not installed: npm ci --prefix tests/browser")
	}
	spec, err := runner.FindSpec("ppml-go")
	if err != nil {
		t.Skipf("the ppml-go kernel is not installed (%v): scripts/install-kernel.sh", err)
	}
	// Jupyter must find the kernelspec where the runner found it.
	env := os.Environ()
	if dir := filepath.Dir(filepath.Dir(spec.Dir)); !slices.Contains(filepath.SplitList(os.Getenv("JUPYTER_PATH")), dir) {
		env = append(env, "JUPYTER_PATH="+strings.Join(append([]string{dir}, filepath.SplitList(os.Getenv("JUPYTER_PATH"))...), string(filepath.ListSeparator)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "notebook.mjs")
	cmd.Env = append(env, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("notebook.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("notebook.mjs: %v", err)
	}
	if _, err := os.Stat(filepath.Join("out", "notebook.png")); err != nil {
		t.Errorf("no screenshot: %v", err)
	}
}
