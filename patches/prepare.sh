#!/usr/bin/env bash
# Prepares glint's patched copies of its dependencies, which Cargo.toml's
# [patch.crates-io] points at. Run it before any cargo command (the README's
# commands and .ci/run do): cargo resolves [patch] paths before any build
# script could create them.
#
# Each directory patches/CRATE-VERSION/ holds patch files for that crate
# (mistralrs-core, mistralrs-quant, candle-core, ...). Its copy,
# .patched/CRATE-VERSION/, is a build product (ignored by git): the crate
# exactly as crates.io serves it, plus those patch files applied in name
# order. glint keeps only its own changes in the repository, so an upgrade
# shows exactly what glint changed. A copy is rebuilt whenever its patch
# files change (a stamp in each copy records them), and left alone otherwise.
#
# To patch another crate: create patches/CRATE-VERSION/ with its first patch
# and add `CRATE = { path = ".patched/CRATE-VERSION" }` to [patch.crates-io].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shopt -s nullglob

fail() {
    echo "patches/prepare.sh: $*" >&2
    exit 1
}

# What each patched crate needs: name, version, source and copy directories.
names=()
crates=()
versions=()
for dir in patches/*/; do
    name="$(basename "$dir")"
    if [[ ! "$name" =~ ^([A-Za-z0-9_-]+)-([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?)$ ]]; then
        fail "patches/$name is not named CRATE-VERSION (e.g. mistralrs-core-0.8.1); rename it"
    fi
    crate="${BASH_REMATCH[1]}"
    version="${BASH_REMATCH[2]}"
    patch_files=("$dir"*.patch)
    if ((${#patch_files[@]} == 0)); then
        fail "patches/$name has no .patch files; add one or remove the directory"
    fi
    if ! grep -Eq "^$crate = \{ path = \"\.patched/$name\" \}" Cargo.toml; then
        fail "Cargo.toml's [patch.crates-io] lacks '$crate = { path = \".patched/$name\" }'; add it so cargo builds the patched copy"
    fi
    names+=("$name")
    crates+=("$crate")
    versions+=("$version")
done
# A [patch] entry without patch files would point cargo at a copy nothing makes.
for name in $(grep -Eo '"\.patched/[^"]+"' Cargo.toml | sed -e 's/^"\.patched\///' -e 's/"$//'); do
    if [[ ! -d "patches/$name" ]]; then
        fail "Cargo.toml patches from .patched/$name but patches/$name does not exist; remove that [patch.crates-io] entry or add the patches"
    fi
done

stamp_of() {
    cat "patches/$1"/*.patch | sha256sum | cut -d' ' -f1
}

# The crates whose copy is missing or stale.
stale=()
for i in "${!names[@]}"; do
    stamp=".patched/${names[$i]}/.glint-patches"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$(stamp_of "${names[$i]}")" ]]; then
        stale+=("$i")
    fi
done
if ((${#stale[@]} == 0)); then
    exit 0
fi

# Fetch the crates through one throwaway manifest, so cargo's own registry
# settings (mirrors, offline mode) and checksum verification apply. The
# project's lock file keeps the throwaway resolution on the versions glint
# already uses, so nothing extra is downloaded.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
touch "$scratch/src/lib.rs"
{
    cat <<EOF
[package]
name = "glint-fetch-patched-crates"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
EOF
    for i in "${stale[@]}"; do
        echo "fetch-$i = { package = \"${crates[$i]}\", version = \"=${versions[$i]}\", default-features = false }"
    done
} >"$scratch/Cargo.toml"
if [[ -f Cargo.lock ]]; then
    cp Cargo.lock "$scratch/Cargo.lock"
fi
if ! metadata="$(cargo metadata --quiet --format-version 1 --manifest-path "$scratch/Cargo.toml")"; then
    fail "cargo could not fetch ${names[*]}; check access to crates.io (or your registry mirror) and retry"
fi

for i in "${stale[@]}"; do
    name="${names[$i]}"
    patches_dir="patches/$name"
    dest=".patched/$name"
    manifest="$(grep -o "\"manifest_path\":\"[^\"]*/$name/Cargo.toml\"" <<<"$metadata" | head -n 1 |
        sed -e 's/^"manifest_path":"//' -e 's/"$//')"
    if [[ -z "$manifest" || ! -f "$manifest" ]]; then
        fail "cargo did not fetch ${crates[$i]} ${versions[$i]}; check that crates.io has that version and that you can reach it"
    fi
    patch_files=("$patches_dir"/*.patch)
    echo "patches/prepare.sh: preparing ${crates[$i]} ${versions[$i]} with ${#patch_files[@]} patches from $patches_dir" >&2
    rm -rf "$dest.tmp"
    mkdir -p "$(dirname "$dest")"
    cp -R "$(dirname "$manifest")" "$dest.tmp"
    chmod -R u+w "$dest.tmp"
    for patch_file in "${patch_files[@]}"; do
        if ! patch --quiet --batch --forward -p1 -d "$dest.tmp" <"$patch_file"; then
            rm -rf "$dest.tmp"
            fail "$patch_file does not apply to ${crates[$i]} ${versions[$i]}; fix or regenerate it (diff -u against the crate from crates.io)"
        fi
    done
    stamp_of "$name" >"$dest.tmp/.glint-patches"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    echo "patches/prepare.sh: $dest is ready" >&2
done
