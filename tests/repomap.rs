//! The repo map: ranking by references, personalisation toward what the
//! task mentions, the token budget, the cache (reused when nothing changed,
//! invalidated by a file's size or modification time), and the map in the
//! system prompt at the first turn.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use glint::config::Config;
use glint::prompts::build_system_prompt;
use glint::repomap::{Index, RepoMapJob, RepoMapSettings, estimate_tokens};
use glint::tools::ToolRegistry;

/// A workspace of Rust files: `src/core.rs` defines what six other files
/// use; `src/lonely.rs` and `src/spare.rs` define things nobody uses.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap().join("ws");
        fs::create_dir_all(root.join("src")).unwrap();
        let tree = Tree { _dir: dir, root };
        tree.write(
            "src/core.rs",
            "pub struct LedgerEntry { pub amount: i64 }\n\npub fn compute_total(entries: &[LedgerEntry]) -> i64 {\n    entries.iter().map(|e| e.amount).sum()\n}\n",
        );
        for n in 0..6 {
            tree.write(
                &format!("src/user_{n}.rs"),
                &format!(
                    "use crate::core::{{compute_total, LedgerEntry}};\n\npub fn report_{n}(entries: &[LedgerEntry]) -> String {{\n    format!(\"{{}}\", compute_total(entries))\n}}\n"
                ),
            );
        }
        tree.write(
            "src/lonely.rs",
            "pub fn unused_helper_fn() -> u32 {\n    7\n}\n\npub struct OrphanedWidget;\n",
        );
        tree.write(
            "src/spare.rs",
            "pub fn spare_parts_list() -> u32 {\n    9\n}\n",
        );
        tree
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn index(&self) -> Index {
        Index::build(&self.root, None)
    }
}

/// Position of `path` in the ranking for `task`, and its rank.
fn place(index: &Index, task: &str, path: &str) -> (usize, f64) {
    let ranked = index.ranked_files(task);
    let at = ranked
        .iter()
        .position(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} not ranked: {ranked:?}"));
    (at, ranked[at].1)
}

#[test]
fn a_file_many_others_reference_ranks_above_one_none_do() {
    let tree = Tree::new();
    let index = tree.index();
    assert_eq!(index.stats().files, 9);
    let ranked = index.ranked_files("");
    assert_eq!(ranked[0].0, "src/core.rs", "{ranked:?}");
    let (core_at, core) = place(&index, "", "src/core.rs");
    let (lonely_at, lonely) = place(&index, "", "src/lonely.rs");
    assert!(core_at < lonely_at && core > 2.0 * lonely, "{ranked:?}");

    let map = index.render("", 1024);
    let first = map.lines().next().unwrap_or_default();
    assert_eq!(
        first, "src/core.rs: struct LedgerEntry, compute_total()",
        "map:\n{map}"
    );
    assert!(
        map.contains("src/lonely.rs: unused_helper_fn(), struct OrphanedWidget"),
        "{map}"
    );
}

#[test]
fn mentioning_a_file_or_a_name_moves_it_up() {
    let tree = Tree::new();
    let index = tree.index();
    let (plain_at, plain) = place(&index, "", "src/lonely.rs");
    let (by_path_at, by_path) = place(&index, "Please tidy src/lonely.rs.", "src/lonely.rs");
    assert!(by_path > 3.0 * plain, "rank {plain} -> {by_path}");
    assert!(by_path_at < plain_at, "place {plain_at} -> {by_path_at}");
    // A unique file name alone counts too.
    let (_, by_name) = place(&index, "what does `lonely.rs` do?", "src/lonely.rs");
    assert!(by_name > 3.0 * plain);
    // And the map lists it sooner.
    let line_of = |map: &str| {
        map.lines()
            .position(|line| line.starts_with("src/lonely.rs:"))
            .unwrap_or_else(|| panic!("not in the map:\n{map}"))
    };
    let plain_map = index.render("", 1024);
    let mentioned_map = index.render("look at src/lonely.rs", 1024);
    assert!(
        line_of(&mentioned_map) < line_of(&plain_map),
        "{plain_map}\n--- mentioned:\n{mentioned_map}"
    );

    // A name the task mentions weighs more on the files that use it.
    let tree = Tree::new();
    tree.write(
        "src/user_0.rs",
        "use crate::core::compute_total;\nuse crate::spare::spare_parts_list;\n\npub fn report_0() -> u32 {\n    spare_parts_list() + compute_total(&[]) as u32\n}\n",
    );
    let index = tree.index();
    let (_, spare) = place(&index, "", "src/spare.rs");
    let (_, spare_mentioned) = place(&index, "why is spare_parts_list slow?", "src/spare.rs");
    assert!(spare_mentioned > spare, "{spare} -> {spare_mentioned}");
}

#[test]
fn the_map_fits_its_token_budget() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 60 modules, each defining four functions that call the previous
    // module's: far more than a small budget holds.
    for n in 0..60 {
        let prev = if n == 0 { 59 } else { n - 1 };
        let body: String = (0..4)
            .map(|f| {
                format!(
                    "pub fn module_{n}_function_{f}() -> u32 {{\n    crate::m{prev}::module_{prev}_function_{f}()\n}}\n"
                )
            })
            .collect();
        fs::write(root.join(format!("m{n}.rs")), body).unwrap();
    }
    let index = Index::build(root, None);
    let mut previous_lines = 0;
    for budget in [32, 100, 400, 1024] {
        let map = index.render("", budget);
        assert!(!map.is_empty(), "budget {budget}");
        assert!(
            estimate_tokens(&map) <= budget,
            "budget {budget}: {} tokens\n{map}",
            estimate_tokens(&map)
        );
        let lines = map.lines().count();
        assert!(lines >= previous_lines, "a larger budget shows no less");
        previous_lines = lines;
    }
    assert!(
        estimate_tokens(&index.render("", 100)) > 50,
        "uses the budget"
    );
    // Nothing fits in almost nothing.
    assert_eq!(index.render("", 1), "");
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn the_cache_is_reused_and_invalidated_by_size_or_mtime() {
    let tree = Tree::new();
    let cache = tempfile::tempdir().unwrap();
    let cold = Index::build(&tree.root, Some(cache.path()));
    let stats = cold.stats();
    assert_eq!((stats.files, stats.parsed, stats.reused), (9, 9, 0));
    assert!(!stats.cache_loaded && stats.cache_written);
    assert_eq!(cache_files(cache.path()).len(), 1);

    // Warm: nothing is parsed, the same map comes out.
    let warm = Index::build(&tree.root, Some(cache.path()));
    let stats = warm.stats();
    assert_eq!((stats.files, stats.parsed, stats.reused), (9, 0, 9));
    assert!(stats.cache_loaded && !stats.cache_written);
    assert_eq!(warm.render("", 1024), cold.render("", 1024));
    assert_eq!(warm.ranked_files("x"), cold.ranked_files("x"));

    // A changed size re-parses that file, and its new definitions show.
    tree.write(
        "src/spare.rs",
        "pub fn spare_parts_list() -> u32 {\n    9\n}\n\npub fn brand_new_function() {}\n",
    );
    let changed = Index::build(&tree.root, Some(cache.path()));
    assert_eq!((changed.stats().parsed, changed.stats().reused), (1, 8));
    assert!(changed.render("", 1024).contains("brand_new_function()"));

    // Same size, new content and mtime: re-parsed too.
    let path = tree.root.join("src/spare.rs");
    let before = fs::read_to_string(&path).unwrap();
    let after = before.replace("brand_new_function", "fresh_new_function");
    assert_eq!(before.len(), after.len());
    fs::write(&path, &after).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let touched = Index::build(&tree.root, Some(cache.path()));
    assert_eq!((touched.stats().parsed, touched.stats().reused), (1, 8));
    let map = touched.render("", 1024);
    assert!(
        map.contains("fresh_new_function()") && !map.contains("brand_new"),
        "{map}"
    );

    // A removed file leaves the map and the cache.
    fs::remove_file(tree.root.join("src/lonely.rs")).unwrap();
    let removed = Index::build(&tree.root, Some(cache.path()));
    assert_eq!((removed.stats().files, removed.stats().parsed), (8, 0));
    assert!(removed.stats().cache_written);
    assert!(!removed.render("", 1024).contains("lonely"));
    let again = Index::build(&tree.root, Some(cache.path()));
    assert_eq!(
        (again.stats().parsed, again.stats().cache_written),
        (0, false)
    );
}

#[test]
fn a_corrupt_cache_is_rebuilt() {
    let tree = Tree::new();
    let cache = tempfile::tempdir().unwrap();
    let cold = Index::build(&tree.root, Some(cache.path()));
    for path in cache_files(cache.path()) {
        let bytes = fs::read(&path).unwrap();
        // Truncated mid-write, then garbage.
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let rebuilt = Index::build(&tree.root, Some(cache.path()));
        assert_eq!(rebuilt.stats().parsed, 9);
        assert!(!rebuilt.stats().cache_loaded);
        assert_eq!(rebuilt.render("", 1024), cold.render("", 1024));
        fs::write(&path, b"GLINTMAP\xff\xff\xff\xff garbage").unwrap();
        assert_eq!(
            Index::build(&tree.root, Some(cache.path())).stats().parsed,
            9
        );
    }
}

#[test]
fn gitignored_and_unsupported_files_are_not_mapped() {
    let tree = Tree::new();
    tree.write(".gitignore", "generated/\n");
    tree.write("generated/big.rs", "pub fn generated_thing() {}\n");
    tree.write("notes.txt", "compute_total is important\n");
    let index = tree.index();
    let paths: Vec<&str> = index.paths().collect();
    assert!(
        !paths.iter().any(|p| p.starts_with("generated/")),
        "{paths:?}"
    );
    assert!(!paths.contains(&"notes.txt"));
    assert_eq!(paths.len(), 9);
}

#[test]
fn the_system_prompt_gets_the_map_at_the_first_turn() {
    let tree = Tree::new();
    let tools = ToolRegistry::builtin();
    let built = build_system_prompt(&tree.root, &tools, "2024-05-01").unwrap();
    assert!(!built.text.contains("# Repository map"));
    let cache = tempfile::tempdir().unwrap();
    let job = RepoMapJob::spawn(tree.root.clone(), Some(cache.path().to_path_buf()), 1024);
    let source = built.with_repo_map(Some(job));
    assert_eq!(source.text(), built.text);
    let text = source.resolve_blocking("fix compute_total");
    assert!(text.starts_with(&built.text[..built.text.find("# Tools").unwrap()]));
    let map_at = text.find("# Repository map").expect("a map section");
    assert!(
        text[map_at..].contains("\nsrc/core.rs: struct LedgerEntry, compute_total()\n"),
        "{}",
        &text[map_at..]
    );
    // Settled once: the same task gives the same prompt.
    assert_eq!(source.resolve_blocking("fix compute_total"), text);

    // A workspace with no code has no map section.
    let empty = tempfile::tempdir().unwrap();
    let built = build_system_prompt(empty.path(), &tools, "2024-05-01").unwrap();
    let job = RepoMapJob::spawn(empty.path().to_path_buf(), None, 1024);
    assert_eq!(
        built.with_repo_map(Some(job)).resolve_blocking("hi"),
        built.text
    );
    // Without a job, the prompt is as built.
    assert_eq!(built.with_repo_map(None).resolve_blocking("hi"), built.text);
}

#[test]
fn config_turns_the_map_off_and_sets_its_budget() {
    assert_eq!(
        RepoMapSettings::from_config(&Config::default()),
        RepoMapSettings::default()
    );
    assert_eq!(RepoMapSettings::default().max_tokens, 1024);
    let dir = tempfile::tempdir().unwrap();
    let workspace = glint::workspace::Workspace::new(dir.path()).unwrap();
    let config = glint::config::load(
        &workspace,
        &[
            "repo_map.enabled=false".into(),
            "repo_map.max_tokens=2048".into(),
        ],
    )
    .unwrap();
    let settings = RepoMapSettings::from_config(&config);
    assert_eq!(
        settings,
        RepoMapSettings {
            enabled: false,
            max_tokens: 2048
        }
    );
    assert!(
        settings.start(dir.path()).is_none(),
        "off: nothing is built"
    );
    let error = glint::config::load(&workspace, &["repo_map.max_tokens=10".into()])
        .unwrap_err()
        .to_string();
    assert!(error.contains("repo_map.max_tokens"), "{error}");
    assert!(!error.contains('\n'));
}

#[test]
fn a_method_call_is_not_a_use_of_a_free_function() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("free.rs"),
        "pub fn summarize_all() -> u32 {\n    1\n}\n",
    )
    .unwrap();
    fs::write(
        root.join("report.rs"),
        "pub struct Report;\n\nimpl Report {\n    pub fn summarize_all(&self) -> u32 {\n        2\n    }\n}\n",
    )
    .unwrap();
    fs::write(
        root.join("other.rs"),
        "pub fn unrelated_thing() -> u32 {\n    3\n}\n",
    )
    .unwrap();
    for n in 0..3 {
        fs::write(
            root.join(format!("caller_{n}.rs")),
            "use crate::report::Report;\n\npub fn show(report: &Report) -> u32 {\n    report.summarize_all() + report.summarize_all()\n}\n",
        )
        .unwrap();
    }
    let index = Index::build(root, None);
    let (report_at, report) = place(&index, "", "report.rs");
    let (_, free) = place(&index, "", "free.rs");
    let (_, other) = place(&index, "", "other.rs");
    assert_eq!(report_at, 0);
    assert!(report > 2.0 * free);
    // Nothing reaches free.rs: it ranks as a file nobody uses.
    assert!((free - other).abs() < 1e-12, "{free} vs {other}");
}

/// The real binary in `tree`, with its own cache directory.
fn glint_in(tree: &Tree, cache: &Path) -> std::process::Command {
    let mut command = common::glint(&tree.root);
    command.env("XDG_CACHE_HOME", cache).stdin(Stdio::null());
    command
}

/// Runs a scripted task in `tree` (a read, then an answer) with `extra`
/// arguments; returns the prompts the model got.
fn scripted_run(tree: &Tree, scratch: &Path, cache: &Path, extra: &[&str]) -> Vec<String> {
    let log = scratch.join(format!("prompts-{}.jsonl", extra.len()));
    let script = scratch.join("script.json");
    let body = serde_json::json!({
        "completions": [
            "Look.</think><tool_call>read_file<arg_key>path</arg_key><arg_value>src/core.rs</arg_value></tool_call><|observation|>",
            "Done.</think>compute_total sums the entries.<|endoftext|>",
        ],
        "prompt_log": log.display().to_string(),
    });
    fs::write(&script, body.to_string()).unwrap();
    let output = glint_in(tree, cache)
        .args(["--task", "What does compute_total do?"])
        .args(["--model", &format!("script:{}", script.display())])
        .args(extra)
        .output()
        .expect("glint runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let prompts: Vec<String> = fs::read_to_string(&log)
        .expect("prompts were logged")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON string per line"))
        .collect();
    assert_eq!(prompts.len(), 2);
    common::assert_extends(&prompts);
    prompts
}

#[test]
fn a_headless_run_has_the_map_in_its_first_prompt_and_every_prompt_extends_it() {
    let tree = Tree::new();
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let prompts = scripted_run(&tree, scratch.path(), &cache, &[]);
    let map_at = prompts[0]
        .find("# Repository map")
        .expect("the map is in the first prompt");
    assert!(
        prompts[0][map_at..].contains("\nsrc/core.rs: struct LedgerEntry, compute_total()\n"),
        "{}",
        &prompts[0][map_at..]
    );
    assert_eq!(prompts[1].matches("# Repository map").count(), 1);
    // The run wrote the cache where the next start finds it.
    assert_eq!(cache_files(&cache.join("glint/repomap")).len(), 1);

    // `glint protocol prompt` shows that first prompt exactly.
    let output = glint_in(&tree, &cache)
        .args(["protocol", "prompt", "What does compute_total do?"])
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), prompts[0]);

    // Turned off, the prompt has no map.
    let off = scripted_run(
        &tree,
        scratch.path(),
        &cache,
        &["-c", "repo_map.enabled=false"],
    );
    assert!(!off[0].contains("# Repository map"));
}
