#!/usr/bin/env bash
# Prepares glint's patched copy of mistralrs-core, which Cargo.toml's
# [patch.crates-io] points at. Run it before any cargo command (the README's
# commands and .ci/run do): cargo resolves [patch] paths before any build
# script could create them.
#
# The copy is a build product (ignored by git): the crate exactly as
# crates.io serves it, plus the patch files in patches/mistralrs-core-VERSION/,
# applied in name order. glint keeps only its own changes in the repository,
# so an upgrade of mistralrs shows exactly what glint changed. The copy is
# rebuilt whenever the patch files change, and left alone otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

crate=mistralrs-core
version=0.8.1
patches_dir="patches/$crate-$version"
dest=".patched/$crate-$version"
stamp="$dest/.glint-patches"

want="$(cat "$patches_dir"/*.patch | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

echo "patches/prepare.sh: preparing $crate $version with $(ls "$patches_dir"/*.patch | wc -l) patches from $patches_dir" >&2

# Fetch the crate through a throwaway manifest, so cargo's own registry
# settings (mirrors, offline mode) and checksum verification apply. The
# project's lock file keeps the throwaway resolution on the versions glint
# already uses, so nothing extra is downloaded.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
touch "$scratch/src/lib.rs"
cat >"$scratch/Cargo.toml" <<EOF
[package]
name = "glint-fetch-$crate"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$crate = { version = "=$version", default-features = false }

[workspace]
EOF
if [[ -f Cargo.lock ]]; then
    cp Cargo.lock "$scratch/Cargo.lock"
fi
manifest="$(cargo metadata --quiet --format-version 1 --manifest-path "$scratch/Cargo.toml" |
    grep -o "\"manifest_path\":\"[^\"]*/$crate-$version/Cargo.toml\"" | head -n 1 |
    sed -e 's/^"manifest_path":"//' -e 's/"$//')"
if [[ -z "$manifest" || ! -f "$manifest" ]]; then
    echo "patches/prepare.sh: cargo did not fetch $crate $version; check access to crates.io (or your registry mirror) and retry" >&2
    exit 1
fi
source_dir="$(dirname "$manifest")"

rm -rf "$dest.tmp"
mkdir -p "$(dirname "$dest")"
cp -R "$source_dir" "$dest.tmp"
chmod -R u+w "$dest.tmp"
for patch_file in "$patches_dir"/*.patch; do
    if ! patch --quiet --batch --forward -p1 -d "$dest.tmp" <"$patch_file"; then
        echo "patches/prepare.sh: $patch_file does not apply to $crate $version; fix or regenerate it (diff -u against the crate from crates.io)" >&2
        rm -rf "$dest.tmp"
        exit 1
    fi
done
echo "$want" >"$dest.tmp/.glint-patches"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "patches/prepare.sh: $dest is ready" >&2
