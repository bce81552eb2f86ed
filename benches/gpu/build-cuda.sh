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
#   GLINT_CUDA_FEATURES  cargo features (default "cuda"). "cuda flash-attn" is NOT built by default, for two
#                        reasons: candle-flash-attn's build script clones CUTLASS from github.com at build time
#                        (a machine without GitHub access fails there unless ~/.cudaforge/git/checkouts/
#                        already holds cutlass-7d49e6c7e2f8896c at that commit), and it compiles 37 flash-attn v2
#                        translation units of CUTLASS templates with nvcc on half the cores: over an hour on 2
#                        cores. GLM-4.7-Flash's MLA attention uses FlashInfer's MLA kernels under PagedAttention,
#                        which the plain cuda feature builds; flash-attn would speed up only the non-paged path.
#   GLINT_CARRY_DIR      where the packed binary goes (default .gpu-carry in the repository, git-ignored; the
#                        device call carries it with carry: [".gpu-carry"])
#
# Measured 2026-11-27 on the 2-core dev machine shared with five other cargo builds: 67 min for the cargo build
# (seeded target dir; ~13 min alone per ../shared's notes), 21 MB packed, 143 MB stripped.
# It builds the working tree as it is: uncommitted_source_files in the JSON counts what was not committed.
# Output: $GLINT_CARRY_DIR/glint-cuda.xz (stripped, xz -9e, ~21 MB) and glint-cuda.json (commit, features,
# build seconds, sizes, sha256 of the unpacked binary), which benches/gpu/device-run.sh checks before use.
# Kernels are compiled for sm_90a (CUDA_COMPUTE_CAP=90): the binary runs on Hopper GPUs only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD

cuda_root=${GLINT_CUDA_ROOT:-$HOME/.cache/glint/cuda-root}
target=${GLINT_CUDA_TARGET:-$HOME/.cache/glint/target-cuda}
features=${GLINT_CUDA_FEATURES:-cuda}
carry=${GLINT_CARRY_DIR:-$repo/.gpu-carry}
cpu_target=$HOME/.cache/glint/target

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

bash patches/prepare.sh

if [[ ! -d "$target" && -d "$cpu_target/release" ]]; then
    say "seeding $target from $cpu_target/release (feature-independent dependencies are reused)"
    mkdir -p "$target"
    cp -a "$cpu_target/release" "$target/"
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

commit=$(git rev-parse HEAD)
dirty=$(git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock patches | wc -l)
cat >"$carry/glint-cuda.json" <<EOF
{"commit":"$commit","uncommitted_source_files":$dirty,"features":"$features","compute_cap":90,
 "patches_sha256":"$(cat patches/*/*.patch | sha256sum | cut -d' ' -f1)",
 "built":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","build_seconds":$build_seconds,"total_seconds":$(( $(date +%s) - started )),
 "binary_bytes":$raw_bytes,"stripped_bytes":$stripped_bytes,"packed_bytes":$packed_bytes,"sha256":"$sha",
 "libraries":"$(ldd "$binary" 2>/dev/null | awk '/=>/{print $1}' | { grep -E 'cu|nv' || true; } | tr '\n' ' ')"}
EOF
say "done: $carry/glint-cuda.xz ($packed_bytes bytes packed, $stripped_bytes stripped), build ${build_seconds}s"
cat "$carry/glint-cuda.json"
