//! `glint undo` and `glint checkpoints` on the real binary, after a
//! headless run with a scripted model that writes a file and runs a shell
//! command that deletes one, changes a mode and creates another.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

mod common;

use common::{glint, model_arg};

/// notes.txt, old.txt and tool.sh (not executable) in a fresh workspace,
/// plus the directory that stands in for the user's data directory.
struct Setup {
    _dir: tempfile::TempDir,
    ws: std::path::PathBuf,
    data: std::path::PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let ws = base.join("ws");
    let data = base.join("data");
    fs::create_dir(&ws).unwrap();
    fs::write(ws.join("notes.txt"), "the user's notes\n").unwrap();
    fs::write(ws.join("old.txt"), "old\n").unwrap();
    fs::write(ws.join("tool.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(ws.join("tool.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    Setup {
        _dir: dir,
        ws,
        data,
    }
}

fn run(setup: &Setup, args: &[&str]) -> Output {
    glint(&setup.ws)
        .env("XDG_DATA_HOME", &setup.data)
        .args(args)
        .output()
        .expect("run glint")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn agent_run(setup: &Setup) {
    let model = model_arg("checkpoint_edits.json");
    let out = run(
        setup,
        &["--task", "tidy up", "--model", &model, "--sandbox", "off"],
    );
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(setup.ws.join("notes.txt")).unwrap(),
        "rewritten by the agent\n"
    );
    assert!(
        !setup.ws.join("old.txt").exists(),
        "the script's shell call ran"
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn undo_takes_back_the_last_runs_changes_one_call_at_a_time() {
    let setup = setup();
    agent_run(&setup);

    let out = run(&setup, &["checkpoints"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("(shadow)"), "{listing}");
    let shell = listing.find("#2").expect("the shell call's checkpoint");
    let write = listing.find("#1").expect("the write's checkpoint");
    assert!(shell < write, "newest first: {listing}");
    assert!(listing.contains("old.txt (deleted)"), "{listing}");
    assert!(listing.contains("tool.sh (mode changed)"), "{listing}");
    assert!(listing.contains("made/new.txt (created)"), "{listing}");
    assert!(listing.contains("notes.txt (modified)"), "{listing}");

    let out = run(&setup, &["undo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("undid 1 change:"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        fs::read_to_string(setup.ws.join("old.txt")).unwrap(),
        "old\n"
    );
    assert_eq!(mode(&setup.ws.join("tool.sh")), 0o644);
    assert!(!setup.ws.join("made").exists());
    assert_eq!(
        fs::read_to_string(setup.ws.join("notes.txt")).unwrap(),
        "rewritten by the agent\n",
        "only the last change is undone"
    );

    let out = run(&setup, &["undo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(setup.ws.join("notes.txt")).unwrap(),
        "the user's notes\n"
    );

    let out = run(&setup, &["undo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing to undo"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn undo_refuses_when_the_user_changed_a_file_and_force_overrides() {
    let setup = setup();
    agent_run(&setup);
    fs::write(setup.ws.join("notes.txt"), "the user's later edit\n").unwrap();

    let out = run(&setup, &["undo", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let error = text(&out.stderr);
    assert!(
        error.contains("notes.txt") && error.contains("--force"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    assert_eq!(
        fs::read_to_string(setup.ws.join("notes.txt")).unwrap(),
        "the user's later edit\n"
    );
    assert!(!setup.ws.join("old.txt").exists(), "nothing was undone");

    let out = run(&setup, &["undo", "2", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(setup.ws.join("notes.txt")).unwrap(),
        "the user's notes\n"
    );
    assert_eq!(
        fs::read_to_string(setup.ws.join("old.txt")).unwrap(),
        "old\n"
    );
}
