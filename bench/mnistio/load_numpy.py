"""Time loading the four MNIST files with NumPy, the way Keras-era code does:
np.frombuffer(gzip.open(path).read(), dtype=np.uint8, offset=16) for images
(offset=8 for labels). Prints the best time of --repeat runs, in seconds.

Usage: load_numpy.py DATA_DIR [--repeat N]
The Go counterpart is BenchmarkLoadData in pkg/mnistio; bench/mnistio/run.sh
runs both and prints the ratio.
"""

import argparse
import gzip
import os
import timeit

import numpy as np

FILES = [
    ("train-images-idx3-ubyte.gz", 16, (60000, 28, 28)),
    ("train-labels-idx1-ubyte.gz", 8, (60000,)),
    ("t10k-images-idx3-ubyte.gz", 16, (10000, 28, 28)),
    ("t10k-labels-idx1-ubyte.gz", 8, (10000,)),
]


def load(data_dir):
    arrays = []
    for name, offset, shape in FILES:
        with gzip.open(os.path.join(data_dir, name), "rb") as f:
            arrays.append(np.frombuffer(f.read(), dtype=np.uint8, offset=offset).reshape(shape))
    return arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    arrays = load(args.data_dir)
    assert [a.shape for a in arrays] == [shape for _, _, shape in FILES]
    best = min(timeit.repeat(lambda: load(args.data_dir), number=1, repeat=args.repeat))
    print(f"{best:.6f}")


if __name__ == "__main__":
    main()
