#!/usr/bin/env bash
# Sets up ppml-go and starts the course: installs the Go kernel (idempotent),
# builds the ppml command into bin/, then opens the course notebook in
# Jupyter Notebook. Without Jupyter it says how to get it and runs the
# notebook headless in the Go kernel instead, writing the executed copy.
#
# Usage: scripts/course.sh [--headless] [--teacher] [--port N]
#   --headless  run the notebook top to bottom without a browser (into out/)
#   --teacher   use the source notebook (with solutions and hidden tests)
#   --port N    Jupyter's port (default 8888)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh

headless=0 teacher=0 port=8888
while [ $# -gt 0 ]; do
  case "$1" in
    --headless) headless=1 ;;
    --teacher) teacher=1 ;;
    --port) port=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "course.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

nb=notebooks/ppml-course.ipynb
[ "$teacher" = 1 ] && nb=notebooks/source/ppml-course.ipynb

echo "== installing the Go kernel (first run: a few minutes, downloads Go 1.27.3 and modules)"
scripts/install-kernel.sh --user
echo "== building bin/ppml"
go build -o bin/ppml ./cmd/ppml

if [ "$headless" = 0 ] && command -v jupyter >/dev/null && jupyter notebook --version >/dev/null 2>&1; then
  echo "== starting Jupyter Notebook on $nb (kernel \"Go (ppml)\"); stop it with Ctrl-C"
  extra=()
  [ "$(id -u)" = 0 ] && extra+=(--allow-root)
  exec jupyter notebook --no-browser --ip 127.0.0.1 --port "$port" "${extra[@]}" "$nb"
fi

if [ "$headless" = 0 ]; then
  echo "Jupyter is not installed: to work on the course in a browser install it, e.g."
  echo "  sudo apt-get install jupyter-notebook     (Debian/Ubuntu; JupyterLab works too)"
  echo "and run scripts/course.sh again. Meanwhile the notebook runs headless in the Go kernel."
fi
mkdir -p out
out=$root/out/$(basename "$nb" .ipynb).executed.ipynb
echo "== running $nb headless; executed copy: $out"
exec bin/ppml run "$nb" -o "$out" --allow-errors
