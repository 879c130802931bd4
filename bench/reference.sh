# Sourced by the bench scripts: the PyTorch/NumPy references run fairly.
#
# reference ARGS... runs the reference interpreter ($PYTHON, by default
# /usr/bin/python3, which sees Debian's python3-torch and python3-numpy) with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that process only:
# OpenBLAS then detects this CPU itself instead of using forced (older)
# kernels. blas_info prints which BLAS library and OpenBLAS kernel the
# reference uses (bench/blas_info.py); every script prints it with its
# results.
PYTHON=${PYTHON:-/usr/bin/python3}
reference() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" "$@"; }
blas_info() { reference "$(dirname "${BASH_SOURCE[0]}")/blas_info.py"; }
