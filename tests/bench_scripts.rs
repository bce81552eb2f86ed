//! `benches/grep_vs_ripgrep.sh` run against stand-ins for ripgrep and
//! glint's grep (the script's logic, not the timings): a pattern that
//! matches nothing in `TREE` is reported, never a silent exit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("stub written");
    let mut permissions = std::fs::metadata(&path).expect("stub").permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(&path, permissions).expect("stub made executable");
    path
}

/// Runs the bench on a one-file tree with a ripgrep that exits `rg_status`
/// after printing `rg_stderr`, and a glint grep that finds nothing.
fn run_bench(rg_status: u8, rg_stderr: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).expect("tree");
    std::fs::write(tree.join("a.txt"), "nothing to see\n").expect("file");
    let rg = script(
        dir.path(),
        "rg",
        &format!(
            "if [ \"$1\" = --version ]; then echo 'ripgrep 0.0.0 (stand-in)'; exit 0; fi\nprintf '%s' '{rg_stderr}' >&2\nexit {rg_status}"
        ),
    );
    let glint = script(
        dir.path(),
        "grep_bench",
        "echo 'No matches' ; echo 'grep `x`: 0 matches in 0 files' >&2",
    );
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/grep_vs_ripgrep.sh"))
        .env("TREE", &tree)
        .env("RG", &rg)
        .env("GREP_BENCH", &glint)
        .env("RUNS", "1")
        .output()
        .expect("bash runs the script")
}

#[test]
fn a_pattern_with_no_matches_is_reported() {
    let output = run_bench(1, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| case"))
        .collect();
    assert_eq!(rows.len(), 6, "{stdout}");
    for row in rows {
        assert!(row.contains("0 (no matches)"), "{row}");
    }
}

#[test]
fn a_failing_ripgrep_stops_the_script_with_a_message() {
    let output = run_bench(2, "rg: regex parse error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("failed (exit 2) on case 'literal, files_with_matches'"),
        "{stderr}"
    );
    assert!(stderr.contains("regex parse error"), "{stderr}");
}
