package jupyter

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

// SignatureScheme is the only signature scheme this package supports.
const SignatureScheme = "hmac-sha256"

// ConnectionInfo is the content of a kernel connection file: where the five
// channels listen and the key that signs messages.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name,omitempty"`
}

// NewConnectionInfo returns connection info for a kernel on 127.0.0.1 over
// TCP with five free ports, a fresh random key and the hmac-sha256 scheme.
func NewConnectionInfo(kernelName string) (*ConnectionInfo, error) {
	ports, err := FreePorts(5)
	if err != nil {
		return nil, err
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	return &ConnectionInfo{
		Transport:       "tcp",
		IP:              "127.0.0.1",
		ShellPort:       ports[0],
		IOPubPort:       ports[1],
		StdinPort:       ports[2],
		ControlPort:     ports[3],
		HBPort:          ports[4],
		Key:             key,
		SignatureScheme: SignatureScheme,
		KernelName:      kernelName,
	}, nil
}

// NewKey returns a random signing key: 32 random bytes in hexadecimal.
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("jupyter: random key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 when
// asked. All n listeners are held open together so the ports differ; another
// process may still take one before the kernel binds it.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("jupyter: free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ReadConnectionFile reads and checks a connection file.
func ReadConnectionFile(path string) (*ConnectionInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jupyter: connection file: %w", err)
	}
	var c ConnectionInfo
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("jupyter: connection file %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("jupyter: connection file %s: %w", path, err)
	}
	return &c, nil
}

// WriteFile writes c as a connection file readable only by its owner.
func (c *ConnectionInfo) WriteFile(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("jupyter: connection file: %w", err)
	}
	return nil
}

// Validate reports the first problem of c: an unsupported transport or
// signature scheme, a missing IP or a port out of range.
func (c *ConnectionInfo) Validate() error {
	if c.Transport != "tcp" {
		return fmt.Errorf("transport %q not supported (only tcp)", c.Transport)
	}
	if c.IP == "" {
		return errors.New("no ip")
	}
	if c.Key != "" && c.SignatureScheme != SignatureScheme {
		return fmt.Errorf("signature scheme %q not supported (only %s)", c.SignatureScheme, SignatureScheme)
	}
	for _, ch := range Channels {
		if p := c.Port(ch); p <= 0 || p > 65535 {
			return fmt.Errorf("%s port %d out of range", ch, p)
		}
	}
	return nil
}

// Port returns the port of channel ch.
func (c *ConnectionInfo) Port(ch Channel) int {
	switch ch {
	case Shell:
		return c.ShellPort
	case IOPub:
		return c.IOPubPort
	case Stdin:
		return c.StdinPort
	case Control:
		return c.ControlPort
	case Heartbeat:
		return c.HBPort
	}
	return 0
}

// Endpoint returns the ZeroMQ endpoint of channel ch, as "tcp://IP:PORT".
func (c *ConnectionInfo) Endpoint(ch Channel) string {
	return c.Transport + "://" + net.JoinHostPort(c.IP, strconv.Itoa(c.Port(ch)))
}

// Codec returns the codec that signs and verifies messages with c's key.
func (c *ConnectionInfo) Codec() *Codec {
	return NewCodec([]byte(c.Key))
}
