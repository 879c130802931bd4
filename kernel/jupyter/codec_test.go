package jupyter

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestSignKnownAnswer checks Sign against a signature computed with
// Python's hmac module (hmac.new(key, digestmod=sha256) over the four parts).
func TestSignKnownAnswer(t *testing.T) {
	c := NewCodec([]byte("a0436f6c-1916-498b-8eb9-e81ab9368e84"))
	got := c.Sign([]byte(`{"msg_id":"1","msg_type":"kernel_info_request"}`), []byte("{}"), []byte("{}"), []byte("{}"))
	const want = "23d21ade63d42fc48bbe2721cd9045ceffb260c3521b7d246495f23adfca79a0"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if s := NewCodec(nil).Sign([]byte("{}"), nil, nil, nil); s != "" {
		t.Errorf("Sign without key = %q, want empty", s)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := NewCodec([]byte("key"))
	s := &Session{ID: "sess", Username: "u"}
	parent, err := s.NewMessage("execute_request", nil, map[string]any{"code": "1+1"})
	if err != nil {
		t.Fatal(err)
	}
	parent.Identities = [][]byte{[]byte("peer")}
	tests := []struct {
		name string
		msg  func() *Message
	}{
		{"request", func() *Message { return parent }},
		{"reply with parent and buffers", func() *Message {
			m, _ := s.NewMessage("execute_reply", parent, json.RawMessage(`{"status":"ok","execution_count":1}`))
			m.Metadata = json.RawMessage(`{"started":"x"}`)
			m.Buffers = [][]byte{{0, 1, 2}, []byte("b")}
			return m
		}},
		{"empty content and metadata", func() *Message {
			return &Message{Header: Header{MsgID: "1", MsgType: "kernel_info_request"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg()
			frames, err := c.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(frames)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Header, m.Header) || !reflect.DeepEqual(got.ParentHeader, m.ParentHeader) {
				t.Errorf("headers = %+v / %+v, want %+v / %+v", got.Header, got.ParentHeader, m.Header, m.ParentHeader)
			}
			if !bytes.Equal(got.Content, rawOrEmpty(m.Content)) || !bytes.Equal(got.Metadata, rawOrEmpty(m.Metadata)) {
				t.Errorf("content %s metadata %s, want %s %s", got.Content, got.Metadata, m.Content, m.Metadata)
			}
			if len(got.Identities) != len(m.Identities) || len(got.Buffers) != len(m.Buffers) {
				t.Errorf("identities %q buffers %q, want %q %q", got.Identities, got.Buffers, m.Identities, m.Buffers)
			}
			for i := range m.Buffers {
				if !bytes.Equal(got.Buffers[i], m.Buffers[i]) {
					t.Errorf("buffer %d = %q, want %q", i, got.Buffers[i], m.Buffers[i])
				}
			}
		})
	}
}

func TestEmptyParentHeaderEncodesAsEmptyObject(t *testing.T) {
	frames, err := NewCodec(nil).Encode(&Message{Header: Header{MsgID: "1", MsgType: "status"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(frames[3]); got != "{}" {
		t.Errorf("parent header frame = %s, want {}", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := NewCodec([]byte("key"))
	good, err := c.Encode(&Message{Header: Header{MsgID: "1", MsgType: "status"}, Content: json.RawMessage(`{"execution_state":"idle"}`)})
	if err != nil {
		t.Fatal(err)
	}
	with := func(i int, b string) [][]byte {
		f := append([][]byte(nil), good...)
		f[i] = []byte(b)
		return f
	}
	tests := []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"no delimiter", [][]byte{[]byte("a"), []byte("b")}, ErrMalformed},
		{"too few frames", good[:5], ErrMalformed},
		{"tampered content", with(5, `{"execution_state":"busy"}`), ErrBadSignature},
		{"wrong signature", with(1, "00"+string(good[1][2:])), ErrBadSignature},
		{"signature not hex", with(1, "zz"), ErrBadSignature},
		{"empty signature", with(1, ""), ErrBadSignature},
		{"header not JSON", resign(c, with(2, "{")), ErrMalformed},
		{"content not JSON", resign(c, with(5, "nope")), ErrMalformed},
		{"no msg_type", resign(c, with(2, `{"msg_id":"1"}`)), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Decode(tt.frames)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := c.Decode(good); err != nil {
		t.Errorf("Decode(good) = %v", err)
	}
}

// resign recomputes the signature frame (at index 1) of frames.
func resign(c *Codec, frames [][]byte) [][]byte {
	frames[1] = []byte(c.Sign(frames[2], frames[3], frames[4], frames[5]))
	return frames
}

func TestNoKeySkipsVerification(t *testing.T) {
	frames := [][]byte{[]byte(Delimiter), nil, []byte(`{"msg_id":"1","msg_type":"status"}`), []byte("{}"), []byte("{}"), []byte("{}")}
	if _, err := NewCodec(nil).Decode(frames); err != nil {
		t.Errorf("Decode without key = %v", err)
	}
}

func TestMessageContent(t *testing.T) {
	s := &Session{ID: "s"}
	m, err := s.NewMessage("execute_request", nil, map[string]any{"code": "x", "silent": false})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Code   string `json:"code"`
		Silent bool   `json:"silent"`
	}
	if err := m.DecodeContent(&c); err != nil || c.Code != "x" {
		t.Errorf("DecodeContent = %+v, %v", c, err)
	}
	if m.Header.Version != ProtocolVersion || m.Header.Session != "s" || len(m.Header.MsgID) != 32 {
		t.Errorf("header = %+v", m.Header)
	}
	if err := m.SetContent(make(chan int)); err == nil {
		t.Error("SetContent(chan) succeeded")
	}
}
