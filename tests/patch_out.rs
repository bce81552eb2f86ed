//! `--apply never --patch-out FILE` on the real binary with scripted
//! models: the run happens in a scratch copy, the user's tree (working
//! files and everything under `.git`) stays byte-identical, and the patch
//! applies with `git apply` to a copy of the tree as it was, giving exactly
//! what the same run makes with `--apply always`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{glint, model_arg};

/// A temporary directory with a repository `ws/`, and where the scratch
/// trees and the patch go.
struct Setup {
    _dir: tempfile::TempDir,
    base: PathBuf,
    ws: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = fs::canonicalize(dir.path()).expect("canonical temp dir");
        let ws = base.join("ws");
        fs::create_dir(&ws).expect("mkdir ws");
        git(&ws, &["init", "-q", "-b", "main"]);
        Setup {
            _dir: dir,
            base,
            ws,
        }
    }

    /// Where `XDG_CACHE_HOME` points, so scratch trees land here.
    fn cache(&self) -> PathBuf {
        self.base.join("cache")
    }

    fn scratch_dirs(&self) -> Vec<PathBuf> {
        match fs::read_dir(self.cache().join("glint/scratch")) {
            Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = glint(dir);
        command
            .env("XDG_CACHE_HOME", self.cache())
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(&self.ws, args).output().expect("glint runs")
    }

    /// A copy of the workspace as it is now, `.git` included.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.base.join(name);
        let status = Command::new("cp")
            .arg("-a")
            .arg(&self.ws)
            .arg(&to)
            .status()
            .expect("cp runs");
        assert!(status.success(), "cp -a failed");
        to
    }
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("mkdir");
    }
    fs::write(path, bytes).expect("write");
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs git in `dir` without taking optional locks (a plain `git status`
/// may refresh the index, which would change the tree under test).
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file, symlink and directory under `root` with its bytes (or link
/// target) and permission bits; `.git` only when `with_git`.
fn tree_state(root: &Path, with_git: bool) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut state = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if !with_git && rel == Path::new(".git") {
                continue;
            }
            let meta = fs::symlink_metadata(&path).expect("stat");
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                state.insert(rel, (target.into_os_string().into_encoded_bytes(), 0));
            } else if meta.is_dir() {
                // Directories the agent creates get the umask's mode whether
                // glint or `git apply` makes them; only files carry modes.
                state.insert(rel, (b"<dir>".to_vec(), 0));
                pending.push(path);
            } else {
                state.insert(rel, (fs::read(&path).expect("read"), mode));
            }
        }
    }
    state
}

/// Asserts two states are equal, naming the paths that differ.
fn assert_same(
    before: &BTreeMap<PathBuf, (Vec<u8>, u32)>,
    after: &BTreeMap<PathBuf, (Vec<u8>, u32)>,
) {
    let differing: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(differing.is_empty(), "these paths differ: {differing:?}");
}

/// What git says about a repository, for before/after comparisons.
fn git_view(dir: &Path) -> Vec<String> {
    vec![
        git(dir, &["status", "--porcelain=v1", "--untracked-files=all"]),
        git(dir, &["stash", "list"]),
        git(dir, &["for-each-ref"]),
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["worktree", "list", "--porcelain"]),
    ]
}

/// notes.txt, old.txt, tool.sh (not executable), data.bin (binary), an
/// ignored build directory, committed as "initial".
fn committed_project(setup: &Setup) {
    let ws = &setup.ws;
    write(&ws.join("notes.txt"), b"the user's notes\n");
    write(&ws.join("old.txt"), b"old\n");
    write(&ws.join("tool.sh"), b"#!/bin/sh\necho tool\n");
    chmod(&ws.join("tool.sh"), 0o644);
    write(&ws.join("data.bin"), b"\x00\x01data\xff\xfe\x00");
    write(&ws.join(".gitignore"), b"target/\n");
    write(&ws.join("target/build.log"), b"ignored build output\n");
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-q", "-m", "initial"]);
}

fn patch_args<'a>(model: &'a str, patch: &'a str) -> Vec<&'a str> {
    vec![
        "--task",
        "tidy up",
        "--model",
        model,
        "--sandbox",
        "off",
        "--apply",
        "never",
        "--patch-out",
        patch,
    ]
}

#[test]
fn the_patch_holds_every_kind_of_change_and_the_tree_stays_byte_identical() {
    let setup = Setup::new();
    committed_project(&setup);
    let clean = setup.copy("clean");
    let direct = setup.copy("direct");
    let view_before = git_view(&setup.ws);
    let before = tree_state(&setup.ws, true);

    let model = model_arg("patch_out_edits.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let mut args = patch_args(&model, &patch_arg);
    args.push("--json");
    let out = setup.run(&args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));

    // The user's tree: byte for byte, .git included.
    assert_same(&before, &tree_state(&setup.ws, true));
    assert_eq!(git_view(&setup.ws), view_before);
    assert!(!setup.ws.join(".git/worktrees").exists());
    assert!(
        setup.scratch_dirs().is_empty(),
        "scratch trees left behind: {:?}",
        setup.scratch_dirs()
    );

    // The agent worked in a copy with the user's history.
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON event"))
        .collect();
    let workspace = events[0]["workspace"].as_str().expect("workspace");
    assert!(
        workspace.starts_with(&setup.cache().display().to_string()),
        "the run's workspace is {workspace}"
    );
    let shell = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished" && e["name"] == "shell")
        .expect("the shell call finished");
    assert_eq!(shell["ok"], true, "{shell}");
    let shell_output = shell["output"].as_str().unwrap_or_default();
    assert!(
        shell_output.contains("initial"),
        "git log in the scratch: {shell_output}"
    );
    assert!(
        shell_output.contains("?? blob.bin"),
        "git status in the scratch: {shell_output}"
    );

    let patch = fs::read(&patch_path).expect("the patch was written");
    let patch_text = text(&patch);
    for expected in [
        "diff --git a/notes.txt b/notes.txt",
        "\\ No newline at end of file",
        "new file mode 100644\n",
        "+++ b/src/made/new.rs",
        "deleted file mode 100644\n",
        "--- a/old.txt",
        "old mode 100644\nnew mode 100755\n",
        "GIT binary patch",
        "diff --git a/data.bin b/data.bin",
        "diff --git a/blob.bin b/blob.bin",
    ] {
        assert!(
            patch_text.contains(expected),
            "no `{expected}` in:\n{patch_text}"
        );
    }
    assert!(
        !patch_text.contains("target/"),
        "ignored files are not in the patch"
    );

    // Applied to a clean copy of the original, it gives exactly what the
    // same run makes in the workspace itself.
    let clean_before = tree_state(&clean, false);
    git(&clean, &["apply", "--check", &patch_arg]);
    assert_same(&clean_before, &tree_state(&clean, false));
    git(&clean, &["apply", &patch_arg]);
    let out = setup
        .command(
            &direct,
            &["--task", "tidy up", "--model", &model, "--sandbox", "off"],
        )
        .output()
        .expect("glint runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_same(&tree_state(&direct, false), &tree_state(&clean, false));

    // And that result is what the script did.
    let applied = tree_state(&clean, false);
    assert_eq!(
        applied[Path::new("notes.txt")].0,
        b"rewritten by the agent\nno newline at the end"
    );
    assert_eq!(
        applied[Path::new("blob.bin")].0,
        b"\x00\x01\x02\xffbinary\x00"
    );
    assert_eq!(
        applied[Path::new("data.bin")].0,
        b"\x00\x01data\xff\xfe\x00more\x00\xff"
    );
    assert_eq!(applied[Path::new("tool.sh")].1 & 0o111, 0o111);
    assert!(!applied.contains_key(Path::new("old.txt")));
    assert_eq!(
        applied[Path::new("src/made/new.rs")].0,
        b"pub fn made() -> u32 {\n    42\n}\n"
    );
}

#[test]
fn the_patch_applies_to_a_tree_with_uncommitted_changes() {
    let setup = Setup::new();
    let ws = &setup.ws;
    write(&ws.join("notes.txt"), b"line one\n");
    write(&ws.join("staged.txt"), b"committed\n");
    write(&ws.join(".gitignore"), b"*.log\n");
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-q", "-m", "initial"]);
    // Unstaged, staged, untracked and ignored changes of the user's.
    write(&ws.join("notes.txt"), b"line one\ndraft by the user\n");
    write(&ws.join("staged.txt"), b"staged by the user\n");
    git(ws, &["add", "staged.txt"]);
    write(&ws.join("todo.txt"), b"user item\n");
    write(&ws.join("debug.log"), b"ignored\n");
    let dirty = setup.copy("dirty");
    let view_before = git_view(ws);
    let before = tree_state(ws, true);

    let model = model_arg("patch_out_dirty.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let out = setup.run(&patch_args(&model, &patch_arg));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_same(&before, &tree_state(ws, true));
    assert_eq!(git_view(ws), view_before);

    // The patch holds only the agent's changes, on top of the user's.
    git(&dirty, &["apply", "--check", &patch_arg]);
    git(&dirty, &["apply", &patch_arg]);
    let applied = tree_state(&dirty, false);
    assert_eq!(
        applied[Path::new("notes.txt")].0,
        b"line one\ndraft by the user, finished by the agent\n"
    );
    assert_eq!(applied[Path::new("todo.txt")].0, b"user item\nagent item\n");
    assert_eq!(applied[Path::new("staged.txt")].0, b"staged by the user\n");
    assert_eq!(applied[Path::new("debug.log")].0, b"ignored\n");
    assert_eq!(
        git(&dirty, &["diff", "--cached", "--name-only"]),
        "staged.txt\n"
    );
}

#[test]
fn a_workspace_below_the_top_gets_a_patch_from_the_top() {
    let setup = Setup::new();
    write(&setup.ws.join("pkg/lib.txt"), b"lib\n");
    git(&setup.ws, &["add", "-A"]);
    git(&setup.ws, &["commit", "-q", "-m", "initial"]);
    let clean = setup.copy("clean");
    let model = model_arg("patch_out_subdir.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let out = setup
        .command(&setup.ws.join("pkg"), &patch_args(&model, &patch_arg))
        .output()
        .expect("glint runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(!setup.ws.join("pkg/made.txt").exists());
    let patch_text = text(&fs::read(&patch_path).expect("patch"));
    assert!(patch_text.contains("+++ b/pkg/made.txt"), "{patch_text}");
    git(&clean, &["apply", &patch_arg]);
    assert_eq!(
        fs::read(clean.join("pkg/made.txt")).expect("made"),
        b"made in pkg\n"
    );
}

#[test]
fn a_run_that_changes_nothing_writes_an_empty_patch_and_sweeps_stale_scratch_trees() {
    let setup = Setup::new();
    committed_project(&setup);
    // Left by a glint that was killed: no process has this id.
    let stale = setup.cache().join("glint/scratch/999999999-stale");
    write(&stale.join("repo/file"), b"left behind\n");
    let patch_path = setup.base.join("p.diff");
    write(&patch_path, b"an old patch\n");
    let model = model_arg("patch_out_nothing.json");
    let patch_arg = patch_path.display().to_string();
    let out = setup.run(&patch_args(&model, &patch_arg));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(fs::read(&patch_path).expect("patch"), b"");
    assert!(
        text(&out.stderr).contains("changed no files; wrote an empty patch"),
        "{}",
        text(&out.stderr)
    );
    assert!(!stale.exists(), "the stale scratch tree was swept");
    assert!(setup.scratch_dirs().is_empty());
}

/// Asserts a usage error: exit 2 and one line on stderr containing `what`.
fn assert_usage_error(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("glint: "), "{stderr}");
    assert!(stderr.contains(what), "`{what}` not in: {stderr}");
}

#[test]
fn flags_that_do_not_go_together_are_one_line_errors() {
    let setup = Setup::new();
    committed_project(&setup);
    let model = model_arg("patch_out_nothing.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--task", "x", "--model", &model, "--apply", "never"],
            "needs --patch-out FILE",
        ),
        (
            vec!["--task", "x", "--model", &model, "--patch-out", &patch_arg],
            "--patch-out needs --apply never",
        ),
        (
            vec![
                "--task",
                "x",
                "--model",
                &model,
                "--apply",
                "always",
                "--patch-out",
                &patch_arg,
            ],
            "--patch-out needs --apply never",
        ),
        (
            vec![
                "--model",
                &model,
                "--apply",
                "never",
                "--patch-out",
                &patch_arg,
            ],
            "add --task",
        ),
        (
            vec![
                "--task",
                "x",
                "--model",
                &model,
                "--apply",
                "never",
                "--patch-out",
                "/nonexistent-dir-glint/p.diff",
            ],
            "no such directory",
        ),
    ];
    for (args, what) in cases {
        let out = setup.run(&args);
        assert_usage_error(&out, what);
        assert!(!patch_path.exists(), "{args:?} wrote a patch");
    }
    let out = setup.run(&patch_args(&model, &setup.base.display().to_string()));
    assert_usage_error(&out, "is a directory");
}

#[test]
fn a_workspace_outside_git_is_a_one_line_error() {
    let setup = Setup::new();
    let plain = setup.base.join("plain");
    write(&plain.join("notes.txt"), b"notes\n");
    let model = model_arg("patch_out_nothing.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let out = setup
        .command(&plain, &patch_args(&model, &patch_arg))
        .output()
        .expect("glint runs");
    assert_usage_error(&out, "run `git init`");
    assert!(!patch_path.exists());
    assert!(!plain.join(".git").exists());
}

/// Waits until `done` holds, or fails after 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the slow script and waits until its shell call is running.
fn start_slow_run(setup: &Setup, patch_arg: &str) -> std::process::Child {
    let model = model_arg("patch_out_slow.json");
    let child = setup
        .command(&setup.ws, &patch_args(&model, patch_arg))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("glint starts");
    wait_for("the scratch tree's first edit", || {
        setup
            .scratch_dirs()
            .iter()
            .any(|dir| dir.join("repo/started.txt").exists())
    });
    // The next call is `sleep`; give it a moment to start.
    std::thread::sleep(Duration::from_millis(500));
    child
}

fn interrupt(child: &std::process::Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

#[test]
fn ctrl_c_still_writes_what_was_done_and_removes_the_scratch_tree() {
    let setup = Setup::new();
    committed_project(&setup);
    let before = tree_state(&setup.ws, true);
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let child = start_slow_run(&setup, &patch_arg);
    interrupt(&child);
    let out = child.wait_with_output().expect("glint ends");
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("did not finish"),
        "{}",
        text(&out.stderr)
    );
    let patch_text = text(&fs::read(&patch_path).expect("patch"));
    assert!(patch_text.contains("+++ b/started.txt"), "{patch_text}");
    assert!(
        setup.scratch_dirs().is_empty(),
        "{:?}",
        setup.scratch_dirs()
    );
    assert_same(&before, &tree_state(&setup.ws, true));
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_still_removes_the_scratch_tree() {
    let setup = Setup::new();
    committed_project(&setup);
    let before = tree_state(&setup.ws, true);
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let child = start_slow_run(&setup, &patch_arg);
    interrupt(&child);
    interrupt(&child);
    let out = child.wait_with_output().expect("glint ends");
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(
        setup.scratch_dirs().is_empty(),
        "{:?}",
        setup.scratch_dirs()
    );
    assert_same(&before, &tree_state(&setup.ws, true));
}
