package jupyter

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/user"
	"time"
)

// ProtocolVersion is the version of the messaging protocol this package
// speaks, written in the header of the messages it creates.
const ProtocolVersion = "5.3"

// Header is a message header (also used for parent_header). A zero Header
// encodes as {}, the parent header of a message that answers nothing; any
// other Header encodes with the six fields the protocol requires, empty
// ones included (an empty username stays "": JupyterLab's client drops a
// message whose header lacks one).
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
	// SubshellID is set by kernels and clients that use subshells (JEP 91).
	SubshellID string `json:"subshell_id,omitempty"`
}

// MarshalJSON encodes h as described at Header.
func (h Header) MarshalJSON() ([]byte, error) {
	if h == (Header{}) {
		return []byte("{}"), nil
	}
	type plain Header // without the method
	return json.Marshal(plain(h))
}

// wireHeader is a header as it came over the wire: its bytes and what they
// decoded to. A header that was not changed since is sent with the same
// bytes; a changed one keeps the fields this package does not know.
type wireHeader struct {
	raw     []byte
	decoded Header
}

// encode returns the bytes of h, which was w when decoded (w may be zero).
func (w wireHeader) encode(h Header) ([]byte, error) {
	if w.raw != nil && h == w.decoded {
		return w.raw, nil
	}
	if w.raw == nil || h == (Header{}) {
		return json.Marshal(h)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(w.raw, &fields); err != nil || fields == nil {
		return json.Marshal(h)
	}
	known, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(known, &fields); err != nil {
		return nil, err
	}
	if h.SubshellID == "" {
		delete(fields, "subshell_id")
	}
	return json.Marshal(fields)
}

// Message is one Jupyter message. Metadata and Content are kept as raw JSON
// so that messages pass through unchanged; use DecodeContent and SetContent
// to go from and to Go values.
type Message struct {
	// Identities are the routing frames before the <IDS|MSG> delimiter: the
	// peer's identity on a ROUTER socket, the topic on iopub.
	Identities   [][]byte
	Header       Header
	ParentHeader Header
	Metadata     json.RawMessage
	Content      json.RawMessage
	Buffers      [][]byte

	// The headers as decoded, so that a message passed on unchanged keeps
	// their bytes (see Codec.Encode).
	wireHeader, wireParent wireHeader
}

// Type returns the message type, Header.MsgType.
func (m *Message) Type() string { return m.Header.MsgType }

// ParentID returns the msg_id of the message m answers, or "".
func (m *Message) ParentID() string { return m.ParentHeader.MsgID }

// DecodeContent unmarshals the content into v.
func (m *Message) DecodeContent(v any) error {
	content := m.Content
	if len(content) == 0 {
		content = json.RawMessage("{}")
	}
	if err := json.Unmarshal(content, v); err != nil {
		return fmt.Errorf("jupyter: %s content: %w", m.Header.MsgType, err)
	}
	return nil
}

// SetContent marshals v as the content. A json.RawMessage or []byte is
// taken as is; nil gives {}.
func (m *Message) SetContent(v any) error {
	raw, err := toRaw(v)
	if err != nil {
		return fmt.Errorf("jupyter: %s content: %w", m.Header.MsgType, err)
	}
	m.Content = raw
	return nil
}

func toRaw(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		return v, nil
	case []byte:
		return json.RawMessage(v), nil
	}
	b, err := json.Marshal(v)
	return json.RawMessage(b), err
}

// Session is one side's identity in the protocol: every message it creates
// carries its session id and user name.
type Session struct {
	ID       string
	Username string
}

// NewSession returns a session with a fresh random id and the current
// user's name.
func NewSession() *Session {
	name := "ppml"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return &Session{ID: NewID(), Username: name}
}

// NewMessage returns a message of type msgType with a new header, content
// marshaled from content (see SetContent) and empty metadata. A non-nil
// parent becomes the parent header, and its identities are copied so that a
// kernel's reply goes back to the peer that asked.
func (s *Session) NewMessage(msgType string, parent *Message, content any) (*Message, error) {
	m := &Message{
		Header: Header{
			MsgID:    NewID(),
			Session:  s.ID,
			Username: s.Username,
			Date:     Now(),
			MsgType:  msgType,
			Version:  ProtocolVersion,
		},
		Metadata: json.RawMessage("{}"),
	}
	if parent != nil {
		m.ParentHeader = parent.Header
		m.wireParent = parent.wireHeader
		m.Identities = parent.Identities
	}
	if err := m.SetContent(content); err != nil {
		return nil, err
	}
	return m, nil
}

// NewID returns a random message or session id: 32 hexadecimal digits.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Now returns the current time as the protocol writes dates: ISO 8601 in
// UTC with microseconds.
func Now() string {
	return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
}
