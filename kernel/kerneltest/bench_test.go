package kerneltest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

// plainName is a kernelspec running GoNB alone, with the same tools and
// environment as ppml-go: the baseline of the benchmarks.
const plainName = "gonb-plain"

// installPlain writes the gonb-plain kernelspec next to ppml-go.
func installPlain(b *testing.B, jp string) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(jp, "kernels", kernelName, "kernel.json"))
	if err != nil {
		b.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		b.Fatal(err)
	}
	var gonb string
	argv := spec["argv"].([]any)
	for i, a := range argv {
		if a == "--gonb" && i+1 < len(argv) {
			gonb = argv[i+1].(string)
		}
	}
	if gonb == "" {
		b.Fatalf("no --gonb in the argv of %s", kernelName)
	}
	spec["argv"] = []string{gonb, "--kernel", "{connection_file}"}
	spec["display_name"] = "GoNB (baseline)"
	out, _ := json.Marshal(spec)
	dir := filepath.Join(jp, "kernels", plainName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), out, 0o644); err != nil {
		b.Fatal(err)
	}
}

// request sends a request on shell and waits for its reply.
func request(b *testing.B, s *jupyter.Sockets, msgType string, content any) *jupyter.Message {
	b.Helper()
	m, err := jupyter.NewSession().NewMessage(msgType, nil, content)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Send(jupyter.Shell, m); err != nil {
		b.Fatal(err)
	}
	deadline := time.AfterFunc(3*time.Minute, func() { s.Close() })
	defer deadline.Stop()
	for {
		r, err := s.Recv(jupyter.Shell)
		if err != nil {
			b.Fatalf("no reply to %s: %v", msgType, err)
		}
		if r.ParentID() == m.Header.MsgID {
			return r
		}
	}
}

func executeOK(b *testing.B, s *jupyter.Sockets, code string) {
	b.Helper()
	r := request(b, s, "execute_request", map[string]any{
		"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
		"allow_stdin": false, "stop_on_error": true,
	})
	var st struct {
		Status, EName, EValue string
	}
	if err := r.DecodeContent(&st); err != nil || st.Status != "ok" {
		b.Fatalf("cell %q: %+v %v", code, st, err)
	}
}

func shutdown(b *testing.B, cmd *exec.Cmd, s *jupyter.Sockets) {
	m, _ := jupyter.NewSession().NewMessage("shutdown_request", nil, map[string]any{"restart": false})
	s.Send(jupyter.Control, m)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	s.Close()
}

func benchKernels(b *testing.B) string {
	if testing.Short() {
		b.Skip("starts kernels: skipped with -short")
	}
	jp := install(b)
	installPlain(b, jp)
	return jp
}

// BenchmarkKernelStart measures a kernel's start, from the process's start to
// the answer to kernel_info_request, for the ppml-go front and plain GoNB.
func BenchmarkKernelStart(b *testing.B) {
	jp := benchKernels(b)
	for _, name := range []string{kernelName, plainName} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				cmd, s, _ := startKernel(b, jp, name)
				request(b, s, "kernel_info_request", map[string]any{})
				b.StopTimer()
				shutdown(b, cmd, s)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkCell measures warm cell latency (execute_request to execute_reply,
// after a first cell of the same code): a trivial cell on both kernels, and
// one using pkg/fl on ppml-go (plain GoNB cannot import the project).
func BenchmarkCell(b *testing.B) {
	jp := benchKernels(b)
	cells := []struct{ name, kernel, code string }{
		{"trivial/" + kernelName, kernelName, "%%\nfmt.Println(1)"},
		{"trivial/" + plainName, plainName, "%%\nfmt.Println(1)"},
		{"fl/" + kernelName, kernelName, "import \"github.com/ppml-go/ppml/pkg/fl\"\n%%\nfmt.Printf(\"%T\\n\", fl.Perceptron{})"},
	}
	for _, c := range cells {
		b.Run(c.name, func(b *testing.B) {
			cmd, s, _ := startKernel(b, jp, c.kernel)
			defer shutdown(b, cmd, s)
			executeOK(b, s, c.code)
			b.ResetTimer()
			for range b.N {
				executeOK(b, s, c.code)
			}
		})
	}
}
