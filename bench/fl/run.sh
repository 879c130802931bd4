#!/usr/bin/env bash
# Compares one round of pkg/fl's federated perceptron algorithms (the
# benchmarks of pkg/fl/bench_test.go) with the same rounds in NumPy
# (perceptron_numpy.py), on random data of MNIST's shape:
#   FedSGDRound, MaskedFedSGDRound, FedAvgRound: the notebook's round,
#     10 parties of 32 examples, batch 16 (FedAvg: 1 local epoch);
#   FedAvgRoundMcMahan: McMahan et al.'s IID round, 10 of 100 clients of 600
#     examples, B = 10, E = 1.
# Go and NumPy take turns for ROUNDS rounds so both see the same machine load;
# each keeps its best time. Both are single-threaded (OPENBLAS_NUM_THREADS=1).
#
# Usage: bench/fl/run.sh [ROUNDS]   (default 3)
# Needs Debian's python3-numpy (PYTHON defaults to /usr/bin/python3); NumPy
# runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (bench/reference.sh)
# and the script prints the BLAS and kernel it uses.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/env.sh"
rounds=${1:-3}
source "$root/bench/reference.sh"
export OPENBLAS_NUM_THREADS=1

cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/fl.test" ./pkg/fl

OPENBLAS_NUM_THREADS=1 blas_info
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	"$tmp/fl.test" -test.run '^$' -test.bench 'Round' -test.benchtime 1s |
		awk '/^Benchmark/ { name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name); printf "%s %.9f\n", name, $3 / 1e9 }' >>"$tmp/go"
	reference "$root/bench/fl/perceptron_numpy.py" --repeat 5 >>"$tmp/numpy"
done

echo "One round, best of $rounds runs (ms):"
echo
echo "| round | Go pkg/fl (ms) | NumPy (ms) | ratio Go/NumPy |"
echo "| --- | ---: | ---: | ---: |"
awk '
	FNR == NR { if (!($1 in g) || $2 < g[$1]) g[$1] = $2; next }
	{ if (!($1 in n) || $2 < n[$1]) n[$1] = $2 }
	END {
		split("FedSGDRound MaskedFedSGDRound FedAvgRound FedAvgRoundMcMahan", order, " ")
		for (i = 1; i <= 4; i++) { k = order[i]; printf "| %s | %.3f | %.3f | %.2f |\n", k, g[k] * 1000, n[k] * 1000, g[k] / n[k] }
	}' "$tmp/go" "$tmp/numpy"
