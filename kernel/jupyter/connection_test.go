package jupyter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectionFileRoundTrip(t *testing.T) {
	info, err := NewConnectionInfo("go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, ch := range Channels {
		if p := info.Port(ch); seen[p] {
			t.Errorf("port %d used twice", p)
		} else {
			seen[p] = true
		}
	}
	path := filepath.Join(t.TempDir(), "kernel.json")
	if err := info.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	got, err := ReadConnectionFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *info {
		t.Errorf("read %+v, wrote %+v", got, info)
	}
	if e := got.Endpoint(Shell); !strings.HasPrefix(e, "tcp://127.0.0.1:") {
		t.Errorf("endpoint = %s", e)
	}
}

func TestReadConnectionFileErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"not JSON", "{", "unexpected end"},
		{"ipc transport", `{"transport":"ipc","ip":"x","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5}`, "transport"},
		{"bad scheme", `{"transport":"tcp","ip":"127.0.0.1","key":"k","signature_scheme":"hmac-md5","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5}`, "signature scheme"},
		{"missing port", `{"transport":"tcp","ip":"127.0.0.1","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4}`, "hb port"},
		{"no ip", `{"transport":"tcp","shell_port":1,"iopub_port":2,"stdin_port":3,"control_port":4,"hb_port":5}`, "no ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.json")
			os.WriteFile(path, []byte(tt.content), 0o600)
			_, err := ReadConnectionFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ReadConnectionFile(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("reading an absent file succeeded")
	}
}
