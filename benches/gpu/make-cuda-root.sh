#!/usr/bin/env bash
# Builds a CUDA 13.0 toolchain root from PyPI wheels, for compiling glint with `--features cuda` on a machine
# without a GPU or a system CUDA. Usage: make-cuda-root.sh [ROOT]   (default ROOT: $HOME/.cache/glint/cuda-root)
# Then:   export CUDA_HOME=ROOT CUDA_PATH=ROOT PATH=ROOT/bin:$PATH CUDA_COMPUTE_CAP=90 \
#                LIBRARY_PATH=ROOT/lib:ROOT/lib/stubs
#         cargo build --release --features cuda
# CUDA 13.0 matches the lent H100/H200 machines' driver 580. CUDA_COMPUTE_CAP=90 yields sm_90a code (Hopper only).
set -euo pipefail
ROOT=${1:-$HOME/.cache/glint/cuda-root}
WHEELS=$ROOT.wheels
python3 -m pip install -q --upgrade --no-deps --target "$WHEELS" \
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96 \
  nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35 nvidia-cuda-nvrtc==13.0.88
P=$WHEELS/nvidia/cu13
rm -rf "$ROOT"; mkdir -p "$ROOT/lib/stubs"
ln -s "$P/bin" "$ROOT/bin"; ln -s "$P/include" "$ROOT/include"; ln -s "$P/nvvm" "$ROOT/nvvm"
for f in "$P"/lib/*; do ln -s "$f" "$ROOT/lib/"; done
ln -s lib "$ROOT/lib64"
cd "$ROOT/lib"
for l in cudart.so.13 cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13; do ln -sf "lib$l" "lib${l%.so.*}.so"; done
# No wheel ships the driver library, and cudarc links -lcuda. Build a link-time stub that exports every driver
# entry point cudarc declares; at run time the real libcuda.so.1 of the GPU machine is used.
# Every cudarc version in the registry counts (mistralrs 0.8.1 pulls in two); run `cargo fetch` first.
cat "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-*/src/driver/sys/mod.rs \
  | grep -oP '^\s+fn \Kcu\w+(?=\()' | sort -u | awk '{print "void " $1 "(void) {}"}' > stubs/libcuda_stub.c
[ -s stubs/libcuda_stub.c ] || { echo "no cudarc source found: run cargo fetch in the project first" >&2; exit 1; }
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o stubs/libcuda.so stubs/libcuda_stub.c
touch "$ROOT/.ready"  # build-cuda.sh reuses a root only once it is complete
echo "CUDA root ready at $ROOT"
