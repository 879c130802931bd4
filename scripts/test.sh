#!/usr/bin/env bash
# Runs every test of ppml-go: formatting and vet checks, then `go test` over
# the whole module (unit, fuzz seeds, acceptance, kernel, notebook, grader and
# browser tests; those whose outside tools are missing say so and skip).
#
# Usage: scripts/test.sh [extra go test flags]
# It first installs what the tests need when it is missing (as root or with
# sudo; otherwise the tests that need it skip and say why) and the Go kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Test dependencies (Debian packages, npm's playwright-core, Go modules) and
# the course kernel: both steps are idempotent and quick when done already.
scripts/install-test-deps.sh --if-missing
scripts/install-kernel.sh --user >/dev/null

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
# -p 1 keeps the heavy packages (GoMLX training, kernels, the notebook) from
# fighting over the 2 cores; -count=1 so cached results never hide a run; -v
# so the log names every skipped test and why. The full log is kept; what is
# printed here is every package's result, each failure with its output, and
# each skip with its reason.
mkdir -p out
log=${PPML_TEST_LOG:-$PWD/out/go-test.log}
rm -f "$log"
set +e
go test -v -count=1 -p 1 -timeout 60m "$@" ./... >"$log" 2>&1
status=$?
set -e
awk '
  /^=== (RUN|CONT|PAUSE|NAME)/ { buf = ""; show = 0; next }
  /^[ \t]*--- PASS/ { buf = ""; show = 0; next }
  /^[ \t]*--- (FAIL|SKIP)/ { print; printf "%s", buf; buf = ""; show = 1; next }
  /^(ok|FAIL|panic:)/ { print; next }
  /^[ \t]/ { if (show) print; else buf = buf $0 "\n" }
' "$log"
if [ "$status" != 0 ]; then
  echo "== context of each failure"
  grep -n -B 25 -E '^[[:space:]]*--- FAIL|^panic:' "$log" | grep -v -E '^[0-9]+-=== (PAUSE|CONT)' || true
fi
echo "== full log: $log"
exit "$status"
