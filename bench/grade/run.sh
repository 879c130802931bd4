#!/usr/bin/env bash
# Benchmark of `ppml autograde`: grades 30 submissions (10 correct, 10
# half done, 10 blank, copies of pkg/grade/testdata/submissions) of the
# grader's test course notebook (pkg/grade/testdata/course.ipynb: two
# exercises, 8 cells) in the sandbox, -j 2, and prints submissions per minute.
#
# Usage: bench/grade/run.sh [-j N] [--source NB --submissions DIR]
# The kernel is plain GoNB built from go.mod's tools (kernelspec written to a
# temporary directory), so the benchmark does not need the course kernel
# installed; the Go build cache of the user is shared read-only (overlay).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
jobs=2 source=pkg/grade/testdata/course.ipynb subs=""
while [ $# -gt 0 ]; do
	case "$1" in
	-j) jobs=$2; shift ;;
	--source) source=$2; shift ;;
	--submissions) subs=$2; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/bin/" ./cmd/ppml github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports
goroot=$(go env GOROOT)
mkdir -p "$tmp/spec"
cat >"$tmp/spec/kernel.json" <<EOS
{"argv": ["$tmp/bin/gonb", "--kernel", "{connection_file}", "--raw_error"],
 "display_name": "GoNB (bench)", "language": "go", "interrupt_mode": "message",
 "env": {"GOTOOLCHAIN": "$GOTOOLCHAIN", "GOEXPERIMENT": "$GOEXPERIMENT",
         "GOMODCACHE": "$(go env GOMODCACHE)", "PATH": "$tmp/bin:$goroot/bin:/usr/local/bin:/usr/bin:/bin"}}
EOS
if [ -z "$subs" ]; then
	subs=$tmp/submissions
	mkdir -p "$subs"
	for i in $(seq -w 1 10); do
		cp pkg/grade/testdata/submissions/good.ipynb "$subs/good$i.ipynb"
		cp pkg/grade/testdata/submissions/partial.ipynb "$subs/partial$i.ipynb"
		cp pkg/grade/testdata/submissions/blank.ipynb "$subs/blank$i.ipynb"
	done
fi
GOCACHE=$(go env GOCACHE) "$tmp/bin/ppml" autograde --kernelspec "$tmp/spec" --source "$source" "$subs" -o "$tmp/grades" -j "$jobs" --timeout 60s
