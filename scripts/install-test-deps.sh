#!/usr/bin/env bash
# Installs what the tests need beyond Go: Debian packages (Jupyter, nbclient,
# jupyter_kernel_test, PyTorch and numpy for benchmarks' references on an
# optimised BLAS (OpenBLAS), Chromium, bubblewrap, jupyter_server) and the npm
# packages of the browser test (playwright-core) and of the JupyterLab client
# test (@jupyterlab/services).
#
# Usage: scripts/install-test-deps.sh [--if-missing]
#   --if-missing  do nothing when everything is there; when something is
#                 missing and we cannot install (not root, no sudo), say what
#                 and go on: the tests that need it skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

debs=(python3-nbclient python3-nbconvert python3-nbformat python3-ipykernel
      python3-jupyter-kernel-test jupyter-notebook jupyter-console
      python3-numpy python3-torch libopenblas0-pthread chromium bubblewrap nodejs npm
      python3-jupyter-server)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere than Debian (this machine kind ships its own).
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$sudo" = none ]; then
    echo "install-test-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-test-deps: not root and no sudo: the tests that need them will skip." >&2
  else
    echo "install-test-deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Go modules (MNIST data included) so that no test downloads at run time.
go mod download

# playwright-core for the browser test (it drives Debian's Chromium; it never
# downloads a browser of its own).
if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  if command -v npm >/dev/null; then
    (cd tests/browser && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
  else
    echo "install-test-deps: npm not found: the browser test will skip." >&2
  fi
fi

# @jupyterlab/services, JupyterLab's kernel client, for kernel/kerneltest's
# TestJupyterLabClient (tests/jupyterlab; the version its package-lock.json pins).
if [ ! -f tests/jupyterlab/node_modules/@jupyterlab/services/package.json ]; then
  if command -v npm >/dev/null; then
    (cd tests/jupyterlab && npm ci --no-audit --no-fund --silent)
  else
    echo "install-test-deps: npm not found: kernel/kerneltest's JupyterLab client test will fail." >&2
  fi
fi
