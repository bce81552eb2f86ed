//! The built-in tools against real temporary directories, through
//! `ToolRegistry::call` as the agent loop uses them.

use std::fs;

mod common;

use common::Fixture;
use glint::tools::{ToolContext, ToolRegistry, truncate_output};
use glint::workspace::{Workspace, WorkspaceError};
use serde_json::json;

// ---------------------------------------------------------------- read_file

#[tokio::test]
async fn read_file_numbers_lines() {
    let f = Fixture::new();
    f.write(
        "src/lib.rs",
        "pub fn parse(s: &str) -> Vec<&str> {\n    s.split(',').collect()\n}\n",
    );
    let out = f.ok("read_file", json!({"path": "src/lib.rs"})).await;
    assert_eq!(
        out.content,
        "1\tpub fn parse(s: &str) -> Vec<&str> {\n2\t    s.split(',').collect()\n3\t}"
    );
    assert_eq!(out.summary, "src/lib.rs: lines 1-3 of 3");
}

#[tokio::test]
async fn read_file_offset_limit_and_more_marker() {
    let f = Fixture::new();
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    f.write("a.txt", &text);
    let out = f
        .ok(
            "read_file",
            json!({"path": "a.txt", "offset": 3, "limit": 2}),
        )
        .await;
    assert_eq!(
        out.content,
        "3\tline 3\n4\tline 4\n[... 6 more lines; call read_file with offset=5 to continue]"
    );
    assert_eq!(out.summary, "a.txt: lines 3-4 of 10");

    // The last page has no marker.
    let out = f
        .ok("read_file", json!({"path": "a.txt", "offset": 9}))
        .await;
    assert_eq!(out.content, "9\tline 9\n10\tline 10");

    // Offset 0 is read as 1.
    let out = f
        .ok(
            "read_file",
            json!({"path": "a.txt", "offset": 0, "limit": 1}),
        )
        .await;
    assert!(
        out.content
            .starts_with("1\tline 1\n[... 9 more lines; call read_file with offset=2")
    );

    // Null counts as absent.
    let out = f
        .ok(
            "read_file",
            json!({"path": "a.txt", "offset": null, "limit": null}),
        )
        .await;
    assert_eq!(out.summary, "a.txt: lines 1-10 of 10");
}

#[tokio::test]
async fn read_file_default_limit_is_2000_lines() {
    let f = Fixture::new();
    let text: String = (1..=2500).map(|i| format!("{i}\n")).collect();
    f.write("long.txt", &text);
    let out = f.ok("read_file", json!({"path": "long.txt"})).await;
    assert_eq!(out.summary, "long.txt: lines 1-2000 of 2500");
    assert!(out.content.contains(
        "\n2000\t2000\n[... 500 more lines; call read_file with offset=2001 to continue]"
    ));
    // A limit above the maximum is clamped.
    let out = f
        .ok("read_file", json!({"path": "long.txt", "limit": 5000}))
        .await;
    assert_eq!(out.summary, "long.txt: lines 1-2000 of 2500");
}

#[tokio::test]
async fn read_file_large_output_pages_by_bytes() {
    let f = Fixture::new();
    let line = "x".repeat(1000);
    let text: String = (0..300).map(|_| format!("{line}\n")).collect();
    f.write("wide.txt", &text);
    let out = f.ok("read_file", json!({"path": "wide.txt"})).await;
    assert!(
        out.content.len() <= glint::tools::MAX_OUTPUT_BYTES,
        "{}",
        out.content.len()
    );
    let last = out.content.lines().last().unwrap();
    assert!(
        last.starts_with("[... ") && last.contains("call read_file with offset="),
        "{last}"
    );
    // The shown lines plus the remainder add up.
    let shown = out.content.lines().count() - 1;
    assert!(last.starts_with(&format!(
        "[... {} more lines; call read_file with offset={} ",
        300 - shown,
        shown + 1
    )));
}

#[tokio::test]
async fn read_file_cuts_long_lines() {
    let f = Fixture::new();
    f.write("min.js", format!("{}\nshort\n", "é".repeat(2500)));
    let out = f.ok("read_file", json!({"path": "min.js"})).await;
    let first = out.content.lines().next().unwrap();
    assert_eq!(
        first,
        format!("1\t{} [... 500 more characters]", "é".repeat(2000))
    );
    assert!(out.content.ends_with("\n2\tshort"));
}

#[tokio::test]
async fn read_file_strips_crlf_for_display_only() {
    let f = Fixture::new();
    f.write("dos.txt", "a\r\nb\r\n");
    let out = f.ok("read_file", json!({"path": "dos.txt"})).await;
    assert_eq!(out.content, "1\ta\n2\tb");
    assert_eq!(fs::read(f.root.join("dos.txt")).unwrap(), b"a\r\nb\r\n");
}

#[tokio::test]
async fn read_file_last_line_without_newline_and_blank_lines() {
    let f = Fixture::new();
    f.write("t.txt", "a\n\nb");
    let out = f.ok("read_file", json!({"path": "t.txt"})).await;
    assert_eq!(out.content, "1\ta\n2\t\n3\tb");
}

#[tokio::test]
async fn read_file_empty_file() {
    let f = Fixture::new();
    f.write("empty.txt", "");
    let out = f.ok("read_file", json!({"path": "empty.txt"})).await;
    assert!(out.content.contains("is empty"), "{}", out.content);
}

#[tokio::test]
async fn read_file_offset_past_end() {
    let f = Fixture::new();
    f.write("a.txt", "1\n2\n3\n");
    let msg = f
        .err("read_file", json!({"path": "a.txt", "offset": 10}))
        .await;
    assert!(
        msg.contains("offset 10") && msg.contains("has 3 lines"),
        "{msg}"
    );
}

#[tokio::test]
async fn read_file_refuses_binary() {
    let f = Fixture::new();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0, 0, 0, 13, 73, 72, 68, 82]);
    f.write("x.png", &png);
    let msg = f.err("read_file", json!({"path": "x.png"})).await;
    assert_eq!(
        msg,
        "`x.png` is a binary file (16 bytes); glint reads only text files"
    );

    // Invalid UTF-8 without NUL bytes is binary too.
    f.write("latin1.txt", b"caf\xe9\n");
    let msg = f.err("read_file", json!({"path": "latin1.txt"})).await;
    assert!(msg.contains("is a binary file (5 bytes)"), "{msg}");
}

#[tokio::test]
async fn read_file_refuses_directory_and_missing() {
    let f = Fixture::new();
    fs::create_dir(f.root.join("src")).unwrap();
    let msg = f.err("read_file", json!({"path": "src"})).await;
    assert!(
        msg.contains("is a directory") && msg.contains("list_dir"),
        "{msg}"
    );
    let msg = f.err("read_file", json!({"path": "nope.rs"})).await;
    assert!(msg.contains("`nope.rs` does not exist"), "{msg}");
}

// ----------------------------------------------------------------- list_dir

#[tokio::test]
async fn list_dir_sorted_with_kinds_and_sizes() {
    let f = Fixture::new();
    f.write("b.txt", "12345");
    f.write("a/inner.txt", "x");
    f.write(".hidden", "");
    #[cfg(unix)]
    std::os::unix::fs::symlink("b.txt", f.root.join("c")).unwrap();
    let out = f.ok("list_dir", json!({})).await;
    #[cfg(unix)]
    assert_eq!(
        out.content,
        ".hidden (0 bytes)\na/\nb.txt (5 bytes)\nc -> b.txt"
    );
    assert_eq!(
        out.summary,
        format!(".: {} entries", if cfg!(unix) { 4 } else { 3 })
    );

    let out = f.ok("list_dir", json!({"path": "a"})).await;
    assert_eq!(out.content, "inner.txt (1 bytes)");
    assert_eq!(out.summary, "a: 1 entry");

    let same = f.ok("list_dir", json!({"path": "."})).await;
    let empty_path = f.ok("list_dir", json!({"path": ""})).await;
    assert_eq!(same.content, empty_path.content);
}

#[tokio::test]
async fn list_dir_caps_entries() {
    let f = Fixture::new();
    for i in 0..520 {
        f.write(&format!("d/f{i:04}"), "");
    }
    let out = f.ok("list_dir", json!({"path": "d"})).await;
    let lines: Vec<&str> = out.content.lines().collect();
    assert_eq!(lines.len(), 501);
    assert_eq!(lines[0], "f0000 (0 bytes)");
    assert_eq!(lines[500], "[... 20 more entries]");
    assert_eq!(out.summary, "d: 520 entries");
}

#[tokio::test]
async fn list_dir_refuses_file_and_reports_empty() {
    let f = Fixture::new();
    f.write("a.txt", "x");
    let msg = f.err("list_dir", json!({"path": "a.txt"})).await;
    assert!(
        msg.contains("not a directory") && msg.contains("read_file"),
        "{msg}"
    );
    fs::create_dir(f.root.join("empty")).unwrap();
    let out = f.ok("list_dir", json!({"path": "empty"})).await;
    assert!(out.content.contains("is empty"));
}

// --------------------------------------------------------------- write_file

#[tokio::test]
async fn write_file_exact_bytes() {
    let f = Fixture::new();
    let content = "fn main() {}\n// ünïcödé ✓ 🦀\n\tno trailing newline";
    let out = f
        .ok(
            "write_file",
            json!({"path": "src/main.rs", "content": content}),
        )
        .await;
    assert_eq!(
        fs::read(f.root.join("src/main.rs")).unwrap(),
        content.as_bytes()
    );
    assert!(
        out.content.starts_with("Created src/main.rs: wrote"),
        "{}",
        out.content
    );
    assert!(
        out.content
            .contains(&format!("{} bytes (3 lines)", content.len())),
        "{}",
        out.content
    );
    assert!(
        out.content.contains("Created directory src."),
        "{}",
        out.content
    );

    // Round trip through read_file.
    let read = f.ok("read_file", json!({"path": "src/main.rs"})).await;
    assert_eq!(
        read.content,
        "1\tfn main() {}\n2\t// ünïcödé ✓ 🦀\n3\t\tno trailing newline"
    );

    // Empty content and CRLF are kept exactly.
    f.ok("write_file", json!({"path": "empty", "content": ""}))
        .await;
    assert_eq!(fs::read(f.root.join("empty")).unwrap(), b"");
    f.ok(
        "write_file",
        json!({"path": "dos.txt", "content": "a\r\nb\r\n"}),
    )
    .await;
    assert_eq!(fs::read(f.root.join("dos.txt")).unwrap(), b"a\r\nb\r\n");
}

#[tokio::test]
async fn write_file_creates_nested_parents() {
    let f = Fixture::new();
    let out = f
        .ok(
            "write_file",
            json!({"path": "a/b/c/d.txt", "content": "x\n"}),
        )
        .await;
    assert_eq!(
        fs::read_to_string(f.root.join("a/b/c/d.txt")).unwrap(),
        "x\n"
    );
    assert!(
        out.content.contains("Created directory a."),
        "{}",
        out.content
    );
    // No temporary files left behind.
    let names: Vec<_> = fs::read_dir(f.root.join("a/b/c"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["d.txt"]);
}

#[tokio::test]
async fn write_file_overwrite_keeps_permissions() {
    let f = Fixture::new();
    f.write("run.sh", "old\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(f.root.join("run.sh"), fs::Permissions::from_mode(0o751)).unwrap();
    }
    let out = f
        .ok(
            "write_file",
            json!({"path": "run.sh", "content": "#!/bin/sh\necho new\n"}),
        )
        .await;
    assert!(
        out.content
            .starts_with("Overwrote run.sh: wrote 19 bytes (2 lines)."),
        "{}",
        out.content
    );
    assert_eq!(
        fs::read_to_string(f.root.join("run.sh")).unwrap(),
        "#!/bin/sh\necho new\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(f.root.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o751);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn write_file_new_file_is_not_private() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.ok("write_file", json!({"path": "new.txt", "content": "x"}))
        .await;
    let mode = fs::metadata(f.root.join("new.txt"))
        .unwrap()
        .permissions()
        .mode();
    // Created with 0666 minus the umask, not tempfile's 0600.
    assert_ne!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(mode & 0o600, 0o600);
}

#[tokio::test]
async fn write_file_refuses_directory() {
    let f = Fixture::new();
    fs::create_dir(f.root.join("src")).unwrap();
    let msg = f
        .err("write_file", json!({"path": "src", "content": "x"}))
        .await;
    assert!(msg.contains("is a directory"), "{msg}");
    let msg = f
        .err("write_file", json!({"path": ".", "content": "x"}))
        .await;
    assert!(msg.contains("is a directory"), "{msg}");
    assert!(f.root.join("src").is_dir());
}

#[tokio::test]
async fn write_file_under_a_file_is_refused() {
    let f = Fixture::new();
    f.write("a.txt", "x");
    let msg = f
        .err("write_file", json!({"path": "a.txt/b.txt", "content": "x"}))
        .await;
    assert!(msg.contains("`a.txt` is a file, not a directory"), "{msg}");
}

#[cfg(unix)]
#[tokio::test]
async fn write_file_through_inside_symlink_replaces_target() {
    let f = Fixture::new();
    f.write("real.txt", "old");
    std::os::unix::fs::symlink("real.txt", f.root.join("alias.txt")).unwrap();
    f.ok("write_file", json!({"path": "alias.txt", "content": "new"}))
        .await;
    assert_eq!(fs::read_to_string(f.root.join("real.txt")).unwrap(), "new");
    assert!(
        fs::symlink_metadata(f.root.join("alias.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// ---------------------------------------------------------------- confinement

#[tokio::test]
async fn dotdot_escape_is_refused() {
    let f = Fixture::new();
    let msg = f
        .err("read_file", json!({"path": "../outside/secret.txt"}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    assert!(!msg.contains("top secret"));
    let msg = f.err("list_dir", json!({"path": ".."})).await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f.err("list_dir", json!({"path": "../outside"})).await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err(
            "write_file",
            json!({"path": "../outside/new.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    // Non-existent outside paths say "outside", not "does not exist".
    let msg = f
        .err(
            "write_file",
            json!({"path": "../elsewhere/new.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err("read_file", json!({"path": "src/../../outside/nope"}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    assert_eq!(f.outside_entries(), ["secret.txt"]);
    assert!(!f.outside.parent().unwrap().join("elsewhere").exists());
}

#[tokio::test]
async fn absolute_path_outside_is_refused() {
    let f = Fixture::new();
    let secret = f.outside.join("secret.txt");
    let msg = f
        .err("read_file", json!({"path": secret.to_str().unwrap()}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err("list_dir", json!({"path": f.outside.to_str().unwrap()}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let target = f.outside.join("new.txt");
    let msg = f
        .err(
            "write_file",
            json!({"path": target.to_str().unwrap(), "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f.err("read_file", json!({"path": "/etc/passwd"})).await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    assert_eq!(f.outside_entries(), ["secret.txt"]);
}

#[tokio::test]
async fn absolute_path_inside_is_accepted() {
    let f = Fixture::new();
    f.write("src/a.txt", "hello\n");
    let abs = f.root.join("src/a.txt");
    let out = f
        .ok("read_file", json!({"path": abs.to_str().unwrap()}))
        .await;
    assert_eq!(out.content, "1\thello");
    assert_eq!(out.summary, "src/a.txt: lines 1-1 of 1");
    let out = f
        .ok("list_dir", json!({"path": f.root.to_str().unwrap()}))
        .await;
    assert_eq!(out.content, "src/");
    let abs_new = f.root.join("src/b.txt");
    f.ok(
        "write_file",
        json!({"path": abs_new.to_str().unwrap(), "content": "b"}),
    )
    .await;
    assert_eq!(fs::read_to_string(abs_new).unwrap(), "b");
    // `..` that stays inside is fine too.
    let out = f
        .ok("read_file", json!({"path": "src/../src/./a.txt"}))
        .await;
    assert_eq!(out.content, "1\thello");
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_to_outside_file_is_refused() {
    let f = Fixture::new();
    f.outside_links();
    let msg = f.err("read_file", json!({"path": "link"})).await;
    assert!(
        msg.contains("symlink") && msg.contains("outside the workspace"),
        "{msg}"
    );
    assert!(!msg.contains("top secret"));
    let msg = f
        .err("write_file", json!({"path": "link", "content": "pwned"}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    assert_eq!(
        fs::read_to_string(f.outside.join("secret.txt")).unwrap(),
        "top secret\n"
    );
    // The link itself is still a link.
    assert!(
        fs::symlink_metadata(f.root.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // list_dir of the workspace shows the link without following it.
    let out = f.ok("list_dir", json!({})).await;
    assert!(out.content.contains(&format!(
        "link -> {}",
        f.outside.join("secret.txt").display()
    )));
}

#[cfg(unix)]
#[tokio::test]
async fn symlinked_parent_dir_to_outside_is_refused() {
    let f = Fixture::new();
    f.outside_links();
    let msg = f
        .err("read_file", json!({"path": "linkdir/secret.txt"}))
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f.err("list_dir", json!({"path": "linkdir"})).await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err(
            "write_file",
            json!({"path": "linkdir/new.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err(
            "write_file",
            json!({"path": "linkdir/sub/deeper/new.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    let msg = f
        .err(
            "write_file",
            json!({"path": "linkdir/secret.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("outside the workspace"), "{msg}");
    // Nothing was created or changed outside.
    assert_eq!(f.outside_entries(), ["secret.txt"]);
    assert_eq!(
        fs::read_to_string(f.outside.join("secret.txt")).unwrap(),
        "top secret\n"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn broken_symlink_is_refused_for_write() {
    let f = Fixture::new();
    let target = f.outside.join("not-yet");
    std::os::unix::fs::symlink(&target, f.root.join("dangling")).unwrap();
    let msg = f
        .err("write_file", json!({"path": "dangling", "content": "x"}))
        .await;
    assert!(msg.contains("symlink"), "{msg}");
    let msg = f
        .err(
            "write_file",
            json!({"path": "dangling/x.txt", "content": "x"}),
        )
        .await;
    assert!(msg.contains("symlink"), "{msg}");
    let msg = f.err("read_file", json!({"path": "dangling"})).await;
    assert!(msg.contains("symlink"), "{msg}");
    assert!(!target.exists());
}

#[test]
fn workspace_api() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path()).unwrap();
    assert_eq!(ws.root(), fs::canonicalize(dir.path()).unwrap());
    assert_eq!(ws.display(ws.root()), ".");
    assert_eq!(ws.display(&ws.root().join("a/b")), "a/b");
    assert!(matches!(
        ws.resolve_existing(""),
        Err(WorkspaceError::EmptyPath { .. })
    ));
    assert!(matches!(
        ws.resolve_for_write(""),
        Err(WorkspaceError::EmptyPath { .. })
    ));
    assert_eq!(ws.resolve_existing(".").unwrap(), ws.root());
    assert_eq!(
        ws.resolve_for_write("x/y.txt").unwrap(),
        ws.root().join("x/y.txt")
    );
    assert_eq!(
        ws.resolve_for_write("x/../y.txt").unwrap(),
        ws.root().join("y.txt")
    );
    assert!(matches!(
        ws.resolve_existing("missing"),
        Err(WorkspaceError::NotFound { .. })
    ));
    let e = ws.resolve_existing("../x").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "path `../x` is outside the workspace {}; use a path inside it",
            ws.root().display()
        )
    );

    // The root must be a directory.
    let file = dir.path().join("f");
    fs::write(&file, "").unwrap();
    assert!(matches!(
        Workspace::new(&file),
        Err(WorkspaceError::InvalidRoot { .. })
    ));
    assert!(matches!(
        Workspace::new(dir.path().join("nope")),
        Err(WorkspaceError::InvalidRoot { .. })
    ));
}

// ---------------------------------------------------------- registry errors

#[tokio::test]
async fn unknown_tool() {
    let f = Fixture::new();
    let out = f.call("read_fle", json!({"path": "x"})).await;
    assert!(!out.ok);
    let names = ToolRegistry::builtin().names().join(", ");
    assert_eq!(
        out.content,
        format!("Unknown tool `read_fle`. Available tools: {names}.")
    );
    assert!(names.starts_with("read_file, list_dir, write_file"));
}

#[tokio::test]
async fn invalid_arguments_missing_field() {
    let f = Fixture::new();
    let msg = f.err("read_file", json!({"offset": 3})).await;
    assert_eq!(
        msg,
        "Invalid arguments for read_file: missing field `path`. Expected: path (string, required), offset (integer), limit (integer)."
    );
    let msg = f.err("write_file", json!({"path": "a.txt"})).await;
    assert_eq!(
        msg,
        "Invalid arguments for write_file: missing field `content`. Expected: path (string, required), content (string, required)."
    );
    assert!(!f.root.join("a.txt").exists());
}

#[tokio::test]
async fn invalid_arguments_wrong_type() {
    let f = Fixture::new();
    let msg = f
        .err("read_file", json!({"path": "a.txt", "offset": "x"}))
        .await;
    assert_eq!(
        msg,
        "Invalid arguments for read_file: `offset` must be an integer, got string \"x\". Expected: path (string, required), offset (integer), limit (integer)."
    );
    let msg = f.err("read_file", json!({"path": 5})).await;
    assert!(
        msg.contains("`path` must be a string, got number 5"),
        "{msg}"
    );
    let msg = f
        .err("read_file", json!({"path": "a.txt", "limit": 1.5}))
        .await;
    assert!(msg.contains("`limit` must be an integer"), "{msg}");
    let msg = f
        .err("read_file", json!({"path": "a.txt", "offset": -1}))
        .await;
    assert!(
        msg.contains("`offset` is a line number counting from 1, got -1"),
        "{msg}"
    );
    // Serde's own messages are reworded in schema terms.
    let msg = f
        .err("read_file", json!({"path": "a.txt", "offset": u64::MAX}))
        .await;
    assert!(
        msg.contains("expected a 64-bit signed integer") && !msg.contains("i64"),
        "{msg}"
    );
    let msg = f
        .err("read_file", json!({"path": "a.txt", "limit": 0}))
        .await;
    assert!(msg.contains("`limit` must be at least 1"), "{msg}");
}

#[tokio::test]
async fn invalid_arguments_unknown_field() {
    let f = Fixture::new();
    let msg = f
        .err("list_dir", json!({"path": ".", "recursive": true}))
        .await;
    assert_eq!(
        msg,
        "Invalid arguments for list_dir: unknown field `recursive`. Expected: path (string)."
    );
    let out = f
        .call("write_file", json!({"file_path": "a.txt", "content": "x"}))
        .await;
    assert!(!out.ok);
    assert!(
        out.content.contains("unknown field `file_path`"),
        "{}",
        out.content
    );
    assert_eq!(out.summary, "write_file: invalid arguments");
}

#[tokio::test]
async fn cancelled_before_start() {
    let f = Fixture::new();
    f.write("a.txt", "x\n");
    f.ctx.cancel.cancel();
    let out = f.call("read_file", json!({"path": "a.txt"})).await;
    assert_eq!((out.ok, out.content.as_str()), (false, "cancelled"));
    let out = f
        .call("write_file", json!({"path": "b.txt", "content": "x"}))
        .await;
    assert_eq!((out.ok, out.content.as_str()), (false, "cancelled"));
    assert!(!f.root.join("b.txt").exists());
}

#[test]
fn truncate_output_marks_cut_lines() {
    let text: String = (0..100).map(|i| format!("line {i:02}\n")).collect();
    let cut = truncate_output(&text, 80);
    assert!(cut.len() <= 80 + 30);
    assert!(cut.ends_with("\n[... 90 more lines]"), "{cut}");
    assert!(cut.starts_with("line 00\nline 01\n"));
    assert_eq!(truncate_output("short", 80), "short");
    // One huge line is cut on a char boundary.
    let cut = truncate_output(&"é".repeat(100), 11);
    assert_eq!(cut, format!("{}\n[... 1 more line]", "é".repeat(5)));
}

#[test]
fn tool_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let registry = ToolRegistry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(Workspace::new(dir.path()).unwrap());
    let args = serde_json::Map::new();
    let fut = registry.call("list_dir", &args, &ctx);
    assert_send(&fut);
}
