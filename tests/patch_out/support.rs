//! The fixture the `--apply never` tests share: a repository in a temp
//! directory, glint run on it with its scratch trees kept in a directory of
//! the test's, and byte-exact views of a tree and of what git says about it.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{glint, model_arg};

/// A temporary directory with a repository `ws/`, and where the scratch
/// trees and the patch go.
pub struct Setup {
    _dir: tempfile::TempDir,
    pub base: PathBuf,
    pub ws: PathBuf,
}

impl Setup {
    pub fn new() -> Setup {
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
    pub fn cache(&self) -> PathBuf {
        self.base.join("cache")
    }

    pub fn scratch_dirs(&self) -> Vec<PathBuf> {
        match fs::read_dir(self.cache().join("glint/scratch")) {
            Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = glint(dir);
        command
            .env("XDG_CACHE_HOME", self.cache())
            .args(args)
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(&self.ws, args).output().expect("glint runs")
    }

    /// A copy of the workspace as it is now, `.git` included.
    pub fn copy(&self, name: &str) -> PathBuf {
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

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("mkdir");
    }
    fs::write(path, bytes).expect("write");
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs git in `dir` without taking optional locks (a plain `git status`
/// may refresh the index, which would change the tree under test).
pub fn git(dir: &Path, args: &[&str]) -> String {
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

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file, symlink and directory under `root` with its bytes (or link
/// target) and permission bits; `.git` only when `with_git`.
pub fn tree_state(root: &Path, with_git: bool) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
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
pub fn assert_same(
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
pub fn git_view(dir: &Path) -> Vec<String> {
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
pub fn committed_project(setup: &Setup) {
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

pub fn patch_args<'a>(model: &'a str, patch: &'a str) -> Vec<&'a str> {
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

/// Asserts a usage error: exit 2 and one line on stderr containing `what`.
pub fn assert_usage_error(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("glint: "), "{stderr}");
    assert!(stderr.contains(what), "`{what}` not in: {stderr}");
}

/// Waits until `done` holds, or fails after 30 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
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
pub fn start_slow_run(setup: &Setup, patch_arg: &str) -> std::process::Child {
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

pub fn interrupt(child: &std::process::Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}
