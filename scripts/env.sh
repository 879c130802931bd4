# Sourced by every script of ppml-go: the toolchain the project is measured on.
# GoMLX v0.28.16 needs Go 1.27 (the go command fetches it from the module
# proxy); GOEXPERIMENT=simd lets its pure-Go backend use AVX2/AVX-512.
export GOTOOLCHAIN=go1.27.3
export GOEXPERIMENT=simd
# Go's official installer puts it in /usr/local/go, which a login shell's PATH
# may lack (su -, sudo -i): use it when no go is on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH=/usr/local/go/bin:$PATH
fi
