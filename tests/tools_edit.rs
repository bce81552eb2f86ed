//! `edit_file` against real temporary git repositories, through
//! `ToolRegistry::call` as the agent loop uses it.

use std::fs;

mod common;

use common::Fixture;
use serde_json::json;

/// A fixture whose workspace is a fresh git repository.
fn repo() -> Fixture {
    let f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    f
}

fn read(f: &Fixture, rel: &str) -> String {
    fs::read_to_string(f.root.join(rel)).unwrap()
}

fn bytes(f: &Fixture, rel: &str) -> Vec<u8> {
    fs::read(f.root.join(rel)).unwrap()
}

async fn edit(f: &Fixture, path: &str, old: &str, new: &str) -> glint::tools::ToolOutcome {
    f.ok(
        "edit_file",
        json!({"path": path, "old_string": old, "new_string": new}),
    )
    .await
}

async fn edit_err(f: &Fixture, path: &str, old: &str, new: &str) -> String {
    f.err(
        "edit_file",
        json!({"path": path, "old_string": old, "new_string": new}),
    )
    .await
}

#[tokio::test]
async fn unique_replacement_returns_a_unified_diff() {
    let f = repo();
    f.write(
        "src/main.rs",
        "fn main() {\n    let name = \"world\";\n    println!(\"hi {name}\");\n}\n",
    );
    let out = edit(
        &f,
        "src/main.rs",
        "println!(\"hi {name}\");",
        "println!(\"hello {name}\");",
    )
    .await;
    assert_eq!(
        read(&f, "src/main.rs"),
        "fn main() {\n    let name = \"world\";\n    println!(\"hello {name}\");\n}\n"
    );
    assert_eq!(out.summary, "src/main.rs: 1 replacement (+1 -1)");
    assert_eq!(
        out.content,
        "Edited src/main.rs: 1 replacement (+1 -1).\n\
         --- a/src/main.rs\n\
         +++ b/src/main.rs\n\
         @@ -1,4 +1,4 @@\n \
         fn main() {\n     \
         let name = \"world\";\n\
         -    println!(\"hi {name}\");\n\
         +    println!(\"hello {name}\");\n \
         }"
    );
}

#[tokio::test]
async fn ambiguous_text_reports_count_and_lines_and_changes_nothing() {
    let f = repo();
    let text = "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n";
    f.write("a.py", text);
    let err = edit_err(&f, "a.py", "x = 1", "x = 10").await;
    assert!(err.contains("occurs 3 times"), "{err}");
    assert!(err.contains("lines 1, 3 and 5"), "{err}");
    assert!(err.contains("replace_all"), "{err}");
    assert_eq!(read(&f, "a.py"), text);

    // Overlapping occurrences are ambiguous too.
    f.write("b.txt", "aaa\n");
    let err = edit_err(&f, "b.txt", "aa", "b").await;
    assert!(err.contains("occurs 2 times"), "{err}");
    assert_eq!(read(&f, "b.txt"), "aaa\n");
}

#[tokio::test]
async fn missing_text_quotes_the_closest_region_with_line_numbers() {
    let f = repo();
    let text = "import os\n\ndef load(path):\n    with open(path) as fh:\n        return fh.read()\n\ndef save(path, data):\n    pass\n";
    f.write("io.py", text);
    let err = edit_err(
        &f,
        "io.py",
        "def load(path):\n    with open(path, 'rb') as fh:\n        return fh.read()",
        "def load(path):\n    return b''",
    )
    .await;
    assert!(
        err.starts_with("old_string was not found in `io.py`"),
        "{err}"
    );
    assert!(err.contains("lines 3-5"), "{err}");
    assert!(
        err.contains(
            "\n3\tdef load(path):\n4\t    with open(path) as fh:\n5\t        return fh.read()"
        ),
        "{err}"
    );
    assert!(err.contains("First difference at line 4"), "{err}");
    assert_eq!(read(&f, "io.py"), text);

    // Nothing similar at all.
    let err = edit_err(&f, "io.py", "zzzz qqqq", "x").await;
    assert!(err.contains("no part of the file resembles it"), "{err}");
    assert_eq!(read(&f, "io.py"), text);
}

#[tokio::test]
async fn whitespace_tolerant_match_reindents_the_replacement() {
    let f = repo();
    f.write(
        "lib.rs",
        "impl A {\n    fn f(&self) {\n        let a = 1;\n        let b = 2;\n    }\n}\n",
    );
    // The model dropped the indentation and adds a nested block.
    let out = edit(
        &f,
        "lib.rs",
        "let a = 1;\nlet b = 2;",
        "let a = 1;\nif a > 0 {\n    let b = 3;\n}",
    )
    .await;
    assert_eq!(
        read(&f, "lib.rs"),
        "impl A {\n    fn f(&self) {\n        let a = 1;\n        if a > 0 {\n            let b = 3;\n        }\n    }\n}\n"
    );
    assert!(
        out.content.contains("ignoring indentation"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn whitespace_tolerant_match_maps_spaces_onto_tabs() {
    let f = repo();
    f.write(
        "main.go",
        "func f(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 0\n}\n",
    );
    edit(
        &f,
        "main.go",
        "    if x > 0 {\n        return 1\n    }",
        "    if x > 0 {\n        log(x)\n        return 1\n    }",
    )
    .await;
    assert_eq!(
        read(&f, "main.go"),
        "func f(x int) int {\n\tif x > 0 {\n\t\tlog(x)\n\t\treturn 1\n\t}\n\treturn 0\n}\n"
    );
}

#[tokio::test]
async fn whitespace_tolerant_match_ignores_trailing_spaces() {
    let f = repo();
    f.write("notes.md", "# Title  \nalpha\t\nbeta\n");
    let out = edit(&f, "notes.md", "# Title\nalpha\n", "# New title\nalpha\n").await;
    assert_eq!(read(&f, "notes.md"), "# New title\nalpha\nbeta\n");
    assert!(
        out.content.contains("trailing whitespace"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn lf_old_string_matches_a_crlf_file_and_crlf_is_kept() {
    let f = repo();
    f.write("win.txt", b"one\r\ntwo\r\nthree\r\n");
    edit(&f, "win.txt", "one\ntwo\n", "uno\ndos\ndos bis\n").await;
    assert_eq!(bytes(&f, "win.txt"), b"uno\r\ndos\r\ndos bis\r\nthree\r\n");

    // And a CRLF old_string in an LF file.
    f.write("unix.txt", b"one\ntwo\nthree\n");
    edit(&f, "unix.txt", "two\r\nthree", "2\r\n3").await;
    assert_eq!(bytes(&f, "unix.txt"), b"one\n2\n3\n");

    // Whitespace-tolerant matching in a CRLF file also writes CRLF.
    f.write("ind.txt", b"  a\r\n  b\r\nc\r\n");
    edit(&f, "ind.txt", "a\nb", "a\nb2").await;
    assert_eq!(bytes(&f, "ind.txt"), b"  a\r\n  b2\r\nc\r\n");
}

#[tokio::test]
async fn ambiguous_whitespace_tolerant_match_is_refused() {
    let f = repo();
    let text = "  a\n  b\n\n    a\n    b\n";
    f.write("x.txt", text);
    let err = edit_err(&f, "x.txt", "a\nb", "c").await;
    assert!(
        err.contains("ignoring indentation it matches 2 places"),
        "{err}"
    );
    assert!(err.contains("lines 1-2 and 4-5"), "{err}");
    assert_eq!(read(&f, "x.txt"), text);
}

#[tokio::test]
async fn replace_all_changes_every_occurrence() {
    let f = repo();
    f.write("r.rs", "let foo = foo + 1;\nprint(foo);\n");
    let out = f
        .ok(
            "edit_file",
            json!({"path": "r.rs", "old_string": "foo", "new_string": "bar", "replace_all": true}),
        )
        .await;
    assert_eq!(read(&f, "r.rs"), "let bar = bar + 1;\nprint(bar);\n");
    assert_eq!(out.summary, "r.rs: 3 replacements (+2 -2)");
}

#[tokio::test]
async fn final_newline_presence_and_absence_are_kept() {
    let f = repo();
    f.write("no_nl.txt", "a\nb");
    edit(&f, "no_nl.txt", "b", "c\n").await;
    assert_eq!(read(&f, "no_nl.txt"), "a\nc");

    f.write("nl.txt", "a\nb\n");
    edit(&f, "nl.txt", "b\n", "c").await;
    assert_eq!(read(&f, "nl.txt"), "a\nc\n");

    f.write("crlf.txt", "a\r\nb\r\n");
    edit(&f, "crlf.txt", "b\r\n", "c").await;
    assert_eq!(bytes(&f, "crlf.txt"), b"a\r\nc\r\n");
}

#[cfg(unix)]
#[tokio::test]
async fn permissions_are_kept_and_no_temporary_files_are_left() {
    use std::os::unix::fs::PermissionsExt;
    let f = repo();
    f.write("run.sh", "#!/bin/sh\necho old\n");
    fs::set_permissions(f.root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    edit(&f, "run.sh", "echo old", "echo new").await;
    assert_eq!(read(&f, "run.sh"), "#!/bin/sh\necho new\n");
    let mode = fs::metadata(f.root.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mut names: Vec<String> = fs::read_dir(&f.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".git", "run.sh"]);
}

#[tokio::test]
async fn argument_and_file_errors_say_what_to_do() {
    let f = repo();
    f.write("a.txt", "hello\n");
    let err = edit_err(&f, "a.txt", "", "x").await;
    assert!(
        err.contains("`old_string` is empty") && err.contains("write_file"),
        "{err}"
    );
    let err = edit_err(&f, "a.txt", "hello", "hello").await;
    assert!(err.contains("identical"), "{err}");
    let err = edit_err(&f, "missing.txt", "a", "b").await;
    assert!(
        err.contains("does not exist") && err.contains("write_file"),
        "{err}"
    );
    f.write("blob.bin", b"abc\0def hello");
    let err = edit_err(&f, "blob.bin", "hello", "bye").await;
    assert!(err.contains("binary"), "{err}");
    assert_eq!(bytes(&f, "blob.bin"), b"abc\0def hello");
    let err = edit_err(&f, ".", "a", "b").await;
    assert!(err.contains("is a directory"), "{err}");
    assert_eq!(read(&f, "a.txt"), "hello\n");
}

#[cfg(unix)]
#[tokio::test]
async fn paths_outside_the_workspace_are_refused() {
    let f = repo();
    f.outside_links();
    let outside_secret = f.outside.join("secret.txt");
    let absolute = outside_secret.to_string_lossy().into_owned();
    for path in [
        "../outside/secret.txt",
        absolute.as_str(),
        "link",
        "linkdir/secret.txt",
    ] {
        let err = edit_err(&f, path, "top secret", "leaked").await;
        assert!(err.contains("outside the workspace"), "{path}: {err}");
    }
    assert_eq!(fs::read_to_string(&outside_secret).unwrap(), "top secret\n");
    assert_eq!(f.outside_entries(), ["secret.txt"]);
}
