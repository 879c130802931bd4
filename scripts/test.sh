#!/usr/bin/env bash
# Runs every test of ppml-go: formatting and vet checks, then `go test` over
# the whole module (unit, fuzz seeds, acceptance, kernel, notebook, grader and
# browser tests; those whose outside tools are missing say so and skip), and,
# when run as root (as CI does), the grader's end-to-end tests again as a
# normal user it creates (scripts/as-user.sh).
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
userlog=${log%.log}-user.log
rm -f "$log" "$userlog"
# summarize prints a go test log's package results, each failure with its
# output, and each skip with its reason.
summarize() {
  awk '
    /^=== (RUN|CONT|PAUSE|NAME)/ { buf = ""; show = 0; next }
    /^[ \t]*--- PASS/ { buf = ""; show = 0; next }
    /^[ \t]*--- (FAIL|SKIP)/ { print; printf "%s", buf; buf = ""; show = 1; next }
    /^(ok|FAIL|panic:)/ { print; next }
    /^[ \t]/ { if (show) print; else buf = buf $0 "\n" }
  ' "$1"
}
set +e
go test -v -count=1 -p 1 -timeout 60m "$@" ./... >"$log" 2>&1
status=$?
set -e
summarize "$log"

# The headline features again as a normal user, as a teacher or a student
# without root runs them: the grader's end-to-end tests (the course class, the
# attack class, the sandbox, autograde's failures: the sandbox must not need
# root), the course notebook run headless, and the kernel driven by
# JupyterLab's own client. The user installs what it needs as a user would
# (its npm packages and its kernel; the Debian packages are the machine's).
if [ "$(id -u)" = 0 ]; then
  echo "== go test as a normal user: scripts/as-user.sh ppml-ci go test ..."
  set +e
  scripts/as-user.sh ppml-ci bash -c 'scripts/install-test-deps.sh --if-missing >/dev/null && scripts/install-kernel.sh --user --quiet && exec "$@"' deps \
    go test -v -count=1 -p 1 -timeout 60m "$@" \
    -run 'Test(Course|Attack|Execute|Sandbox|CacheProg|Autograde|Layouts|Refusals|GraderFailure|Resume|SourceRuns|JupyterLabClient)' \
    ./pkg/grade/... ./cmd/ppml/ ./notebooks/ ./kernel/kerneltest/ >"$userlog" 2>&1
  ustatus=$?
  set -e
  summarize "$userlog"
  [ "$ustatus" = 0 ] || status=$ustatus
else
  echo "== not root: the run above was a normal user's already"
fi
if [ "$status" != 0 ]; then
  echo "== context of each failure"
  for l in "$log" "$userlog"; do
    [ -f "$l" ] && grep -n -B 25 -E '^[[:space:]]*--- FAIL|^panic:' "$l" | grep -v -E '^[0-9]+-=== (PAUSE|CONT)' || true
  done
fi
echo "== full log: $log${userlog:+ (normal user: $userlog)}"
exit "$status"
