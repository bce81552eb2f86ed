//! `glob` and `grep` against real temporary git repositories, through
//! `ToolRegistry::call` as the agent loop uses them.

mod common;

use common::Fixture;
use serde_json::json;

/// A git repository with sources, an ignored build directory and log, a
/// binary file, a hidden directory and a README.
fn project() -> Fixture {
    let f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    f.write(".gitignore", "target/\n*.log\n");
    f.write(
        "src/main.rs",
        "use demo::add;\n\nfn main() {\n    // TODO: parse args\n    println!(\"{}\", add(1, 2));\n}\n",
    );
    f.write(
        "src/lib.rs",
        "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn Sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n",
    );
    f.write("src/util/mod.rs", "// todo: helpers\npub mod strings;\n");
    f.write(
        "README.md",
        "# Demo\n\nCall `add` to add numbers. TODO: more docs\n",
    );
    f.write("target/debug/build.rs", "fn add() {} // TODO generated\n");
    f.write("app.log", "TODO in a log\n");
    f.write("data.bin", b"\0\x01\x02TODO binary\n");
    f.write(".github/workflows/ci.yml", "name: ci # TODO\n");
    f
}

// --------------------------------------------------------------------- glob

#[tokio::test]
async fn glob_lists_matches_sorted_and_honours_gitignore() {
    let f = project();
    let out = f.ok("glob", json!({"pattern": "**/*.rs"})).await;
    assert_eq!(out.content, "src/lib.rs\nsrc/main.rs\nsrc/util/mod.rs");
    assert_eq!(out.summary, "glob `**/*.rs`: 3 files");

    let out = f.ok("glob", json!({"pattern": "*.{md,log}"})).await;
    assert_eq!(out.content, "README.md");

    // Hidden files are included; .git is not.
    let out = f.ok("glob", json!({"pattern": "**/*.yml"})).await;
    assert_eq!(out.content, ".github/workflows/ci.yml");
    let out = f.ok("glob", json!({"pattern": "**/HEAD"})).await;
    assert!(out.content.starts_with("No files match"), "{}", out.content);
}

#[tokio::test]
async fn glob_is_relative_to_path_and_star_stays_in_one_directory() {
    let f = project();
    let out = f
        .ok("glob", json!({"pattern": "*.rs", "path": "src"}))
        .await;
    assert_eq!(out.content, "src/lib.rs\nsrc/main.rs");
    // Repeating the directory in the pattern also works.
    let out = f
        .ok("glob", json!({"pattern": "src/*.rs", "path": "src"}))
        .await;
    assert_eq!(out.content, "src/lib.rs\nsrc/main.rs");
    let out = f.ok("glob", json!({"pattern": "src/*.{rs,md}"})).await;
    assert_eq!(out.content, "src/lib.rs\nsrc/main.rs");

    let out = f.ok("glob", json!({"pattern": "*.rs"})).await;
    assert!(
        out.content.starts_with("No files match `*.rs` under `.`"),
        "{}",
        out.content
    );
    assert!(out.content.contains("use `**/*.rs`"), "{}", out.content);
}

#[tokio::test]
async fn glob_caps_results_with_a_marker() {
    let f = project();
    for i in 0..1005 {
        f.write(&format!("many/f{i:04}.txt"), "x");
    }
    let out = f.ok("glob", json!({"pattern": "many/*.txt"})).await;
    let lines: Vec<&str> = out.content.lines().collect();
    assert_eq!(lines.len(), 1001);
    assert_eq!(lines[0], "many/f0000.txt");
    assert_eq!(lines[999], "many/f0999.txt");
    assert_eq!(
        lines[1000],
        "[... 5 more matches; narrow the pattern or the path to see them]"
    );
    assert_eq!(out.summary, "glob `many/*.txt`: 1005 files");
}

#[tokio::test]
async fn glob_rejects_bad_patterns_and_file_paths() {
    let f = project();
    let err = f.err("glob", json!({"pattern": "src/[a"})).await;
    assert!(err.contains("not a valid glob"), "{err}");
    let err = f
        .err("glob", json!({"pattern": "*", "path": "README.md"}))
        .await;
    assert!(err.contains("is a file, not a directory"), "{err}");
}

// --------------------------------------------------------------------- grep

#[tokio::test]
async fn grep_content_mode_is_sorted_and_skips_ignored_and_binary_files() {
    let f = project();
    let out = f.ok("grep", json!({"pattern": "TODO"})).await;
    assert_eq!(
        out.content,
        ".github/workflows/ci.yml:1:name: ci # TODO\n\
         README.md:3:Call `add` to add numbers. TODO: more docs\n\
         src/main.rs:4:    // TODO: parse args"
    );
    assert_eq!(out.summary, "grep `TODO`: 3 matches in 3 files");
}

#[tokio::test]
async fn grep_output_modes() {
    let f = project();
    let out = f
        .ok(
            "grep",
            json!({"pattern": "add", "output_mode": "files_with_matches"}),
        )
        .await;
    assert_eq!(out.content, "README.md\nsrc/lib.rs\nsrc/main.rs");
    assert_eq!(out.summary, "grep `add`: 3 files");

    let out = f
        .ok("grep", json!({"pattern": "add", "output_mode": "count"}))
        .await;
    assert_eq!(out.content, "README.md:1\nsrc/lib.rs:1\nsrc/main.rs:2");
    assert_eq!(out.summary, "grep `add`: 4 matches in 3 files");

    let err = f
        .err("grep", json!({"pattern": "add", "output_mode": "lines"}))
        .await;
    assert!(err.contains("`output_mode` must be"), "{err}");
}

#[tokio::test]
async fn grep_context_lines_and_group_separators() {
    let f = project();
    let out = f
        .ok(
            "grep",
            json!({"pattern": "^pub fn", "path": "src/lib.rs", "context": 1}),
        )
        .await;
    assert_eq!(
        out.content,
        "src/lib.rs:1:pub fn add(a: i32, b: i32) -> i32 {\n\
         src/lib.rs-2-    a + b\n\
         --\n\
         src/lib.rs-4-\n\
         src/lib.rs:5:pub fn Sub(a: i32, b: i32) -> i32 {\n\
         src/lib.rs-6-    a - b"
    );
}

#[tokio::test]
async fn grep_case_insensitive_literal_and_glob_filter() {
    let f = project();
    let out = f
        .ok(
            "grep",
            json!({"pattern": "todo", "case_insensitive": true, "glob": "*.rs"}),
        )
        .await;
    assert_eq!(
        out.content,
        "src/main.rs:4:    // TODO: parse args\nsrc/util/mod.rs:1:// todo: helpers"
    );
    let out = f
        .ok("grep", json!({"pattern": "todo", "glob": "*.rs"}))
        .await;
    assert_eq!(out.content, "src/util/mod.rs:1:// todo: helpers");
    let out = f
        .ok("grep", json!({"pattern": "fn", "glob": "src/util/**"}))
        .await;
    assert!(
        out.content.starts_with("No matches for `fn`"),
        "{}",
        out.content
    );

    let out = f
        .ok("grep", json!({"pattern": "add(1,", "literal": true}))
        .await;
    assert_eq!(
        out.content,
        "src/main.rs:5:    println!(\"{}\", add(1, 2));"
    );
}

#[tokio::test]
async fn grep_caps_results_and_pages_with_offset() {
    let f = project();
    let text: String = (1..=10).map(|i| format!("hit {i}\n")).collect();
    f.write("hits.txt", &text);
    let out = f
        .ok(
            "grep",
            json!({"pattern": "hit", "path": "hits.txt", "head_limit": 3}),
        )
        .await;
    assert_eq!(
        out.content,
        "hits.txt:1:hit 1\nhits.txt:2:hit 2\nhits.txt:3:hit 3\n\
         [... 7 more matching lines in 1 file; call grep again with offset=3 to see them, or narrow the pattern, path or glob]"
    );
    let out = f
        .ok(
            "grep",
            json!({"pattern": "hit", "path": "hits.txt", "head_limit": 3, "offset": 8}),
        )
        .await;
    assert_eq!(out.content, "hits.txt:9:hit 9\nhits.txt:10:hit 10");
    let err = f
        .err(
            "grep",
            json!({"pattern": "hit", "path": "hits.txt", "offset": 10}),
        )
        .await;
    assert!(err.contains("past the end"), "{err}");

    let out = f
        .ok(
            "grep",
            json!({"pattern": "TODO", "output_mode": "files_with_matches", "head_limit": 1}),
        )
        .await;
    assert_eq!(
        out.content,
        ".github/workflows/ci.yml\n[... 2 more files; call grep again with offset=1 to see them, or narrow the pattern, path or glob]"
    );
}

#[tokio::test]
async fn grep_cuts_long_lines_and_rejects_bad_regexes() {
    let f = project();
    f.write("min.js", format!("var x = \"{}\";\n", "a".repeat(1000)));
    let out = f
        .ok("grep", json!({"pattern": "var x", "path": "min.js"}))
        .await;
    assert!(
        out.content.ends_with(" [... 511 more characters]"),
        "{}",
        out.content
    );
    assert!(out.content.len() < 600);

    let err = f.err("grep", json!({"pattern": "add(1,"})).await;
    assert!(err.contains("not a valid regular expression"), "{err}");
    assert!(err.contains("literal"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

// ----------------------------------------------------------------- refusals

#[cfg(unix)]
#[tokio::test]
async fn both_tools_refuse_paths_outside_the_workspace() {
    let f = project();
    f.outside_links();
    let absolute = f.outside.to_string_lossy().into_owned();
    for path in ["../outside", absolute.as_str(), "link", "linkdir"] {
        let err = f
            .err("glob", json!({"pattern": "**/*", "path": path}))
            .await;
        assert!(err.contains("outside the workspace"), "glob {path}: {err}");
        let err = f
            .err("grep", json!({"pattern": "secret", "path": path}))
            .await;
        assert!(err.contains("outside the workspace"), "grep {path}: {err}");
    }
    // Walking the workspace does not follow the links out of it.
    let out = f.ok("grep", json!({"pattern": "top secret"})).await;
    assert!(out.content.starts_with("No matches"), "{}", out.content);
    let out = f.ok("glob", json!({"pattern": "**/secret.txt"})).await;
    assert!(out.content.starts_with("No files match"), "{}", out.content);
    let out = f.ok("glob", json!({"pattern": "link*"})).await;
    assert!(out.content.starts_with("No files match"), "{}", out.content);
}

#[cfg(unix)]
#[tokio::test]
async fn glob_lists_links_to_files_inside_the_workspace() {
    let f = project();
    std::os::unix::fs::symlink(f.root.join("README.md"), f.root.join("docs.md")).unwrap();
    let out = f.ok("glob", json!({"pattern": "*.md"})).await;
    assert_eq!(out.content, "README.md\ndocs.md");
}

#[tokio::test]
async fn grep_content_pages_across_many_files_in_path_order() {
    let f = project();
    for i in (0..30).rev() {
        f.write(&format!("many/f{i:02}.txt"), "x1\nskip\nx2\n");
    }
    let out = f
        .ok(
            "grep",
            json!({"pattern": "^x", "path": "many", "head_limit": 5, "offset": 3}),
        )
        .await;
    assert_eq!(
        out.content,
        "many/f01.txt:3:x2\nmany/f02.txt:1:x1\nmany/f02.txt:3:x2\nmany/f03.txt:1:x1\nmany/f03.txt:3:x2\n\
         [... 52 more matching lines in 26 files; call grep again with offset=8 to see them, or narrow the pattern, path or glob]"
    );
    assert_eq!(out.summary, "grep `^x`: 60 matches in 30 files");
}

#[tokio::test]
async fn cancelled_searches_report_cancellation() {
    use glint::tools::{Glob, Grep, Tool, ToolError};
    let f = project();
    let ctx = f.ctx.clone();
    ctx.cancel.cancel();
    let args = serde_json::from_value(json!({"pattern": "TODO"})).unwrap();
    assert!(matches!(
        Grep.run(args, &ctx).await,
        Err(ToolError::Cancelled)
    ));
    let args = serde_json::from_value(json!({"pattern": "**/*"})).unwrap();
    assert!(matches!(
        Glob.run(args, &ctx).await,
        Err(ToolError::Cancelled)
    ));
}

#[tokio::test]
async fn ignored_paths_named_explicitly_are_searched() {
    let f = project();
    let out = f
        .ok("grep", json!({"pattern": "TODO", "path": "app.log"}))
        .await;
    assert_eq!(out.content, "app.log:1:TODO in a log");
    let out = f
        .ok("grep", json!({"pattern": "TODO", "path": "target"}))
        .await;
    assert_eq!(
        out.content,
        "target/debug/build.rs:1:fn add() {} // TODO generated"
    );
    let out = f
        .ok("glob", json!({"pattern": "**/*.rs", "path": "target"}))
        .await;
    assert_eq!(out.content, "target/debug/build.rs");
    // A binary file named explicitly is still not searched.
    let out = f
        .ok("grep", json!({"pattern": "TODO", "path": "data.bin"}))
        .await;
    assert!(out.content.starts_with("No matches"), "{}", out.content);
}

// ------------------------------------------------- arguments that used to crash

#[tokio::test]
async fn a_huge_glob_is_refused_not_a_crash() {
    let f = project();
    // ~600 KB made globset panic ("regex compilation shouldn't fail").
    let pattern = "a".repeat(600 * 1024);
    let err = f.err("glob", json!({ "pattern": pattern })).await;
    assert!(err.starts_with("Invalid arguments for glob:"), "{err:.300}");
    assert!(err.contains("2048"), "{err:.300}");
    assert_eq!(err.lines().count(), 1);
    assert!(err.len() < 1000, "{err:.300}");
    // The registry goes on working.
    f.ok("glob", json!({"pattern": "**/*.rs"})).await;
}

#[tokio::test]
async fn a_huge_grep_glob_filter_is_refused_not_a_crash() {
    let f = project();
    let glob = "*".repeat(600 * 1024);
    let err = f
        .err("grep", json!({"pattern": "TODO", "glob": glob}))
        .await;
    assert!(err.starts_with("Invalid arguments for grep:"), "{err:.300}");
    assert!(err.contains("`glob`"), "{err:.300}");
    assert!(err.len() < 1000, "{err:.300}");
}

#[tokio::test]
async fn nul_bytes_in_search_arguments_are_refused() {
    let f = project();
    for (tool, args, name) in [
        ("glob", json!({"pattern": "*.rs\u{0}"}), "`pattern`"),
        (
            "glob",
            json!({"pattern": "*.rs", "path": "src\u{0}"}),
            "`path`",
        ),
        ("grep", json!({"pattern": "a\u{0}b"}), "`pattern`"),
        (
            "grep",
            json!({"pattern": "TODO", "path": "src\u{0}"}),
            "`path`",
        ),
        (
            "grep",
            json!({"pattern": "TODO", "glob": "*\u{0}"}),
            "`glob`",
        ),
    ] {
        let err = f.err(tool, args.clone()).await;
        assert!(err.starts_with("Invalid arguments for"), "{args}: {err}");
        assert!(err.contains(name), "{args}: {err}");
        assert!(err.contains("NUL"), "{args}: {err}");
    }
    // An escaped NUL in a regex cannot match either (binary files are
    // skipped): refused by the regex builder.
    let err = f.err("grep", json!({"pattern": "a\\x00b"})).await;
    assert!(err.starts_with("Invalid arguments for grep:"), "{err}");
}

#[tokio::test]
async fn grep_bounds_the_pattern_length() {
    let f = project();
    let limit = glint::tools::grep::MAX_PATTERN_BYTES;
    let err = f
        .err("grep", json!({"pattern": "a".repeat(limit + 1)}))
        .await;
    assert!(err.starts_with("Invalid arguments for grep:"), "{err:.300}");
    assert!(err.contains(&limit.to_string()), "{err:.300}");
    assert!(err.len() < 1000, "{err:.300}");
    // At the limit it is an ordinary search.
    let out = f.ok("grep", json!({"pattern": "a".repeat(limit)})).await;
    assert!(out.content.starts_with("No matches"), "{}", out.content);
}

#[tokio::test]
async fn grep_refuses_a_pattern_that_compiles_too_big() {
    let f = project();
    let err = f.err("grep", json!({"pattern": "(\\w{100}){100}"})).await;
    assert!(err.starts_with("Invalid arguments for grep:"), "{err}");
    assert!(err.contains("larger than grep allows"), "{err}");
}

#[tokio::test]
async fn grep_with_the_longest_pattern_over_a_long_line_is_quick() {
    // Linear in practice: a pattern at the limit over a 1 MiB line. The
    // registry's default limit (minutes) would catch a regression; here a
    // generous limit makes one fail the test instead of hanging it.
    let mut f = project();
    f.write("long.txt", format!("{}\n", "a".repeat(1 << 20)));
    let limit = glint::tools::grep::MAX_PATTERN_BYTES;
    f.registry
        .set_time_limit("grep", std::time::Duration::from_secs(60));
    let pattern = format!("{}b", "a".repeat(limit - 1));
    let out = f.call("grep", json!({ "pattern": pattern })).await;
    assert!(out.ok, "{}", out.content);
    assert!(out.content.starts_with("No matches"), "{}", out.content);
}
