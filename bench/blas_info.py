#!/usr/bin/python3
"""Prints the BLAS a PyTorch/NumPy reference of bench/ runs on.

It imports NumPy (and PyTorch if present), finds the BLAS libraries mapped
into this process (/proc/self/maps), asks OpenBLAS for the kernel it chose
(openblas_get_corename) and its configuration, and prints the BLAS line of
torch.__config__.show(). One line per fact, prefixed "blas:".
"""

import ctypes
import os
import re

import numpy  # noqa: F401  (loads the BLAS NumPy links)

try:
    import torch
except ImportError:
    torch = None


def mapped_blas():
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            name = os.path.basename(path)
            if ("blas" in name or "lapack" in name or "mkl" in name) and path not in libs:
                libs.append(path)
    return libs


def main():
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ}
    print(f"blas: environment {env or 'without OPENBLAS_*/OMP_* settings'}")
    for path in mapped_blas():
        real = os.path.realpath(path)
        line = f"blas: loaded {path}" + (f" -> {real}" if real != path else "")
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            line += f"; OpenBLAS kernel {lib.openblas_get_corename().decode()}, config {lib.openblas_get_config().decode().strip()}"
        except (OSError, AttributeError):
            pass
        print(line)
    if torch is not None:
        blas = re.findall(r"\b(?:BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=\w+", torch.__config__.show())
        print(f"blas: torch {torch.__version__} ({', '.join(blas) or 'no BLAS settings in torch.__config__.show()'}), {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
