#!/usr/bin/env bash
# Builds benches/gpu/cupti_trace.cpp, the kernel tracer device-run.sh's profile stage uses where the device has no
# nsys, into CARRY/cupti/ with the CUPTI library it links (CUDA 13.0's, from PyPI), so the device needs neither
# headers nor a compiler. Usage: bash benches/gpu/build-tracer.sh [CARRY]   (default .gpu-carry; build-cuda.sh
# runs it). Needs g++ and access to PyPI; CUDA's own headers come from the CUDA root build-cuda.sh makes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
carry=${1:-.gpu-carry}
cuda_root=${GLINT_CUDA_ROOT:-$HOME/.cache/glint/cuda-root}
cupti=$HOME/.cache/glint/cupti-13.0.85
wheel=nvidia_cuda_cupti-13.0.85-py3-none-manylinux_2_25_x86_64.whl
[[ -f $cuda_root/include/cuda.h ]] || { echo "build-tracer: no $cuda_root/include/cuda.h: run benches/gpu/build-cuda.sh (it makes the CUDA root)" >&2; exit 1; }
if [[ ! -f $cupti/.ready ]]; then
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" nvidia-cuda-cupti==13.0.85 ||
        { echo "build-tracer: pip could not download nvidia-cuda-cupti 13.0.85 from PyPI; check access to it" >&2; exit 1; }
    rm -rf "$cupti" && mkdir -p "$cupti"
    python3 -m zipfile -e "$tmp/$wheel" "$cupti"
    rm -rf "$tmp"
    touch "$cupti/.ready"
fi
mkdir -p "$carry/cupti"
g++ -O2 -Wall -Wextra -shared -fPIC -I "$cuda_root/include" -I "$cupti/nvidia/cu13/include" \
    benches/gpu/cupti_trace.cpp -o "$carry/cupti/libglint_cupti_trace.so" \
    -L "$cupti/nvidia/cu13/lib" -l:libcupti.so.13
cp "$cupti/nvidia/cu13/lib/libcupti.so.13" "$carry/cupti/"
echo "build-tracer: $carry/cupti/libglint_cupti_trace.so (+ libcupti.so.13)" >&2
