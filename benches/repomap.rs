//! Repo map build time on a large real tree, cold (no cache) and warm (the
//! cache of the same tree, nothing changed), against a plain walk of the
//! same files in the same run.
//!
//! `cargo bench --bench repomap`; results in BENCHMARKS.md. The tree is
//! `$GLINT_BENCH_TREE` when set, else a fixed set of crates copied from the
//! local crates.io sources (`~/.cargo/registry/src`) into a temporary
//! directory: rust-src, the natural choice, is not installed everywhere.
//! `RUNS` sets how many times each case runs (default 5; medians shown).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glint::repomap::{Index, estimate_tokens};

#[path = "common/registry_tree.rs"]
mod registry_tree;
use registry_tree::copy_crates;

const TASK: &str = "The scheduler in runtime/scheduler/mod.rs drops wakeups; fix Handle::spawn.";

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let tree = match std::env::var_os("GLINT_BENCH_TREE") {
        Some(tree) => PathBuf::from(tree),
        None => copy_crates(&scratch.path().join("tree"), "set GLINT_BENCH_TREE=DIR"),
    };
    let (files, bytes) = source_size(&tree);
    println!(
        "tree: {} ({files} source files, {:.1} MB)",
        tree.display(),
        bytes as f64 / 1e6
    );

    // Baseline: the walk and reading every file, no parsing.
    let walk = median(runs, || {
        let start = Instant::now();
        let read: usize = walk_files(&tree)
            .iter()
            .map(|path| std::fs::read(path).map_or(0, |b| b.len()))
            .sum();
        assert!(read > 0);
        start.elapsed()
    });

    // Second baseline: tree-sitter parsing every Rust file on as many
    // threads as the map uses, and nothing else: the floor of any map
    // built from tree-sitter trees.
    let rust_files: Vec<PathBuf> = walk_files(&tree)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= 1024 * 1024))
        .collect();
    // The parse floor and the cold build alternate, so that both see the
    // same load on a shared machine.
    let mut parse_times = Vec::new();
    let mut cold_times = Vec::new();
    let mut cold_stats = None;
    for run in 0..runs {
        let start = Instant::now();
        parse_all(&rust_files);
        parse_times.push(start.elapsed());

        let cache = scratch.path().join(format!("cold-{run}"));
        let start = Instant::now();
        let index = Index::build(&tree, Some(&cache));
        cold_times.push(start.elapsed());
        cold_stats = Some(index.stats());
        let _ = std::fs::remove_dir_all(&cache);
    }
    let parse = middle(parse_times);
    let cold = middle(cold_times);
    let cache = scratch.path().join("warm");
    let first = Index::build(&tree, Some(&cache));
    // A warm start: the index from the cache, then (what a new session's
    // first turn also needs) its first map, the reference graph included.
    let mut warm_stats = None;
    let mut warm_times = Vec::new();
    let mut warm_map_times = Vec::new();
    for _ in 0..runs.max(10) {
        let start = Instant::now();
        let index = Index::build(&tree, Some(&cache));
        warm_times.push(start.elapsed());
        let map = index.render(TASK, 1024);
        warm_map_times.push(start.elapsed());
        assert!(!map.is_empty());
        warm_stats = Some(index.stats());
    }
    let warm = middle(warm_times);
    let warm_map = middle(warm_map_times);
    let mut map = String::new();
    let render = median(runs.max(10), || {
        let start = Instant::now();
        map = first.render(TASK, 1024);
        start.elapsed()
    });
    let cache_bytes: u64 = std::fs::read_dir(&cache)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("runs: {runs} (warm and render: {})", runs.max(10));
    println!("walk + read (baseline): {:8.1} ms", ms(walk));
    println!(
        "tree-sitter parse only: {:8.1} ms  ({} Rust files)",
        ms(parse),
        rust_files.len()
    );
    println!(
        "cold build:             {:8.1} ms  {:?}",
        ms(cold),
        cold_stats
    );
    println!(
        "warm build:             {:8.1} ms  {:?}",
        ms(warm),
        warm_stats
    );
    println!("warm build + first map: {:8.1} ms", ms(warm_map));
    println!(
        "rank + render 1024 tok: {:8.1} ms  (another task, same index)",
        ms(render)
    );
    println!(
        "cache file:             {:8.1} MB",
        cache_bytes as f64 / 1e6
    );
    println!(
        "ratios: cold/parse {:.2}x, cold/walk {:.1}x, warm/walk {:.2}x, warm/cold {:.3}",
        ms(cold) / ms(parse),
        ms(cold) / ms(walk),
        ms(warm) / ms(walk),
        ms(warm) / ms(cold)
    );
    println!(
        "per file: cold {:.3} ms, warm {:.4} ms, walk {:.4} ms",
        ms(cold) / files as f64,
        ms(warm) / files as f64,
        ms(walk) / files as f64
    );
    println!(
        "map ({} tokens estimated):\n{}",
        estimate_tokens(&map),
        map.lines().take(12).collect::<Vec<_>>().join("\n")
    );
    let warm_stats = warm_stats.expect("warm runs ran");
    assert_eq!(warm_stats.parsed, 0, "a warm build parses nothing");
}

/// Parses `files` with tree-sitter's Rust grammar on one thread per core.
fn parse_all(files: &[PathBuf]) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut parser = tree_sitter::Parser::new();
                parser
                    .set_language(&tree_sitter_rust::LANGUAGE.into())
                    .expect("the Rust grammar loads");
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let source = std::fs::read(path).expect("read a file");
                    let tree = parser.parse(&source, None).expect("a tree");
                    assert!(tree.root_node().end_byte() <= source.len());
                }
            });
        }
    });
}

/// The median duration of `runs` runs of `case`.
fn median(runs: usize, mut case: impl FnMut() -> Duration) -> Duration {
    middle((0..runs).map(|_| case()).collect())
}

/// The median of `times`.
fn middle(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Every file the repo map would consider: `.gitignore` honoured, hidden
/// files skipped, as the code tools walk.
fn walk_files(root: &Path) -> Vec<PathBuf> {
    ignore::WalkBuilder::new(root)
        .require_git(false)
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter(|e| {
            e.path()
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| {
                    matches!(
                        x,
                        "rs" | "py"
                            | "js"
                            | "ts"
                            | "go"
                            | "c"
                            | "h"
                            | "cc"
                            | "cpp"
                            | "hpp"
                            | "java"
                    )
                })
        })
        .map(|e| e.into_path())
        .collect()
}

fn source_size(root: &Path) -> (usize, u64) {
    let files = walk_files(root);
    let bytes = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    (files.len(), bytes)
}
