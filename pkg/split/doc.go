// Package split is split learning as PySyft 0.2 users knew it, in Go: workers
// that hold objects by id, pointers whose operations run on the worker, and
// neural networks cut into segments (pkg/nn models: GoMLX models whose
// gradients come from graph.Gradient) placed on workers. Any GoMLX model
// can be a segment on an in-process worker; a segment sent to a worker in
// another process is an nn.Sequential model (Dense, Conv2D, MaxPool2D,
// Flatten, Reshape layers), whose layers travel.
//
// A VirtualWorker lives in this process; a RemoteWorker (Dial) talks over
// ZeroMQ to a worker process (`ppml worker --listen tcp://127.0.0.1:PORT`,
// or Listen and Serve here). Both have the same behaviour:
//
//	alice := split.NewVirtualWorker("alice")
//	x, _ := split.Send(tensors.FromValue([]float32{1, 2, 3, 4, 5}), alice)
//	y, _ := x.Add(x)       // computed on alice
//	v, _ := y.Get()        // [2 4 6 8 10]; deleted on alice, y is now unusable
//
// A Network trains a model cut into segments: the activation at each cut
// goes straight from one segment's worker to the next (PySyft's move: a
// worker-to-worker push; the data owner only sends commands, the inputs
// and the labels), the last segment computes the loss and the gradient at
// its input, and that gradient goes back through every cut and is
// back-propagated, each segment stepping its own SGD optimizer. Each worker
// runs its part of every step in the order of plain sequential training,
// waiting for what the others send it, so the losses are those of training
// in one process; the commands of the next steps wait on the workers
// meanwhile, so a step costs its computation and two transfers. The labels
// go to the last segment's worker: another worker for vanilla split
// learning, the data owner's own (in-process) worker for U-shaped split
// learning. Fit counts the messages and bytes that cross each cut, at the
// transport: every send reports the bytes it carried (a cut between two
// segments on the same worker carries nothing).
//
// Workers speak ZeroMQ (ZMTP 3.0 over TCP: RemoteWorker as a DEALER, the
// worker server as a ROUTER). Requests and replies use a compact binary
// format (see wire.go) decoded with explicit limits; a malformed request
// gets an error reply and the worker keeps serving. Every remote wait has a
// timeout, so a worker that dies makes training return an error instead of
// hanging, and the other workers keep their segments.
package split
