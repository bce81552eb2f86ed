//! A large tree of real Rust for the repo-map benchmark and the first-frame
//! example: the newest local copy of each of [`CRATES`] from cargo's
//! registry. Included by path from `benches/repomap.rs` and
//! `examples/first_frame.rs`.

use std::path::{Path, PathBuf};

/// Crates copied into the tree: hand-written Rust of all sizes, about as
/// much as the Rust standard library's sources (some 2,000 files and 30 MB
/// of Rust under 1 MiB a file).
pub const CRATES: &[&str] = &[
    "mistralrs-core",
    "tokio",
    "libc",
    "rustix",
    "regex-automata",
    "syn",
    "time",
    "rustls",
    "regex-syntax",
    "candle-core",
];

/// Copies the newest local version of each of [`CRATES`] into `dest`.
/// `hint` says how to use another tree instead (the caller's option).
pub fn copy_crates(dest: &Path, hint: &str) -> PathBuf {
    let home = dirs::home_dir().expect("a home directory");
    let registry = std::fs::read_dir(home.join(".cargo/registry/src"))
        .unwrap_or_else(|e| panic!("~/.cargo/registry/src: {e}; {hint}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .next()
        .expect("a crates.io source directory in ~/.cargo/registry/src");
    let mut missing = Vec::new();
    for name in CRATES {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(&registry)
            .expect("the registry lists")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .and_then(|f| f.strip_prefix(name))
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        versions.sort_by_key(|p| version_key(p));
        match versions.pop() {
            Some(src) => copy_dir(&src, &dest.join(name)),
            None => missing.push(*name),
        }
    }
    assert!(
        missing.is_empty(),
        "crates missing from {}: {missing:?}; fetch them (cargo fetch in glint) or {hint}",
        registry.display()
    );
    dest.to_path_buf()
}

/// `1.54.1` → [1, 54, 1], for picking the newest version.
fn version_key(path: &Path) -> Vec<u64> {
    let name = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let version = name.rsplit_once('-').map_or("", |(_, v)| v);
    version
        .split(['.', '+', '-'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("create the copy");
    for entry in std::fs::read_dir(src)
        .expect("read the crate")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            copy_dir(&path, &dest.join(entry.file_name()));
        } else if kind.is_file() {
            std::fs::copy(&path, dest.join(entry.file_name())).expect("copy a file");
        }
    }
}
