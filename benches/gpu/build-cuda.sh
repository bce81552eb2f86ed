#!/usr/bin/env bash
# Builds glint for NVIDIA Hopper GPUs (H100/H200) on a machine without a GPU or a system CUDA, and packs the
# binary for the device machine, which takes at most 64 MiB per call and has no network.
#
# Usage: bash benches/gpu/build-cuda.sh
#   GLINT_CUDA_ROOT      CUDA 13.0 toolchain root, made from PyPI wheels when missing
#                        (default $HOME/.cache/glint/cuda-root; see make-cuda-root.sh)
#   GLINT_CUDA_TARGET    cargo target dir (default $HOME/.cache/glint/target-cuda). Kept apart from the CPU
#                        build's target dir: building both features in one dir makes each build undo the other.
#                        A missing one is seeded from $HOME/.cache/glint/target/release, whose
#                        feature-independent dependencies (tokio, tokenizers, tree-sitter, ...) are reused.
#   GLINT_CUDA_FEATURES  cargo features (default "cuda"). "cuda flash-attn" adds candle-flash-attn's flash-attention
#                        v2 kernels, which mistralrs's Sdpa.run_attention then uses on CUDA for every non-F32 call.
#                        For GLM-4.7-Flash that is mla_cache_forward's prefill of a sequence with no cached prefix
#                        (a first prompt, or the first chunk of one), which otherwise runs cuBLASLt chunked
#                        attention; a prefill after a cached prefix calls run_attention_noflash, and decode
#                        FlashInfer's MLA kernels, either way. With flash-attn the build needs, offline:
#   GLINT_CUTLASS_DIR    CUTLASS 3.5.0's headers (default $HOME/.cache/glint/cutlass-3.5.0), unpacked when missing
#                        from PyPI's nvidia-cutlass 3.5.0.0 wheel, whose cutlass_library/source/{include,
#                        tools/util/include} equal CUTLASS's git tag v3.5.0 (commit 7d49e6c7, the one
#                        candle-flash-attn 0.10.2 pins and would otherwise clone from github.com at build time;
#                        patches/candle-flash-attn-0.10.2 adds CANDLE_FLASH_ATTN_CUTLASS_DIR for it).
#   GLINT_FLASH_ATTN_HEAD_DIMS, GLINT_FLASH_ATTN_DTYPES
#                        the flash-attn kernels to compile (default "256" and "bf16": GLM-4.7-Flash's q/k/v head
#                        dim and dtype: flash_api.cu and the causal and non-causal kernel, 3 nvcc translation
#                        units instead of 37, which take over an hour on 2 cores). Set either to "" for all of
#                        them. A model that needs a kernel left out fails at its first prefill with an error
#                        naming the kernels the build has.
#                        The default target dir becomes $HOME/.cache/glint/target-cuda-flash, seeded from
#                        target-cuda (a build with other features in the same dir would recompile mistralrs for
#                        each), and the default carry dir .gpu-carry/flash-attn, next to the plain cuda build's
#                        binary, so one device call can carry both and compare them (mistralrs has no runtime
#                        switch for flash-attn: using_flash_attn() is a compile-time constant).
#   GLINT_CARRY_DIR      where the packed binary goes (default .gpu-carry in the repository, git-ignored; the
#                        device call carries it with carry: [".gpu-carry"]; .gpu-carry/flash-attn with flash-attn)
#
# Measured 2026-11-27 on the 2-core dev machine shared with five other cargo builds: 67 min for the cargo build
# (seeded target dir; ~13 min alone per ../shared's notes), 21 MB packed, 143 MB stripped.
# "cuda flash-attn" (head dim 256, bf16), same machine and day, load 8-10: 70 min for the cargo build in a
# worktree (so mistralrs-quant's and mistralrs-core's kernels were rebuilt too), of which 47 min for
# candle-flash-attn's 3 translation units (one kernel alone: 9 min at load 4); 22 MB packed, 151 MB stripped.
# It builds the working tree as it is: uncommitted_source_files in the JSON counts what was not committed.
# Output: $GLINT_CARRY_DIR/glint-cuda.xz (stripped, xz -9e, ~21 MB) and glint-cuda.json (commit, features,
# build seconds, sizes, sha256 of the unpacked binary), which benches/gpu/device-run.sh checks before use; and
# .gpu-carry/cupti/ (benches/gpu/build-tracer.sh: the CUPTI kernel tracer and its library, ~4 MB).
# Kernels are compiled for sm_90a (CUDA_COMPUTE_CAP=90): the binary runs on Hopper GPUs only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD

cuda_root=${GLINT_CUDA_ROOT:-$HOME/.cache/glint/cuda-root}
features=${GLINT_CUDA_FEATURES:-cuda}
cpu_target=$HOME/.cache/glint/target
flash_attn=0
[[ " ${features//,/ } " == *" flash-attn "* ]] && flash_attn=1
if ((flash_attn)); then
    target=${GLINT_CUDA_TARGET:-$HOME/.cache/glint/target-cuda-flash}
    carry=${GLINT_CARRY_DIR:-$repo/.gpu-carry/flash-attn}
    seed_target=$HOME/.cache/glint/target-cuda
    [[ -d "$seed_target/release" ]] || seed_target=$cpu_target
    cutlass_dir=${GLINT_CUTLASS_DIR:-$HOME/.cache/glint/cutlass-3.5.0}
    flash_head_dims=${GLINT_FLASH_ATTN_HEAD_DIMS-256}
    flash_dtypes=${GLINT_FLASH_ATTN_DTYPES-bf16}
else
    target=${GLINT_CUDA_TARGET:-$HOME/.cache/glint/target-cuda}
    carry=${GLINT_CARRY_DIR:-$repo/.gpu-carry}
    seed_target=$cpu_target
fi

started=$(date +%s)
say() { echo "build-cuda: $*" >&2; }

# make-cuda-root.sh reads cudarc's sources from the cargo registry to build its libcuda link stub.
# Patched crates first: cargo cannot even resolve the manifest (and fetch)
# until their .patched/ copies exist.
bash patches/prepare.sh
say "cargo fetch"
cargo fetch --quiet

if [[ ! -f "$cuda_root/.ready" ]]; then
    say "making the CUDA 13.0 root at $cuda_root from PyPI wheels"
    bash benches/gpu/make-cuda-root.sh "$cuda_root"
fi
[[ -x "$cuda_root/bin/nvcc" ]] || { say "no nvcc under $cuda_root/bin: delete $cuda_root and rerun"; exit 1; }

# CUTLASS 3.5.0's headers for flash-attn, from PyPI (the wheel is pinned by hash: its headers were checked equal,
# file for file, to CUTLASS's git tag v3.5.0 = commit 7d49e6c7e2f8896c47f586706e67e1fb215529dc).
cutlass_wheel=nvidia_cutlass-3.5.0.0-py3-none-any.whl
cutlass_wheel_sha256=4ec3ab4820dd4ae3ebc2c5ddf23352b0dc90f779435284e7dce822006adc51f6
if ((flash_attn)) && [[ ! -f "$cutlass_dir/.ready" ]]; then
    say "unpacking CUTLASS 3.5.0's headers from PyPI's nvidia-cutlass 3.5.0.0 into $cutlass_dir"
    wheel_dir=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheel_dir" nvidia-cutlass==3.5.0.0 ||
        { say "pip could not download nvidia-cutlass 3.5.0.0 from PyPI; check access to it (or set GLINT_CUTLASS_DIR)"; exit 1; }
    [[ $(sha256sum "$wheel_dir/$cutlass_wheel" | cut -d' ' -f1) == "$cutlass_wheel_sha256" ]] ||
        { say "$cutlass_wheel's sha256 is not the one checked against CUTLASS v3.5.0; not using it"; exit 1; }
    rm -rf "$cutlass_dir.tmp"
    mkdir -p "$cutlass_dir.tmp"
    python3 - "$wheel_dir/$cutlass_wheel" "$cutlass_dir.tmp" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "cutlass_library/source/"
with zipfile.ZipFile(wheel) as z:
    headers = [n for n in z.namelist() if not n.endswith("/") and
               (n.startswith(prefix + "include/") or n.startswith(prefix + "tools/util/include/"))]
    if not headers:
        sys.exit(f"{wheel} holds no {prefix}include/")
    for name in headers:
        path = os.path.join(dest, name[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(name) as src, open(path, "wb") as out:
            out.write(src.read())
PY
    rm -rf "$wheel_dir" "$cutlass_dir"
    touch "$cutlass_dir.tmp/.ready"
    mv "$cutlass_dir.tmp" "$cutlass_dir"
fi
if ((flash_attn)); then
    [[ -f "$cutlass_dir/include/cutlass/cutlass.h" ]] || { say "no CUTLASS headers under $cutlass_dir/include: delete $cutlass_dir and rerun"; exit 1; }
    export CANDLE_FLASH_ATTN_CUTLASS_DIR=$cutlass_dir
    export CANDLE_FLASH_ATTN_HEAD_DIMS=$flash_head_dims CANDLE_FLASH_ATTN_DTYPES=$flash_dtypes
    say "flash-attn: CUTLASS from $cutlass_dir, head dims '${flash_head_dims:-all}', dtypes '${flash_dtypes:-all}'"
fi

bash patches/prepare.sh

if [[ ! -d "$target" && -d "$seed_target/release" ]]; then
    say "seeding $target from $seed_target/release (the dependencies whose features match are reused)"
    mkdir -p "$target"
    cp -a "$seed_target/release" "$target/"
fi

export CUDA_HOME=$cuda_root CUDA_PATH=$cuda_root PATH=$cuda_root/bin:$PATH CUDA_COMPUTE_CAP=90
export LIBRARY_PATH=$cuda_root/lib:$cuda_root/lib/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}
export CARGO_TARGET_DIR=$target
say "cargo build --release --features '$features' --bin glint (target $target)"
build_started=$(date +%s)
cargo build --release --features "$features" --bin glint
build_seconds=$(( $(date +%s) - build_started ))

binary=$target/release/glint
mkdir -p "$carry"
stripped=$carry/glint-cuda
cp "$binary" "$stripped"
strip "$stripped"
sha=$(sha256sum "$stripped" | cut -d' ' -f1)
raw_bytes=$(stat -c %s "$binary")
stripped_bytes=$(stat -c %s "$stripped")
say "packing with xz -9e"
xz -9e -T2 -f "$stripped"   # leaves $carry/glint-cuda.xz, removes the stripped copy
packed_bytes=$(stat -c %s "$carry/glint-cuda.xz")
(( packed_bytes < 60 * 1024 * 1024 )) || say "WARNING: $packed_bytes bytes packed: over what one device call carries beside the tree"
if [[ -d "$repo/.gpu-carry" ]]; then
    carried_bytes=$(du -sb "$repo/.gpu-carry" | cut -f1)
    (( carried_bytes < 60 * 1024 * 1024 )) ||
        say "WARNING: .gpu-carry holds $carried_bytes bytes (every build in it): over what one device call carries beside the tree"
fi

# The kernel tracer for devices without nsys (device-run.sh's profile stage), beside every build's binary.
bash benches/gpu/build-tracer.sh "$repo/.gpu-carry" ||
    say "WARNING: no kernel tracer built: the profile stage needs nsys on the device"

commit=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock patches | wc -l)
flash_json=null
if ((flash_attn)); then
    flash_json="{\"cutlass\":\"nvidia-cutlass 3.5.0.0 (CUTLASS v3.5.0)\",\"head_dims\":\"${flash_head_dims:-all}\",\"dtypes\":\"${flash_dtypes:-all}\"}"
fi
cat >"$carry/glint-cuda.json" <<EOF
{"commit":"$commit","uncommitted_source_files":$dirty,"features":"$features","compute_cap":90,"flash_attn":$flash_json,
 "patches_sha256":"$(cat patches/*/*.patch | sha256sum | cut -d' ' -f1)",
 "built":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","build_seconds":$build_seconds,"total_seconds":$(( $(date +%s) - started )),
 "binary_bytes":$raw_bytes,"stripped_bytes":$stripped_bytes,"packed_bytes":$packed_bytes,"sha256":"$sha",
 "libraries":"$(ldd "$binary" 2>/dev/null | awk '/=>/{print $1}' | { grep -E 'cu|nv' || true; } | tr '\n' ' ')"}
EOF
say "done: $carry/glint-cuda.xz ($packed_bytes bytes packed, $stripped_bytes stripped), build ${build_seconds}s"
cat "$carry/glint-cuda.json"
