# Sourced by every script of ppml-go: the toolchain the project is measured on.
# GoMLX v0.28.16 needs Go 1.27 (the go command fetches it from the module
# proxy); GOEXPERIMENT=simd lets its pure-Go backend use AVX2/AVX-512.
export GOTOOLCHAIN=go1.27.3
export GOEXPERIMENT=simd
