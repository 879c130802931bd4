#!/usr/bin/env bash
# Runs a command in a copy of this checkout as a normal (unprivileged) user, as a teacher without root
# would: the grader's end-to-end tests must pass there too (scripts/test.sh runs them so in CI), and
# bench/grade/run.sh measures the grader so.
#
# Usage (as root): scripts/as-user.sh USER COMMAND [ARGS...]
#   e.g. scripts/as-user.sh ppml-ci go test ./pkg/grade/...   or   scripts/as-user.sh teach bench/grade/run.sh
#
# It creates USER (useradd -m) if missing, gives it a copy of the checkout's files (tracked and
# untracked, not ignored) in ~USER/ppml, and a read-only Go module cache: a hard-linked copy of
# root's (GOMODCACHE; same file system, so instant; a plain copy otherwise), which holds the
# modules and the go1.27 toolchain (GOTOOLCHAIN), with GOPROXY=off so that nothing is downloaded.
# USER's Go build cache is its own (the first run compiles the dependencies once).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[ "$(id -u)" = 0 ] || { echo "as-user.sh: run as root (it creates the user)" >&2; exit 2; }
# useradd and runuser live in sbin, which a non-login root PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin
[ $# -ge 2 ] || { echo "usage: as-user.sh USER COMMAND [ARGS...]" >&2; exit 2; }
user=$1; shift
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)

# The module cache, readable by the user (module files are read-only already).
modcache=/var/tmp/ppml-test-gomodcache
src=$(go env GOMODCACHE)
if [ ! -d "$modcache/cache/download" ] || [ -n "$(cd "$src/cache/download" && find . -name '*.zip' -newer "$modcache/.done" 2>/dev/null | head -1)" ]; then
	rm -rf "$modcache.tmp"
	mkdir -p "$modcache.tmp"
	cp -al "$src/." "$modcache.tmp/" 2>/dev/null || cp -a "$src/." "$modcache.tmp/"
	chmod -R a+rX "$modcache.tmp"
	rm -rf "$modcache"
	mv "$modcache.tmp" "$modcache"
	touch "$modcache/.done"
fi

# The checkout, owned by the user.
rm -rf "$home/ppml"
mkdir -p "$home/ppml"
git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	tar --null -T - -cf - | tar -C "$home/ppml" -xf -
chown -R "$user:" "$home/ppml"

exec runuser -u "$user" -- env -i HOME="$home" USER="$user" LANG=C.UTF-8 CI="${CI:-}" \
	PATH="/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin" \
	GOMODCACHE="$modcache" GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN="$GOTOOLCHAIN" GOEXPERIMENT="$GOEXPERIMENT" \
	bash -c 'cd ~/ppml && source scripts/env.sh && exec "$@"' as-user "$@"
