// Package split is split learning as PySyft 0.2 users knew it, in Go: workers
// that hold objects by id, pointers whose operations run on the worker, and
// neural networks cut into segments (pkg/nn models) placed on workers.
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
// A Network trains a model cut into segments: the activation at each cut is
// sent to the next segment's worker, the last segment computes the loss and
// the gradient at its input, and that gradient is sent back through every cut
// and back-propagated, each segment stepping its own SGD optimizer. The
// labels go to the last segment's worker: another worker for vanilla split
// learning, the data owner's own (in-process) worker for U-shaped split
// learning. Fit counts the messages and bytes crossing each cut.
//
// Requests and replies use a compact binary format (see wire.go) decoded
// with explicit limits; a malformed request gets an error reply and the
// worker keeps serving. Every remote call has a timeout, so a worker that
// dies makes training return an error instead of hanging, and the other
// workers keep their segments.
package split
