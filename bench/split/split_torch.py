#!/usr/bin/python3
"""Split learning in PyTorch: the reference for `ppml split train`.

The original notebook's split network with its backward step restored:
MNIST 60k (pixels/255 normalised with mean 0.5, std 0.5), 784-128-640 ReLU on
the bottom segment, 640-10 log-softmax on the top, NLL loss, batch 64
shuffled, one SGD optimizer (lr 0.03) per segment, PyTorch's default
(Kaiming-uniform) initialisation. At the cut the activation is detached,
the top computes the loss and its gradient at the cut, and the bottom runs
backward(grad) -- exactly what the notebook left commented out. Both
segments run in this process (the in-process comparison for
`ppml split train --workers local`).

With --model cnn the network is ppml's nn.MNISTCNN instead: 3x3
convolutions with 8 and 16 filters (ReLU), each followed by 2x2 max
pooling, on the bottom segment, and a 400-10 log-softmax head on the top.

With --replay DIR (MLP only) it replays a run of ppml's written by
bench/split/parity: it starts from the initial weights in DIR/init.f32 (in
pkg/nn's layout: each Dense kernel [in, units] row-major, the transpose of
torch's Linear weight, then its biases) and takes the rows in the orders of
DIR/order.i32 instead of drawing its own, and writes the loss of every step
to DIR/torch-loss.f64 and the final weights (in the same layout) to
DIR/torch-final.f32, little-endian (bench/split/parity.sh compares them).
--float64 trains in float64 instead of float32 (files torch64-*), the
control that shows how far float32 rounding alone takes a run.

Usage: split_torch.py MNIST_DIR [--threads 2] [--epochs 5] [--batch 64] [--lr 0.03] [--seed 0] [--model mlp|cnn] [--replay DIR [--float64]]
It prints one line per epoch and ends with
"test accuracy A - S s/epoch".
"""

import argparse
import gzip
import os
import time

import numpy as np
import torch


def load(mnist_dir, images, labels):
    with gzip.open(os.path.join(mnist_dir, images)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(mnist_dir, labels)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (x.astype(np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--replay", metavar="DIR", help="start from ppml's weights and row orders in DIR (MLP only)")
    ap.add_argument("--float64", action="store_true", help="train in float64 (with --replay)")
    a = ap.parse_args()
    if a.replay and a.model != "mlp":
        ap.error("--replay takes the MLP only")
    if a.float64 and not a.replay:
        ap.error("--float64 goes with --replay")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load(a.mnist_dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    tx, ty = load(a.mnist_dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    nn = torch.nn
    if a.model == "mlp":
        models = [
            nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 640), nn.ReLU()),
            nn.Sequential(nn.Linear(640, 10), nn.LogSoftmax(dim=1)),
        ]
    else:
        x, tx = x.reshape(-1, 1, 28, 28), tx.reshape(-1, 1, 28, 28)
        models = [
            nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()),
            nn.Sequential(nn.Linear(400, 10), nn.LogSoftmax(dim=1)),
        ]
    if a.float64:
        x, tx, models = x.double(), tx.double(), [m.double() for m in models]
    n = x.shape[0]
    linears = [l for m in models for l in m if isinstance(l, nn.Linear)]
    if a.replay:
        orders = replay(a.replay, linears, a.epochs, n)
    opts = [torch.optim.SGD(m.parameters(), lr=a.lr) for m in models]
    criterion = nn.NLLLoss()
    losses = []
    total = 0.0
    for epoch in range(a.epochs):
        start = time.perf_counter()
        perm = orders[epoch] if a.replay else torch.randperm(n)
        running, batches = 0.0, 0
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            images, labels = x[idx], y[idx]
            for o in opts:
                o.zero_grad()
            act = models[0](images)
            cut = act.detach().requires_grad_()  # the activation sent across the cut
            loss = criterion(models[1](cut), labels)
            loss.backward()
            act.backward(cut.grad)  # the gradient sent back, back-propagated below the cut
            for o in opts:
                o.step()
            losses.append(loss.item())
            running += losses[-1]
            batches += 1
        secs = time.perf_counter() - start
        total += secs
        print(f"epoch {epoch} - training loss: {running / batches:.4f} - {secs:.2f} s", flush=True)
    with torch.no_grad():
        pred = models[1](models[0](tx)).argmax(1)
        acc = (pred == ty).float().mean().item()
    print(f"test accuracy {acc:.4f} - {total / a.epochs:.3f} s/epoch")
    if a.replay:
        name = "torch64" if a.float64 else "torch"
        np.asarray(losses, "<f8").tofile(os.path.join(a.replay, name + "-loss.f64"))
        flat(linears).tofile(os.path.join(a.replay, name + "-final.f32"))


def replay(d, linears, epochs, n):
    """Loads ppml's initial weights into the Linear layers and returns its
    row order of every epoch."""
    w = np.fromfile(os.path.join(d, "init.f32"), "<f4")
    want = sum(l.weight.numel() + l.bias.numel() for l in linears)
    if w.size != want:
        raise SystemExit(f"{d}/init.f32 holds {w.size} weights, the model has {want}")
    off = 0
    with torch.no_grad():
        for l in linears:
            out, inp = l.weight.shape
            l.weight.copy_(torch.from_numpy(w[off:off + inp * out].reshape(inp, out).T.copy()))
            off += inp * out
            l.bias.copy_(torch.from_numpy(w[off:off + out].copy()))
            off += out
    order = np.fromfile(os.path.join(d, "order.i32"), "<i4")
    if order.size != epochs * n:
        raise SystemExit(f"{d}/order.i32 holds {order.size} indices, want {epochs} epochs of {n}")
    return torch.from_numpy(order.astype(np.int64)).reshape(epochs, n)


def flat(linears):
    """The Linear layers' weights in pkg/nn's flat layout."""
    parts = []
    for l in linears:
        parts += [l.weight.detach().numpy().T.ravel(), l.bias.detach().numpy()]
    return np.concatenate(parts).astype("<f4")


if __name__ == "__main__":
    main()
