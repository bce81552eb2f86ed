//! Checkpoints and undo through the real tools: `ToolRegistry::call` with a
//! checkpoint store attached, as the agent loop runs them, in real git
//! repositories (made with the git CLI, whose output the tests also check)
//! and in plain directories (the shadow repository).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

mod common;

use common::Fixture;
use glint::checkpoint::{ChangeKind, CheckpointError, Checkpoints, Location};
use glint::tools::SandboxPolicy;
use serde_json::json;

/// Every file under `root` except `.git`: path → (bytes, permission bits,
/// or the link target for a symlink). What "byte for byte" compares.
fn picture(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(rel, (target.display().to_string().into_bytes(), 0o120000));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), (Vec::new(), 0o040000));
                walk(root, &path, out);
            } else {
                let mode = meta.permissions().mode() & 0o7777;
                out.insert(rel, (fs::read(&path).unwrap(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Runs git with no user or system configuration; panics with its stderr
/// when it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git must be installed to run these tests");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A fixture whose workspace is a git repository with one commit, shell
/// commands unsandboxed (the sandbox has its own tests), and a checkpoint
/// store attached to its registry. The shadow base is a directory the test
/// owns (it must stay unused in a repository).
fn repo_fixture(files: &[(&str, &str)]) -> (Fixture, Arc<Checkpoints>, tempfile::TempDir) {
    let mut f = Fixture::new();
    git(&f.root, &["init", "-q", "-b", "main"]);
    for (path, content) in files {
        f.write(path, content);
    }
    git(&f.root, &["add", "-A"]);
    git(&f.root, &["commit", "-q", "-m", "initial"]);
    let (store, shadow) = attach(&mut f);
    (f, store, shadow)
}

fn attach(f: &mut Fixture) -> (Arc<Checkpoints>, tempfile::TempDir) {
    f.ctx.shell.sandbox = SandboxPolicy::Off;
    let shadow = tempfile::tempdir().unwrap();
    let store = Arc::new(Checkpoints::new_session(&f.root, Some(shadow.path())).unwrap());
    f.registry.set_checkpoints(store.clone());
    (store, shadow)
}

fn kinds(store: &Checkpoints) -> Vec<Vec<(String, ChangeKind)>> {
    store
        .list()
        .unwrap()
        .iter()
        .map(|c| {
            c.meta
                .files
                .iter()
                .map(|f| (f.path.clone(), f.change))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn undo_is_byte_exact_across_create_modify_delete_mode_and_shell() {
    let (f, store, _shadow) = repo_fixture(&[
        ("src/lib.rs", "fn a() {}\nfn b() {}\n"),
        ("old.txt", "to be deleted\n"),
        ("run.sh", "#!/bin/sh\necho hi\n"),
        (".gitignore", "target/\n"),
    ]);
    f.write("data.bin", [0u8, 159, 146, 150, 255, 0, 10, 13]);
    let original = picture(&f.root);

    f.ok(
        "write_file",
        json!({"path": "new/deep/made.txt", "content": "created\n"}),
    )
    .await;
    let after_create = picture(&f.root);
    f.ok(
        "edit_file",
        json!({"path": "src/lib.rs", "old_string": "fn b() {}", "new_string": "fn b() { todo!() }"}),
    )
    .await;
    let after_edit = picture(&f.root);
    f.ok(
        "shell",
        json!({"command": "rm old.txt && chmod +x run.sh && printf '\\001\\002' > data.bin && mkdir -p gen/x && echo out > gen/x/o.txt && mkdir -p target && echo junk > target/build.o"}),
    )
    .await;
    // A call that changes nothing records nothing.
    f.ok("shell", json!({"command": "true"})).await;

    assert_eq!(
        kinds(&store),
        vec![
            vec![("new/deep/made.txt".to_string(), ChangeKind::Created)],
            vec![("src/lib.rs".to_string(), ChangeKind::Modified)],
            vec![
                ("data.bin".to_string(), ChangeKind::Modified),
                ("gen/x/o.txt".to_string(), ChangeKind::Created),
                ("old.txt".to_string(), ChangeKind::Deleted),
                ("run.sh".to_string(), ChangeKind::Mode),
            ],
        ],
        "target/ is ignored by .gitignore and must not be checkpointed"
    );

    let report = store.undo(1, false).unwrap();
    assert_eq!(report.undone.len(), 1);
    assert!(report.note_for_model().contains("old.txt (deleted)"));
    let mut expected = after_edit.clone();
    // Ignored files are not checkpointed, so undo leaves them alone.
    for key in ["target/", "target/build.o"] {
        let now = picture(&f.root);
        expected.insert(key.to_string(), now[key].clone());
    }
    assert_eq!(picture(&f.root), expected);

    store.undo(2, false).unwrap();
    let mut expected = original.clone();
    for key in ["target/", "target/build.o"] {
        expected.insert(key.to_string(), picture(&f.root)[key].clone());
    }
    assert_eq!(picture(&f.root), expected, "new/ and gen/ must be gone too");
    assert_ne!(after_create, original);
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(
        store.undo(1, false),
        Err(CheckpointError::Nothing)
    ));
}

#[tokio::test]
async fn undo_refuses_to_overwrite_a_file_the_user_edited() {
    let (f, store, _shadow) = repo_fixture(&[("a.txt", "one\n"), ("b.txt", "bee\n")]);
    f.ok("write_file", json!({"path": "a.txt", "content": "agent\n"}))
        .await;
    fs::write(f.root.join("a.txt"), "user\n").unwrap();
    let error = store.undo(1, false).unwrap_err();
    assert!(matches!(&error, CheckpointError::Conflict(files) if files == &["a.txt"]));
    assert!(error.to_string().contains("a.txt"), "{error}");
    assert_eq!(fs::read_to_string(f.root.join("a.txt")).unwrap(), "user\n");
    assert_eq!(
        store.list().unwrap().len(),
        1,
        "a refused undo keeps the checkpoint"
    );

    // A user edit between two agent calls on the same file also blocks
    // undoing both at once, but not the newest alone.
    fs::write(f.root.join("a.txt"), "agent\n").unwrap();
    f.ok(
        "write_file",
        json!({"path": "b.txt", "content": "agent b\n"}),
    )
    .await;
    fs::write(f.root.join("b.txt"), "user b\n").unwrap();
    f.ok(
        "write_file",
        json!({"path": "b.txt", "content": "agent b2\n"}),
    )
    .await;
    let error = store.undo(2, false).unwrap_err();
    assert!(matches!(&error, CheckpointError::Conflict(files) if files == &["b.txt"]));
    store.undo(1, false).unwrap();
    assert_eq!(
        fs::read_to_string(f.root.join("b.txt")).unwrap(),
        "user b\n"
    );

    // --force overwrites.
    fs::write(f.root.join("b.txt"), "user again\n").unwrap();
    store.undo(1, true).unwrap();
    assert_eq!(fs::read_to_string(f.root.join("b.txt")).unwrap(), "bee\n");
}

#[tokio::test]
async fn checkpoints_are_invisible_to_git_and_never_move_head_index_or_stash() {
    let (f, store, _shadow) = repo_fixture(&[("a.txt", "one\n"), ("b.txt", "two\n")]);
    // A stash, a staged change and an unstaged one, so there is something
    // to disturb.
    f.write("a.txt", "stashed\n");
    git(&f.root, &["stash", "-q"]);
    f.write("a.txt", "staged\n");
    git(&f.root, &["add", "a.txt"]);
    f.write("b.txt", "unstaged\n");
    let views = |root: &Path| {
        [
            git(root, &["log"]),
            git(root, &["log", "--all", "--oneline"]),
            git(root, &["stash", "list"]),
            git(root, &["branch", "-a"]),
            git(root, &["rev-parse", "HEAD"]),
        ]
    };
    let before = views(&f.root);
    let status_before = git(&f.root, &["status", "--porcelain"]);
    let index = || fs::read(f.root.join(".git/index")).unwrap();
    let index_before = index();

    f.ok("write_file", json!({"path": "agent.txt", "content": "x\n"}))
        .await;
    f.ok("shell", json!({"command": "echo y > agent2.txt"}))
        .await;
    store.undo(1, false).unwrap();

    assert_eq!(index(), index_before, "the index file must be untouched");
    assert_eq!(views(&f.root), before);
    assert_eq!(
        git(&f.root, &["status", "--porcelain"]),
        format!("{status_before}?? agent.txt\n")
    );
    // The checkpoint is there, on a ref that points at a tree (which is why
    // `git log --all`, walking commits, does not show it).
    let refs = git(&f.root, &["for-each-ref", "refs/glint/"]);
    assert!(refs.contains(" tree\trefs/glint/checkpoints/"), "{refs}");
    assert!(matches!(store.location(), Location::Repository(_)));
}

#[tokio::test]
async fn a_workspace_outside_git_uses_the_shadow_repository() {
    let mut f = Fixture::new();
    f.write("notes.txt", "notes\n");
    let (store, shadow) = attach(&mut f);
    let original = picture(&f.root);
    f.ok(
        "write_file",
        json!({"path": "notes.txt", "content": "changed\n"}),
    )
    .await;
    let Location::Shadow(dir) = store.location().clone() else {
        panic!("expected a shadow repository, got {:?}", store.location());
    };
    assert!(dir.starts_with(fs::canonicalize(shadow.path()).unwrap()));
    assert!(git2::Repository::open_bare(&dir).is_ok());
    assert!(
        !f.root.join(".git").exists(),
        "no repository in the workspace"
    );
    // A later `glint undo` finds the same session.
    let latest = Checkpoints::latest_session(&f.root, Some(shadow.path()))
        .unwrap()
        .expect("the session is found");
    assert_eq!(latest.session(), store.session());
    latest.undo(1, false).unwrap();
    assert_eq!(picture(&f.root), original);
}

#[tokio::test]
async fn a_shadow_repository_inside_the_workspace_is_not_snapshotted() {
    let mut f = Fixture::new();
    f.write("notes.txt", "notes\n");
    f.ctx.shell.sandbox = SandboxPolicy::Off;
    let inside: PathBuf = f.root.join(".data");
    let store = Arc::new(Checkpoints::new_session(&f.root, Some(&inside)).unwrap());
    f.registry.set_checkpoints(store.clone());
    f.ok("write_file", json!({"path": "notes.txt", "content": "b\n"}))
        .await;
    f.ok("write_file", json!({"path": "notes.txt", "content": "c\n"}))
        .await;
    assert_eq!(
        kinds(&store),
        vec![vec![("notes.txt".to_string(), ChangeKind::Modified)]; 2]
    );
}

#[test]
fn an_unchanged_tree_is_snapshotted_again_without_rehashing() {
    let f = Fixture::new();
    let old = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..2000 {
        let path = f.root.join(format!("d{}/f{i}.txt", i % 20));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("file {i}\n")).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    f.write(".gitignore", "ignored/\n");
    for i in 0..50 {
        f.write(&format!("ignored/{i}.o"), "junk");
    }
    let shadow = tempfile::tempdir().unwrap();
    let store = Checkpoints::new_session(&f.root, Some(shadow.path())).unwrap();
    let first = store.before().unwrap();
    // 2000 files and .gitignore; nothing under ignored/.
    assert_eq!(store.hashed_files(), 2001);
    drop(first);
    let _second = store.before().unwrap();
    // Only .gitignore, written just now (too recent to trust its stat),
    // is read again.
    assert_eq!(store.hashed_files(), 2002);
    fs::write(f.root.join("d3/f3.txt"), "changed\n").unwrap();
    let _third = store.before().unwrap();
    assert_eq!(store.hashed_files(), 2004);
}

#[tokio::test]
async fn the_app_undoes_and_tells_the_model_at_the_next_message() {
    use glint::tui::theme::Theme;
    use glint::tui::{App, AppConfig, Effect, Entry};
    let (f, store, _shadow) = repo_fixture(&[("a.txt", "one\n")]);
    f.ok("write_file", json!({"path": "a.txt", "content": "agent\n"}))
        .await;
    let mut app = App::new(AppConfig {
        workspace_root: f.root.clone(),
        model_label: "script:x.json".into(),
        sandbox: SandboxPolicy::WorkspaceWrite,
        theme: Theme::plain(),
    });
    app.set_checkpoints(Some(store.clone()));
    app.on_model_ready("m".into(), None);

    assert!(app.submit("/checkpoints".into()).is_empty());
    let last = |app: &App| format!("{:?}", app.entries().last());
    assert!(last(&app).contains("a.txt (modified)"), "{}", last(&app));

    fs::write(f.root.join("a.txt"), "user\n").unwrap();
    assert!(app.submit("/undo".into()).is_empty());
    assert!(
        matches!(app.entries().last(), Some(Entry::Error(e)) if e.contains("a.txt") && e.contains("--force"))
    );
    assert_eq!(fs::read_to_string(f.root.join("a.txt")).unwrap(), "user\n");

    assert!(app.submit("/undo --force".into()).is_empty());
    assert_eq!(fs::read_to_string(f.root.join("a.txt")).unwrap(), "one\n");
    let effects = app.submit("what now?".into());
    let sent: Vec<&String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit(text) => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{effects:?}");
    assert!(sent[0].contains("undid") && sent[0].contains("a.txt (modified)"));
    assert!(sent[0].ends_with("what now?"), "{}", sent[0]);
    assert!(matches!(app.entries().last(), Some(Entry::User(text)) if text == "what now?"));
}
