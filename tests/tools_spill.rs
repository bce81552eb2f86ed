//! Long tool output goes whole to a spill file outside the workspace: the
//! result keeps its head and tail and names the file, read_file and grep
//! (only they) may read it, and it is removed with the session.

use std::fs;
use std::path::Path;

mod common;

use common::{Fixture, numbers, spill_path, tail};
use glint::conversation::ToolSpec;
use glint::tools::{
    MAX_OUTPUT_BYTES, SpillArea, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry,
    parse_tool_spec,
};
use serde_json::json;

/// A fixture whose spill files go to a temporary directory of the test's
/// own, so the user's data directory is untouched.
fn fixture() -> (Fixture, tempfile::TempDir) {
    let mut fx = Fixture::new();
    let sessions = tempfile::tempdir().expect("temp dir");
    fx.ctx.spill = SpillArea::under(sessions.path(), "test-session");
    (fx, sessions)
}

#[tokio::test]
async fn a_200000_line_shell_output_is_capped_in_the_result_and_whole_in_the_named_file() {
    let (fx, sessions) = fixture();
    let out = fx.ok("shell", json!({"command": "seq 1 200000"})).await;
    assert!(
        out.content.len() <= MAX_OUTPUT_BYTES,
        "{} bytes",
        out.content.len()
    );
    assert!(
        out.content.contains("Output (200000 lines"),
        "{}",
        &out.content[..300]
    );
    // Head and tail are kept; the middle is not in the result.
    assert!(out.content.contains("\n1\n2\n3\n"));
    assert!(out.content.contains("\n199999\n200000"));
    assert!(!out.content.contains("\n100000\n"));

    let path = spill_path(&out.content);
    assert!(path.starts_with(sessions.path().canonicalize().unwrap()));
    assert!(!path.starts_with(&fx.root), "spilled into the workspace");
    let whole = fs::read_to_string(&path).expect("the spill file exists");
    assert_eq!(
        whole,
        numbers(200_000),
        "the spill file is not the whole output"
    );

    // read_file pages through it...
    let page = fx
        .ok(
            "read_file",
            json!({"path": path.to_str().unwrap(), "offset": 100000, "limit": 3}),
        )
        .await;
    assert_eq!(
        page.content,
        "100000\t100000\n100001\t100001\n100002\t100002\n[... 99998 more lines; call read_file with offset=100003 to continue]"
    );
    // ... and grep searches it.
    let found = fx
        .ok(
            "grep",
            json!({"pattern": "^1234[0-9]{2}$", "path": path.to_str().unwrap(), "output_mode": "count"}),
        )
        .await;
    assert!(found.content.ends_with(":100"), "{}", found.content);
}

#[tokio::test]
async fn output_that_fits_leaves_no_spill_file() {
    let (fx, sessions) = fixture();
    let out = fx.ok("shell", json!({"command": "seq 1 50"})).await;
    assert!(!out.content.contains("is in "), "{}", out.content);
    let dir = sessions.path().join("test-session").join("spill");
    let left: Vec<_> = fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

#[tokio::test]
async fn spill_files_are_read_only_and_nothing_else_outside_opens() {
    let (fx, _sessions) = fixture();
    let out = fx.ok("shell", json!({"command": "seq 1 100000"})).await;
    let path = spill_path(&out.content);
    let shown = path.to_str().unwrap();

    // Writing tools still refuse it.
    let refused = fx
        .err("write_file", json!({"path": shown, "content": "x"}))
        .await;
    assert!(refused.contains("outside"), "{refused}");
    fx.err(
        "edit_file",
        json!({"path": shown, "old_string": "1\n", "new_string": "2\n"}),
    )
    .await;
    assert_eq!(fs::read_to_string(&path).unwrap(), numbers(100_000));

    // Other paths outside the workspace stay closed, also by `..` from the
    // spill directory and through a symlink in the workspace.
    let secret = fx.outside.join("secret.txt");
    fx.err("read_file", json!({"path": secret.to_str().unwrap()}))
        .await;
    let escape = path.parent().unwrap().join("..").join("..");
    fx.err(
        "grep",
        json!({"pattern": "x", "path": escape.to_str().unwrap()}),
    )
    .await;
    fx.err("read_file", json!({"path": "../outside/secret.txt"}))
        .await;

    // Another session's spill files are not this session's to read.
    let mut other = Fixture::new();
    other.ctx.spill = SpillArea::under(&fx.outside, "another");
    other.err("read_file", json!({"path": shown})).await;
}

#[tokio::test]
async fn spill_files_are_removed_with_the_session() {
    let (fx, sessions) = fixture();
    let out = fx.ok("shell", json!({"command": "seq 1 100000"})).await;
    let path = spill_path(&out.content);
    assert!(path.exists());
    let Fixture { ctx, .. } = fx;
    drop(ctx);
    assert!(!path.exists(), "the spill file outlived its session");
    assert!(
        !sessions.path().join("test-session").exists(),
        "the session directory was left behind"
    );
}

#[test]
fn by_default_spill_files_go_to_the_data_directory_never_the_workspace() {
    let area = SpillArea::new_session();
    let expected = dirs::data_dir()
        .map(|d| d.join("glint").join("sessions"))
        .unwrap_or_else(|| std::env::temp_dir().join("glint-sessions"));
    assert!(
        area.dir().starts_with(&expected),
        "{}",
        area.dir().display()
    );
    assert!(area.dir().ends_with("spill"));
    assert_ne!(area.dir(), SpillArea::new_session().dir());
}

/// A tool whose output is far past the cap, standing for any tool that
/// does not page its own output (git_diff, git_show, git_log).
struct Flood;

impl Tool for Flood {
    const NAME: &'static str = "flood";
    type Args = serde_json::Value;

    async fn run(&self, _: serde_json::Value, _: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: (1..=50_000).map(|i| format!("line {i}\n")).collect(),
            summary: "flood".into(),
        })
    }
}

fn flood_spec() -> ToolSpec {
    parse_tool_spec(
        "flood",
        r#"{"name": "flood", "description": "floods", "parameters": {"type": "object", "properties": {}}}"#,
    )
    .expect("valid spec")
}

#[tokio::test]
async fn any_tool_output_past_the_cap_keeps_head_and_tail_and_spills_whole() {
    let (fx, _sessions) = fixture();
    let mut registry = ToolRegistry::new();
    registry.register(Flood, flood_spec()).unwrap();
    let out = registry
        .call("flood", &serde_json::Map::new(), &fx.ctx)
        .await;
    assert!(out.ok);
    assert!(
        out.content.len() <= MAX_OUTPUT_BYTES,
        "{}",
        out.content.len()
    );
    assert!(out.content.starts_with("line 1\nline 2\n"));
    assert!(
        out.content
            .contains("line 50000\n[The whole output (50000 lines)")
    );
    assert!(
        out.content
            .contains("lines omitted; see the note at the end")
    );
    let path = spill_path(&out.content);
    let whole: String = (1..=50_000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(fs::read_to_string(&path).unwrap(), whole);
    assert!(is_inside(&path, fx.ctx.spill.dir()));
}

fn is_inside(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir.canonicalize().unwrap())
}

#[tokio::test]
async fn a_grep_with_more_matches_than_its_cap_spills_every_match_to_a_named_file() {
    let (fx, sessions) = fixture();
    let body: String = (1..=5000).map(|i| format!("needle {i}\n")).collect();
    fx.write("a.txt", &body);
    fx.write("b.txt", &body);
    let out = fx.ok("grep", json!({"pattern": "needle"})).await;
    assert!(
        out.content.contains("call grep again with offset="),
        "{}",
        tail(&out.content)
    );
    assert!(out.content.len() <= MAX_OUTPUT_BYTES);
    let path = spill_path(&out.content);
    assert!(path.starts_with(sessions.path().canonicalize().unwrap()));
    let whole = fs::read_to_string(&path).expect("the spill file exists");
    let expected: String = ["a.txt", "b.txt"]
        .iter()
        .flat_map(|f| (1..=5000).map(move |i| format!("{f}:{i}:needle {i}\n")))
        .collect();
    assert_eq!(whole, expected, "the spill file is not the whole output");
    // A search that fits names no file.
    let out = fx.ok("grep", json!({"pattern": "needle 4999$"})).await;
    assert!(!out.content.contains("is in "), "{}", out.content);
}

fn git(root: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(root)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[tokio::test]
async fn a_git_diff_and_git_show_larger_than_their_budget_spill_the_whole_patch() {
    let (fx, sessions) = fixture();
    git(&fx.root, &["init", "-q"]);
    fx.write("big.txt", "start\n");
    git(&fx.root, &["add", "."]);
    git(&fx.root, &["commit", "-q", "-m", "first"]);
    let lines: String = (1..=20000).map(|i| format!("line number {i}\n")).collect();
    fx.write("big.txt", format!("start\n{lines}"));

    let out = fx.ok("git_diff", json!({})).await;
    assert!(out.content.len() <= MAX_OUTPUT_BYTES);
    assert!(
        out.content.contains("more lines;"),
        "{}",
        tail(&out.content)
    );
    assert!(!out.content.contains("+line number 19999\n"));
    let path = spill_path(&out.content);
    assert!(path.starts_with(sessions.path().canonicalize().unwrap()));
    let whole = fs::read_to_string(&path).expect("the spill file exists");
    let added: String = (1..=20000).map(|i| format!("+line number {i}\n")).collect();
    assert!(whole.contains("big.txt | 20000"), "{}", &whole[..300]);
    assert!(
        whole.contains(&added),
        "the spill file lacks the whole patch"
    );
    assert!(whole.ends_with("+line number 20000\n"));

    git(&fx.root, &["commit", "-q", "-am", "second"]);
    let out = fx.ok("git_show", json!({})).await;
    assert!(out.content.len() <= MAX_OUTPUT_BYTES);
    let path = spill_path(&out.content);
    let whole = fs::read_to_string(&path).expect("the spill file exists");
    assert!(whole.starts_with("commit "), "{}", &whole[..200]);
    assert!(whole.contains("    second\n"));
    assert!(
        whole.contains(&added),
        "the spill file lacks the whole patch"
    );

    // A small diff names no file.
    fx.write("big.txt", "small\n");
    git(&fx.root, &["commit", "-q", "-am", "third"]);
    fx.write("big.txt", "smaller\n");
    let out = fx.ok("git_diff", json!({})).await;
    assert!(!out.content.contains("is in "), "{}", out.content);
}
