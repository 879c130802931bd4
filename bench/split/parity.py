#!/usr/bin/python3
"""Compares ppml's split training with PyTorch replaying it (bench/split/parity.sh).

Usage: parity.py MNIST_DIR EPOCHS DIR...  with one directory per seed, named seedS,
holding bench/split/parity's files (init.f32, go-loss.f64, go-final.f32),
split_torch.py --replay's (torch-*, and torch64-* of --float64) and the
outputs go.out, torch.out, torch64.out and own.out (split_torch.py --seed S
with its own initialisation and order). It prints Markdown: the test
accuracies per seed and their means, the mean training loss of every epoch
(the plain mean of its steps' losses, as split_torch.py reports it; `ppml
split train` weights the last, short batch by its rows), and how far the runs drift apart: the largest difference of a step's loss
over the first 10 steps and over each epoch, and the distance between the
final weights relative to how far training moved them from the initial
weights, for ppml against PyTorch and for each of them against PyTorch in
float64 (what float32 rounding alone does). It also evaluates every run's
final weights on the test set with one evaluation of its own (NumPy,
float64), which must give each run's own test accuracy: then the runs
differ in their weights only, not in how they are evaluated.
"""

import gzip
import os
import re
import sys

import numpy as np


def accuracy(path):
    with open(path) as f:
        return 100 * float(re.findall(r"test accuracy ([0-9.]+)", f.read())[-1])


def test_set(mnist_dir):
    with gzip.open(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return (x.astype(np.float32) / 255.0 - 0.5) / 0.5, y


def evaluate(w, x, y):
    """Test accuracy (%) of the 784-128-640-10 network with flat weights w
    in pkg/nn's layout, in float64."""
    h, off = x.astype(np.float64), 0
    for i, (n_in, n_out) in enumerate(((784, 128), (128, 640), (640, 10))):
        kernel = w[off:off + n_in * n_out].reshape(n_in, n_out)
        off += n_in * n_out
        h = h @ kernel + w[off:off + n_out]
        off += n_out
        if i < 2:
            h = np.maximum(h, 0)
    return 100 * (h.argmax(1) == y).mean()


def main():
    mnist_dir, epochs, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tx, ty = test_set(mnist_dir)
    rows, drift, checks = [], [], []
    for d in dirs:
        seed = os.path.basename(d.rstrip("/")).removeprefix("seed")
        acc = {k: accuracy(os.path.join(d, k + ".out")) for k in ("go", "torch", "torch64", "own")}
        rows.append((seed, acc))
        loss = {k: np.fromfile(os.path.join(d, k + "-loss.f64")) for k in ("go", "torch", "torch64")}
        w = {k: np.fromfile(os.path.join(d, k + "-final.f32"), "<f4").astype(np.float64) for k in ("go", "torch", "torch64")}
        init = np.fromfile(os.path.join(d, "init.f32"), "<f4").astype(np.float64)
        steps = len(loss["go"]) // epochs
        if any(len(v) != steps * epochs for v in loss.values()):
            raise SystemExit(f"{d}: the runs have {[len(v) for v in loss.values()]} steps, want {steps * epochs}")
        checks.append((seed, {k: (acc[k], evaluate(w[k], tx, ty)) for k in w}))
        moved = np.linalg.norm(w["go"] - init)
        diff = np.abs(loss["go"] - loss["torch"])
        drift.append((seed, loss, steps, diff, {
            (a, b): np.linalg.norm(w[a] - w[b]) / moved
            for a, b in (("go", "torch"), ("go", "torch64"), ("torch", "torch64"))
        }))
    print("| seed | ppml-go | PyTorch, same init and order | difference | PyTorch float64, same init and order | PyTorch, own init and order |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for seed, a in rows:
        print(f"| {seed} | {a['go']:.2f}% | {a['torch']:.2f}% | {a['go'] - a['torch']:+.2f} | {a['torch64']:.2f}% | {a['own']:.2f}% |")
    mean = {k: np.mean([a[k] for _, a in rows]) for k in rows[0][1]}
    gap = np.mean([abs(a["go"] - a["torch"]) for _, a in rows])
    print(f"| mean | {mean['go']:.2f}% | {mean['torch']:.2f}% | {mean['go'] - mean['torch']:+.2f} (mean abs {gap:.2f}) | {mean['torch64']:.2f}% | {mean['own']:.2f}% |")
    print()
    print("| seed | run | mean step loss per epoch | largest step-loss difference from ppml-go: first 10 steps, each epoch |")
    print("| ---: | --- | --- | --- |")
    for seed, loss, steps, diff, _ in drift:
        for k, name in (("go", "ppml-go"), ("torch", "PyTorch"), ("torch64", "PyTorch float64")):
            per = "/".join(f"{loss[k][e * steps:(e + 1) * steps].mean():.4f}" for e in range(epochs))
            if k == "go":
                far = ""
            else:
                dk = np.abs(loss["go"] - loss[k])
                far = f"{dk[:10].max():.1e}; " + ", ".join(f"{dk[e * steps:(e + 1) * steps].max():.1e}" for e in range(epochs))
            print(f"| {seed} | {name} | {per} | {far} |")
    print()
    print("Distance between the final weights, relative to how far ppml-go's moved from the initial weights:")
    print()
    print("| seed | ppml-go vs PyTorch | ppml-go vs PyTorch float64 | PyTorch vs PyTorch float64 |")
    print("| ---: | ---: | ---: | ---: |")
    for seed, _, _, _, r in drift:
        print(f"| {seed} | {r['go', 'torch']:.3f} | {r['go', 'torch64']:.3f} | {r['torch', 'torch64']:.3f} |")
    print()
    print("Final weights evaluated by NumPy in float64 (each run's own evaluation in brackets):")
    print()
    for seed, c in checks:
        same = all(abs(own - np_acc) < 0.005 for own, np_acc in c.values())
        print(f"- seed {seed}: " + ", ".join(f"{k} {np_acc:.2f}% ({own:.2f}%)" for k, (own, np_acc) in c.items())
              + ("" if same else " -- DIFFERENT EVALUATIONS"))


if __name__ == "__main__":
    main()
