package jupyter

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// TestClientServer runs both ends in one process: a kernel-side Listen
// answering kernel_info_request and echoing heartbeats, a client Dial.
func TestClientServer(t *testing.T) {
	info, err := NewConnectionInfo("test")
	if err != nil {
		t.Fatal(err)
	}
	server, err := Listen(info)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go server.ServeHeartbeat()
	kernel := NewSession()
	go func() {
		for {
			req, err := server.Recv(Shell)
			if err != nil {
				return
			}
			busy, _ := kernel.NewMessage("status", req, map[string]string{"execution_state": "busy"})
			busy.Identities = [][]byte{[]byte("kernel.status")}
			server.Send(IOPub, busy)
			reply, _ := kernel.NewMessage("kernel_info_reply", req, map[string]string{"status": "ok", "protocol_version": ProtocolVersion})
			server.Send(Shell, reply)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := Dial(ctx, info, "")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	session := NewSession()
	req, _ := session.NewMessage("kernel_info_request", nil, nil)
	if err := client.Send(Shell, req); err != nil {
		t.Fatal(err)
	}
	reply, err := client.Recv(Shell)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Type() != "kernel_info_reply" || reply.ParentID() != req.Header.MsgID {
		t.Errorf("reply %s to %s, want kernel_info_reply to %s", reply.Type(), reply.ParentID(), req.Header.MsgID)
	}
	// The subscription may reach the kernel after its first status; ask
	// again until one arrives on iopub.
	got := make(chan *Message, 1)
	go func() {
		m, err := client.Recv(IOPub)
		if err == nil {
			got <- m
		}
	}()
	for {
		select {
		case m := <-got:
			if m.Type() != "status" || string(m.Identities[0]) != "kernel.status" {
				t.Errorf("iopub got %s with topic %q", m.Type(), m.Identities)
			}
			goto heartbeat
		case <-time.After(100 * time.Millisecond):
			client.Send(Shell, req)
		case <-ctx.Done():
			t.Fatal("no iopub message")
		}
	}
heartbeat:
	if err := client.Heartbeat.Send(zmq4.NewMsgString("ping")); err != nil {
		t.Fatal(err)
	}
	pong, err := client.Heartbeat.Recv()
	if err != nil || pong.String() == "" || string(pong.Frames[0]) != "ping" {
		t.Errorf("heartbeat reply %q, %v", pong.Frames, err)
	}
}

func TestDialCanceled(t *testing.T) {
	info, err := NewConnectionInfo("nobody")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if s, err := Dial(ctx, info, ""); err == nil {
		s.Close()
		t.Fatal("Dial to nothing succeeded")
	}
}

func TestRecvAfterClose(t *testing.T) {
	info, _ := NewConnectionInfo("x")
	s, err := Listen(info)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { _, err := s.Recv(Shell); done <- err }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Recv after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv did not return after Close")
	}
}
