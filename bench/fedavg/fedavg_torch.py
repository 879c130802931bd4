#!/usr/bin/python3
"""Federated averaging in PyTorch: the reference for `ppml fl fedavg`.

The same algorithm, model and data as pkg/fl/fedavg with the course's
configuration: the 0/1 digits of MNIST's training set (12665 images,
pixels/255), shuffled and cut into 3 clients of 4221 images; the model
784 -> Dense(64, relu) -> Dense(2, softmax), Glorot-uniform weights and zero
biases as in Keras, sparse categorical cross-entropy; each round every client
starts from the global model and runs 10 local epochs of SGD (lr 0.02, batch
32, reshuffled each epoch); the server averages the deltas weighted by the
clients' example counts and applies them with SGD at lr 1.0. Metrics are the
example-weighted means of the clients' per-batch training loss and accuracy.

Usage: fedavg_torch.py MNIST_DIR [--threads N] [--rounds R] [--seed S]
It prints one line per round and ends with
"test accuracy A on N images; training S s".
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
    return x, y


def digits01(x, y):
    # all 0s then all 1s, pixels/255, labels 0 and 1 (as the notebook does)
    xs = np.concatenate([x[y == 0], x[y == 1]]).astype(np.float32) / 255.0
    ys = np.concatenate([np.zeros((y == 0).sum()), np.ones((y == 1).sum())]).astype(np.int64)
    return torch.from_numpy(xs), torch.from_numpy(ys)


def model():
    m = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    for layer in (m[0], m[2]):
        torch.nn.init.xavier_uniform_(layer.weight)  # Keras' glorot_uniform
        torch.nn.init.zeros_(layer.bias)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnist_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--local-epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    xtr, ytr = digits01(*load(a.mnist_dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"))
    xte, yte = digits01(*load(a.mnist_dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    perm = torch.from_numpy(np.random.default_rng(a.seed).permutation(len(ytr)))
    xtr, ytr = xtr[perm], ytr[perm]
    per = len(ytr) // a.clients
    clients = [(xtr[k * per:(k + 1) * per], ytr[k * per:(k + 1) * per]) for k in range(a.clients)]

    start = time.perf_counter()
    server = model()
    local = model()
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax + sparse categorical cross-entropy
    opt = torch.optim.SGD(local.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    for r in range(a.rounds):
        glob = [p.detach().clone() for p in server.parameters()]
        avg = [torch.zeros_like(p) for p in glob]
        total = loss_sum = correct = seen = 0
        for x, y in clients:
            with torch.no_grad():
                for p, g in zip(local.parameters(), glob):
                    p.copy_(g)
            n = len(y)
            for _ in range(a.local_epochs):
                order = torch.randperm(n, generator=gen)
                for s in range(0, n, a.batch):
                    idx = order[s:s + a.batch]
                    xb, yb = x[idx], y[idx]
                    out = local(xb)
                    loss = loss_fn(out, yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    loss_sum += loss.item() * len(idx)
                    correct += (out.argmax(1) == yb).sum().item()
                    seen += len(idx)
            with torch.no_grad():
                for acc, p, g in zip(avg, local.parameters(), glob):
                    acc.add_(p - g, alpha=n)
            total += n
        with torch.no_grad():
            for p, acc in zip(server.parameters(), avg):
                p.add_(acc / total)  # server SGD, lr 1.0, on the averaged delta
        print(f"round {r + 1:2d}: loss {loss_sum / seen:.4f}  sparse_categorical_accuracy {correct / seen:.4f}"
              f"  ({a.clients} clients, {seen} examples)", flush=True)
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        acc = (server(xte).argmax(1) == yte).float().mean().item()
    print(f"test accuracy {acc:.4f} on {len(yte)} images; training {elapsed:.2f} s  (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
