//! After write_file and edit_file: the syntax errors a change introduced
//! (and only those) are named with line and column, and the configured
//! check command runs and is reported under its own heading.

use std::time::Duration;

mod common;

use common::Fixture;
use glint::tools::{CheckCommand, SpillArea};
use serde_json::json;

fn fixture() -> (Fixture, tempfile::TempDir) {
    let mut fx = Fixture::new();
    let sessions = tempfile::tempdir().expect("temp dir");
    fx.ctx.spill = SpillArea::under(sessions.path(), "test-session");
    (fx, sessions)
}

const PYTHON: &str = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n";
const RUST: &str = "fn area(w: u32, h: u32) -> u32 {\n    w * h\n}\n\nfn main() {\n    println!(\"{}\", area(2, 3));\n}\n";

#[tokio::test]
async fn an_edit_that_breaks_python_is_reported_with_line_and_column_and_its_fix_is_not() {
    let (fx, _s) = fixture();
    fx.write("geo.py", PYTHON);
    let broken = fx
        .ok(
            "edit_file",
            json!({"path": "geo.py", "old_string": "return w * h", "new_string": "return w * (h +"}),
        )
        .await;
    assert!(
        broken
            .content
            .contains("Syntax check (Python): this change introduced 1 syntax error in `geo.py`"),
        "{}",
        broken.content
    );
    assert!(
        broken
            .content
            .contains("syntax error at 2:5 near `return w * (h +`"),
        "{}",
        broken.content
    );
    assert!(
        broken.summary.contains("new syntax errors"),
        "{}",
        broken.summary
    );

    let fixed = fx
        .ok(
            "edit_file",
            json!({"path": "geo.py", "old_string": "return w * (h +", "new_string": "return w * (h + 0)"}),
        )
        .await;
    assert!(!fixed.content.contains("syntax error"), "{}", fixed.content);
    assert!(!fixed.content.contains("Syntax check"), "{}", fixed.content);
}

#[tokio::test]
async fn an_edit_that_breaks_rust_is_reported_with_line_and_column_and_its_fix_is_not() {
    let (fx, _s) = fixture();
    fx.write("src/main.rs", RUST);
    let broken = fx
        .ok(
            "edit_file",
            json!({"path": "src/main.rs", "old_string": "    w * h\n}", "new_string": "    w * h\n"}),
        )
        .await;
    assert!(
        broken
            .content
            .contains("Syntax check (Rust): this change introduced"),
        "{}",
        broken.content
    );
    let line = broken
        .content
        .lines()
        .find(|l| l.starts_with("syntax error at "))
        .unwrap_or_else(|| panic!("no syntax error line in {}", broken.content));
    assert!(line.contains(" near `"), "{line}");

    let fixed = fx
        .ok(
            "edit_file",
            json!({"path": "src/main.rs", "old_string": "    w * h\n", "new_string": "    w * h\n}"}),
        )
        .await;
    assert!(!fixed.content.contains("syntax error"), "{}", fixed.content);
}

#[tokio::test]
async fn errors_the_file_had_before_are_not_blamed_on_the_edit() {
    let (fx, _s) = fixture();
    // Line 2 is already broken; the edit changes something else and moves
    // the broken line down.
    fx.write("old.py", "x = 1\ny = (\nz = 3\n");
    let out = fx
        .ok(
            "edit_file",
            json!({"path": "old.py", "old_string": "x = 1\n", "new_string": "# first\nx = 2\n"}),
        )
        .await;
    assert!(!out.content.contains("syntax error"), "{}", out.content);

    // A second, new error is reported, the old one still is not.
    let out = fx
        .ok(
            "edit_file",
            json!({"path": "old.py", "old_string": "x = 2\n", "new_string": "x = ]\n"}),
        )
        .await;
    assert!(
        out.content.contains("introduced 1 syntax error"),
        "{}",
        out.content
    );
    assert!(
        out.content.contains("syntax error at 2:"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn write_file_reports_the_errors_of_a_new_file_and_ignores_other_languages() {
    let (fx, _s) = fixture();
    let out = fx
        .ok(
            "write_file",
            json!({"path": "new.py", "content": "def f():\n    return [1, 2\n"}),
        )
        .await;
    assert!(out.content.contains("syntax error at "), "{}", out.content);
    let out = fx
        .ok(
            "write_file",
            json!({"path": "notes.txt", "content": "def f(:\n"}),
        )
        .await;
    assert!(!out.content.contains("Syntax check"), "{}", out.content);
}

#[tokio::test]
async fn the_check_command_runs_after_a_change_and_its_output_is_appended() {
    let (mut fx, _s) = fixture();
    fx.ctx.shell.check = Some(CheckCommand {
        command: "echo \"checked: $(cat a.txt)\"; exit 3".into(),
        timeout: Duration::from_secs(60),
    });
    let out = fx
        .ok("write_file", json!({"path": "a.txt", "content": "hello"}))
        .await;
    assert!(
        out.content.contains(
            "Check command `echo \"checked: $(cat a.txt)\"; exit 3` after this change: exit code 3"
        ),
        "{}",
        out.content
    );
    // It ran after the write: it saw the new content.
    assert!(out.content.contains("\nchecked: hello"), "{}", out.content);
    assert!(out.summary.contains("check: exit 3"), "{}", out.summary);

    let out = fx
        .ok(
            "edit_file",
            json!({"path": "a.txt", "old_string": "hello", "new_string": "bye"}),
        )
        .await;
    assert!(out.content.contains("\nchecked: bye"), "{}", out.content);

    // A call that changed nothing runs no check.
    let failed = fx
        .err(
            "edit_file",
            json!({"path": "a.txt", "old_string": "absent", "new_string": "x"}),
        )
        .await;
    assert!(!failed.contains("Check command"), "{failed}");
}

#[tokio::test]
async fn a_check_command_that_runs_too_long_is_killed_and_reported() {
    let (mut fx, _s) = fixture();
    fx.ctx.shell.check = Some(CheckCommand {
        command: "echo started; sleep 600".into(),
        timeout: Duration::from_secs(1),
    });
    let out = fx
        .ok("write_file", json!({"path": "b.txt", "content": "x"}))
        .await;
    assert!(
        out.content
            .contains("after this change: timed out after 1 s and was killed"),
        "{}",
        out.content
    );
    assert!(out.content.contains("\nstarted"), "{}", out.content);
    assert!(out.summary.contains("check: timed out"), "{}", out.summary);
}
