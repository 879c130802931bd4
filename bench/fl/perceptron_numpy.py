"""Time one round of the course's federated perceptron algorithms written the
way the original notebook's solutions are, in NumPy: logistic perceptron with
bias, batch gradient x.T @ (sigmoid(x @ w + b) - y) / n, on random data of
MNIST's shape (784 features in [0, 1)). Prints one line per case:
NAME BEST_SECONDS_PER_ROUND.

Usage: perceptron_numpy.py [--repeat N]
The Go counterparts are the benchmarks of pkg/fl (bench_test.go);
bench/fl/run.sh runs both and prints the ratios.
"""

import argparse
import timeit

import numpy as np

FEATURES = 784


def parties(n, per_party, rng):
    return [(rng.random((per_party, FEATURES)), rng.integers(0, 2, per_party).astype(float)) for _ in range(n)]


def batch_gradient(w, b, x, y):
    p = 1 / (1 + np.exp(-(x @ w + b)))
    e = p - y
    return x.T @ e / len(y), e.mean()


def gradient(w, b, x, y, bs):
    grads = [batch_gradient(w, b, x[i:i + bs], y[i:i + bs]) for i in range(0, len(y), bs)]
    return np.mean([g for g, _ in grads], axis=0), np.mean([gb for _, gb in grads])


def fedsgd_round(w, b, data, bs, lr):
    grads = [gradient(w, b, x, y, bs) for x, y in data]
    return w - lr * np.mean([g for g, _ in grads], axis=0), b - lr * np.mean([gb for _, gb in grads])


def masked_fedsgd_round(w, b, data, bs, lr, rng):
    n = len(data)
    masks = rng.uniform(-100, 100, (n // 2, FEATURES + 1))
    sent = []
    for i, (x, y) in enumerate(data):
        g, gb = gradient(w, b, x, y, bs)
        v = np.append(g, gb)
        sent.append(v + masks[i] if i < n // 2 else v - masks[i - n // 2])
    avg = np.mean(sent, axis=0)
    return w - lr * avg[:-1], b - lr * avg[-1]


def fedavg_round(w, b, data, bs, lr, epochs, fraction, rng):
    k = max(1, round(fraction * len(data)))
    clients = rng.choice(len(data), k, replace=False)
    models, counts = [], []
    for c in clients:
        x, y = data[c]
        cw, cb = w.copy(), b
        for _ in range(epochs):
            for i in range(0, len(y), bs):
                g, gb = batch_gradient(cw, cb, x[i:i + bs], y[i:i + bs])
                cw, cb = cw - lr * g, cb - lr * gb
        models.append(np.append(cw, cb))
        counts.append(len(y))
    avg = np.average(models, axis=0, weights=counts)
    return avg[:-1], avg[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    small, mcmahan = parties(10, 32, rng), parties(100, 600, rng)
    w, b = np.zeros(FEATURES), 0.0
    cases = {
        "FedSGDRound": lambda: fedsgd_round(w, b, small, 16, 0.1),
        "MaskedFedSGDRound": lambda: masked_fedsgd_round(w, b, small, 16, 0.1, rng),
        "FedAvgRound": lambda: fedavg_round(w, b, small, 16, 0.1, 1, 1.0, rng),
        "FedAvgRoundMcMahan": lambda: fedavg_round(w, b, mcmahan, 10, 0.1, 1, 0.1, rng),
    }
    for name, run in cases.items():
        number = 10 if "McMahan" not in name else 1
        best = min(timeit.repeat(run, number=number, repeat=args.repeat)) / number
        print(name, f"{best:.9f}")


if __name__ == "__main__":
    main()
