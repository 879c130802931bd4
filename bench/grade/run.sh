#!/usr/bin/env bash
# Benchmark of `ppml autograde` on the course notebook: grades 30 submissions of
# notebooks/source/ppml-course.ipynb on the ppml-go kernel, each in its own sandbox, -j 2, and prints
# submissions per minute and the machine's load during the run.
#
# The 30 submissions: 10 full (every exercise solved), 10 partial or broken (the other course
# submissions of pkg/grade/testdata/course in turn: half done, a wrong answer, a panic, a syntax error,
# a type error, one exercise skipped) and 10 empty (the student release untouched).
#
# As a normal user (the sandbox without root): scripts/as-user.sh USER bench/grade/run.sh [...]
#
# Usage: bench/grade/run.sh [-j N] [--kernelspec DIR] [--keep DIR]
#   --kernelspec DIR  an installed ppml-go kernelspec (default: install this checkout's kernel into a
#                     temporary prefix with scripts/install-kernel.sh)
#   --keep DIR        keep the submissions and the gradebook in DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
jobs=2 spec="" keep=""
while [ $# -gt 0 ]; do
	case "$1" in
	-j) jobs=$2; shift ;;
	--kernelspec) spec=$2; shift ;;
	--keep) keep=$2; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
tmp=$(mktemp -d)
trap 'kill "${sampler:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
out=${keep:-$tmp}
mkdir -p "$out"

if [ -z "$spec" ]; then
	scripts/install-kernel.sh --prefix "$tmp/kernel" --quiet
	spec=$tmp/kernel/share/jupyter/kernels/ppml-go
fi
go build -o "$tmp/ppml" ./cmd/ppml

subs=$out/submissions
rm -rf "$subs" "$out/grades"
mkdir -p "$subs"
others=()
for f in pkg/grade/testdata/course/*.ipynb; do
	[ "$(basename "$f")" = full.ipynb ] || [ "$(basename "$f")" = snoops.ipynb ] || others+=("$f")
done
for i in $(seq -w 1 10); do
	cp pkg/grade/testdata/course/full.ipynb "$subs/full-$i.ipynb"
	o=${others[$(( (10#$i - 1) % ${#others[@]} ))]}
	cp "$o" "$subs/$(basename "$o" .ipynb)-$i.ipynb"
	cp notebooks/ppml-course.ipynb "$subs/empty-$i.ipynb"
done

# The 1-minute load average every 5 s while grading.
(while sleep 5; do cut -d' ' -f1 /proc/loadavg; done >"$tmp/load") &
sampler=$!
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo "user: $(id -un)"
status=0
# CPU time of the grader and everything it waited for (kernels, compilers, programs): on a shared
# machine, 2 cores x 60 s / (CPU s per submission) estimates the rate on an idle one.
TIMEFORMAT='cpu: %U s user + %S s system, wall %R s'
time GOCACHE=$(go env GOCACHE) "$tmp/ppml" autograde --kernelspec "$spec" \
	--source notebooks/source/ppml-course.ipynb "$subs" -o "$out/grades" -j "$jobs" || status=$?
kill "$sampler"
echo "load during: $(awk '{s += $1; if ($1 > m) m = $1} END {if (NR) printf "mean %.1f, max %.1f over %d samples", s/NR, m, NR}' "$tmp/load")"

# Scores by kind of submission.
python3 - "$out/grades/gradebook.json" <<'EOS'
import json, re, sys
kinds, failed = {}, 0
for g in json.load(open(sys.argv[1])):
    if g["score"] is None:
        failed += 1
        continue
    kinds.setdefault(re.sub(r"-\d+$", "", g["student"]), []).append(g["score"])
for k, v in sorted(kinds.items()):
    print(f"  {k:18} {len(v):2} submissions, score {min(v):g}..{max(v):g}")
if failed:
    print(f"  NOT GRADED: {failed} submissions")
    sys.exit(1)
EOS
exit "$status"
