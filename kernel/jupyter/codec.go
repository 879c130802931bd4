package jupyter

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Delimiter separates the routing identities from the message proper.
const Delimiter = "<IDS|MSG>"

// ErrBadSignature is returned (wrapped) by Decode when a message's signature
// does not match its content.
var ErrBadSignature = errors.New("jupyter: bad message signature")

// ErrMalformed is returned (wrapped) by Decode for frames that are not a
// Jupyter message: no delimiter, too few frames, or parts that are not JSON.
var ErrMalformed = errors.New("jupyter: malformed message")

// Codec encodes messages into multipart frames and decodes them back,
// signing and verifying with HMAC-SHA256. With an empty key it neither signs
// nor verifies, as the protocol specifies. A Codec is safe for concurrent
// use.
type Codec struct {
	key  []byte
	pool sync.Pool
}

// NewCodec returns a codec signing with key (the connection file's key, as
// bytes; not hex-decoded).
func NewCodec(key []byte) *Codec {
	c := &Codec{key: bytes.Clone(key)}
	c.pool.New = func() any { return hmac.New(sha256.New, c.key) }
	return c
}

// Sign returns the hex HMAC-SHA256 signature of the four signed parts of a
// message, or "" when the codec has no key.
func (c *Codec) Sign(header, parentHeader, metadata, content []byte) string {
	if len(c.key) == 0 {
		return ""
	}
	return hex.EncodeToString(c.mac(header, parentHeader, metadata, content))
}

func (c *Codec) mac(parts ...[]byte) []byte {
	h := c.pool.Get().(hash.Hash)
	defer c.pool.Put(h)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// Encode returns the frames of m: identities, delimiter, signature, header,
// parent header, metadata, content, buffers. Empty metadata or content are
// sent as {}. The headers of a decoded message are sent as they came unless
// they were changed; a changed header keeps the fields Header does not know.
func (c *Codec) Encode(m *Message) ([][]byte, error) {
	header, err := m.wireHeader.encode(m.Header)
	if err != nil {
		return nil, fmt.Errorf("jupyter: header: %w", err)
	}
	parent, err := m.wireParent.encode(m.ParentHeader)
	if err != nil {
		return nil, fmt.Errorf("jupyter: parent header: %w", err)
	}
	metadata := rawOrEmpty(m.Metadata)
	content := rawOrEmpty(m.Content)
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames,
		[]byte(Delimiter),
		[]byte(c.Sign(header, parent, metadata, content)),
		header, parent, metadata, content)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

func rawOrEmpty(r json.RawMessage) []byte {
	if len(r) == 0 {
		return []byte("{}")
	}
	return r
}

// Decode parses frames into a message, verifying the signature in constant
// time. Errors wrap ErrBadSignature or ErrMalformed.
func (c *Codec) Decode(frames [][]byte) (*Message, error) {
	d := -1
	for i, f := range frames {
		if string(f) == Delimiter {
			d = i
			break
		}
	}
	if d < 0 {
		return nil, fmt.Errorf("%w: no %s delimiter in %d frames", ErrMalformed, Delimiter, len(frames))
	}
	if len(frames)-d < 6 {
		return nil, fmt.Errorf("%w: %d frames after the delimiter, want at least 5", ErrMalformed, len(frames)-d-1)
	}
	sig, header, parent, metadata, content := frames[d+1], frames[d+2], frames[d+3], frames[d+4], frames[d+5]
	if len(c.key) > 0 {
		got := make([]byte, hex.DecodedLen(len(sig)))
		if _, err := hex.Decode(got, sig); err != nil || !hmac.Equal(got, c.mac(header, parent, metadata, content)) {
			return nil, ErrBadSignature
		}
	}
	m := &Message{
		Identities: frames[:d:d],
		Metadata:   json.RawMessage(metadata),
		Content:    json.RawMessage(content),
		Buffers:    frames[d+6:],
	}
	if len(m.Buffers) == 0 {
		m.Buffers = nil
	}
	if err := json.Unmarshal(header, &m.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(parent, &m.ParentHeader); err != nil {
		return nil, fmt.Errorf("%w: parent header: %v", ErrMalformed, err)
	}
	m.wireHeader = wireHeader{raw: header, decoded: m.Header}
	m.wireParent = wireHeader{raw: parent, decoded: m.ParentHeader}
	if !json.Valid(metadata) {
		return nil, fmt.Errorf("%w: metadata is not JSON", ErrMalformed)
	}
	if !json.Valid(content) {
		return nil, fmt.Errorf("%w: content is not JSON", ErrMalformed)
	}
	if m.Header.MsgType == "" {
		return nil, fmt.Errorf("%w: header has no msg_type", ErrMalformed)
	}
	return m, nil
}
