package jupyter

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestHeaderRequiredFields checks that every field the protocol requires is
// in an encoded header, empty ones included: JupyterLab's client
// (@jupyterlab/services) drops a message whose header has no username.
func TestHeaderRequiredFields(t *testing.T) {
	s := &Session{ID: "sess", Username: ""}
	m, err := s.NewMessage("status", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := NewCodec(nil).Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var header, parent map[string]any
	if err := json.Unmarshal(frames[2], &header); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"msg_id", "session", "username", "date", "msg_type", "version"} {
		if _, ok := header[k]; !ok {
			t.Errorf("header %s has no %q", frames[2], k)
		}
	}
	if _, ok := header["subshell_id"]; ok {
		t.Errorf("header %s has an empty subshell_id", frames[2])
	}
	if err := json.Unmarshal(frames[3], &parent); err != nil || len(parent) != 0 {
		t.Errorf("parent header of a message answering nothing = %s, want {}", frames[3])
	}
}

// TestPassThroughKeepsBytes checks that a decoded message is encoded with
// its headers' and metadata's bytes, and that a reply's parent header is
// the request's header byte for byte.
func TestPassThroughKeepsBytes(t *testing.T) {
	c := NewCodec([]byte("key"))
	header := []byte(`{"msg_type":"execute_request","msg_id":"a1","username":"","session":"s","date":"2024-01-02T03:04:05.1Z","version":"5.2","x-extra":[1,2]}`)
	metadata := []byte(`{"cellId":"c", "deletedCells":[]}`)
	content := []byte(`{"code":"1"}`)
	frames := [][]byte{[]byte("peer"), []byte(Delimiter), []byte(c.Sign(header, []byte("{}"), metadata, content)), header, []byte("{}"), metadata, content}
	m, err := c.Decode(frames)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, frames) {
		t.Errorf("re-encoded frames differ:\n got %q\nwant %q", out, frames)
	}
	reply, err := (&Session{ID: "k", Username: "kernel"}).NewMessage("execute_reply", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.Encode(reply)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[4], header) {
		t.Errorf("reply's parent header = %s, want the request's header %s", out[4], header)
	}
}

// FuzzDecodeEncode checks that decode → encode keeps every frame of any
// valid message byte for byte, and that changing one header field keeps
// every other field, those Header does not know included.
func FuzzDecodeEncode(f *testing.F) {
	f.Add([]byte(`{"msg_id":"1","session":"s","username":"","date":"d","msg_type":"status","version":"5.3"}`), []byte(`{}`), []byte(`{}`), []byte(`{"execution_state":"idle"}`))
	f.Add([]byte(`{"msg_type":"stream","msg_id":"2","username":"u","subshell_id":"x","other":{"a":null}}`), []byte(`{"msg_id":"1","username":""}`), []byte(`{"k":1}`), []byte(`{"name":"stdout","text":"hi"}`))
	f.Add([]byte(` { "msg_type" : "a" , "msg_id" : "\u0031" } `), []byte(`null`), []byte(` {} `), []byte(`{}`))
	f.Fuzz(func(t *testing.T, header, parent, metadata, content []byte) {
		c := NewCodec([]byte("k"))
		frames := [][]byte{[]byte(Delimiter), []byte(c.Sign(header, parent, metadata, content)), header, parent, metadata, content}
		m, err := c.Decode(frames)
		if err != nil {
			return // not a valid message
		}
		out, err := c.Encode(m)
		if err != nil {
			t.Fatalf("encode after decode: %v", err)
		}
		if !reflect.DeepEqual(out, frames) {
			t.Fatalf("decode → encode changed the frames:\n got %q\nwant %q", out, frames)
		}
		// Change msg_id: every other field must stay as it was.
		m.Header.MsgID += "-changed"
		out, err = c.Encode(m)
		if err != nil {
			t.Fatalf("encode a changed header: %v", err)
		}
		var before, after map[string]any
		if json.Unmarshal(header, &before) != nil || before == nil {
			return
		}
		if err := json.Unmarshal(out[2], &after); err != nil {
			t.Fatalf("changed header %s: %v", out[2], err)
		}
		if after["msg_id"] != m.Header.MsgID {
			t.Errorf("changed header %s: msg_id %v, want %q", out[2], after["msg_id"], m.Header.MsgID)
		}
		delete(before, "msg_id")
		delete(after, "msg_id")
		for k, v := range before {
			if w, ok := after[k]; !ok && v != "" || ok && !reflect.DeepEqual(v, w) {
				t.Errorf("changed header %s: field %q = %v, want %v (from %s)", out[2], k, w, v, header)
			}
		}
		for _, k := range []string{"session", "username", "date", "msg_type", "version"} {
			if _, ok := after[k]; !ok {
				t.Errorf("changed header %s has no %q", out[2], k)
			}
		}
	})
}
