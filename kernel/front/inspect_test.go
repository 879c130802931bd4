package front

import (
	"encoding/json"
	"log/slog"
	"testing"
)

func TestPatchInspect(t *testing.T) {
	k := &kernel{log: slog.New(slog.DiscardHandler)}
	hover := `{"status":"ok","found":true,"data":{"text/markdown":"func strings.ToUpper(s string) string"},"metadata":{}}`
	goplsError := `{"status":"ok","found":true,"data":{"text/plain":"gopls request returned 'hover' with unexpected kind \"\""},"metadata":{}}`
	notFound := `{"data":{},"found":false,"metadata":{},"status":"ok"}`
	tests := []struct {
		name      string
		reply     string
		onCommand bool
		want      string
	}{
		{"a hover", hover, false, hover},
		{"gopls's error text", goplsError, false, notFound},
		{"GoNB's help on a special command", goplsError, true, goplsError},
		{"nothing found", notFound, false, notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg(t, "inspect_reply", json.RawMessage(tt.reply))
			k.patchInspect(m, tt.onCommand)
			if string(m.Content) != tt.want {
				t.Errorf("patched to %s, want %s", m.Content, tt.want)
			}
		})
	}
}
