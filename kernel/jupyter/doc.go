// Package jupyter implements the wire side of the Jupyter messaging protocol
// 5.x on top of github.com/go-zeromq/zmq4: connection files, messages and
// their headers, HMAC-SHA256 signing, the multipart frame encoding, and the
// five channels (shell, iopub, stdin, control, heartbeat).
//
// The codec does not care which side it runs on: a client (a notebook
// runner) and a kernel-side server (a kernel or a front process in front of
// one) encode and decode the same frames. Dial opens the client ends of the
// channels, Listen the kernel ends.
//
// The protocol is described at
// https://jupyter-client.readthedocs.io/en/stable/messaging.html.
package jupyter
