//! `--apply never --patch-out FILE` on the real binary with scripted
//! models: the run happens in a scratch copy, the user's tree (working
//! files and everything under `.git`) stays byte-identical, and the patch
//! applies with `git apply` to a copy of the tree as it was, giving exactly
//! what the same run makes with `--apply always`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
mod support;

use common::model_arg;
use support::{
    Setup, assert_same, assert_usage_error, committed_project, git, git_view, interrupt,
    patch_args, start_slow_run, text, tree_state, write,
};

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
    // The user's private ignore patterns hold in the scratch copy too.
    write(&ws.join(".git/info/exclude"), b"*.private\n");
    write(&ws.join("mine.private"), b"the user's own\n");
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

    let patch_text = text(&fs::read(&patch_path).expect("patch"));
    assert!(!patch_text.contains(".private"), "{patch_text}");
    assert!(!patch_text.contains("debug.log"), "{patch_text}");
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
fn a_fresh_git_init_without_commits_is_enough() {
    let setup = Setup::new();
    write(&setup.ws.join("notes.txt"), b"untracked notes\n");
    let clean = setup.copy("clean");
    let before = tree_state(&setup.ws, true);
    let model = model_arg("patch_out_subdir.json");
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let out = setup.run(&patch_args(&model, &patch_arg));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_same(&before, &tree_state(&setup.ws, true));
    let patch_text = text(&fs::read(&patch_path).expect("patch"));
    assert!(!patch_text.contains("notes.txt"), "{patch_text}");
    git(&clean, &["apply", &patch_arg]);
    assert_eq!(
        fs::read(clean.join("made.txt")).expect("made"),
        b"made in pkg\n"
    );
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

/// A slow `--patch-out` run in a committed project, interrupted `times`
/// times: glint exits 130, leaves no scratch tree and the workspace as it
/// was. Returns the setup (its directory holds the patch), the output
/// and the patch file's path.
fn interrupted_slow_run(times: usize) -> (Setup, Output, PathBuf) {
    let setup = Setup::new();
    committed_project(&setup);
    let before = tree_state(&setup.ws, true);
    let patch_path = setup.base.join("p.diff");
    let patch_arg = patch_path.display().to_string();
    let child = start_slow_run(&setup, &patch_arg);
    for _ in 0..times {
        interrupt(&child);
    }
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
    (setup, out, patch_path)
}

#[test]
fn ctrl_c_still_writes_what_was_done_and_removes_the_scratch_tree() {
    let (_setup, out, patch_path) = interrupted_slow_run(1);
    assert!(
        text(&out.stderr).contains("did not finish"),
        "{}",
        text(&out.stderr)
    );
    let patch_text = text(&fs::read(&patch_path).expect("patch"));
    assert!(patch_text.contains("+++ b/started.txt"), "{patch_text}");
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_still_removes_the_scratch_tree() {
    interrupted_slow_run(2);
}
