//! The real binary headless: `--approval` (and the `approval` config key)
//! refuses what would need approval, full-auto by default; `--add-dir`
//! lets sandboxed commands write in a directory outside the workspace.

mod common;

use std::process::Output;

use common::Sandbox;
use common::completions::{ANSWER, script_file, tool_call};
use common::headless::json_lines;

/// glint run headless with `--json` on a script of these completions,
/// with `args` after.
fn run(sandbox: &Sandbox, completions: &[String], args: &[&str]) -> Output {
    let model = script_file(&sandbox.outside("approval-script.json"), completions);
    let mut all = vec!["--model", &model, "--task", "Do it.", "--json"];
    all.extend_from_slice(args);
    common::headless::run(sandbox, &all)
}

/// `(ok, output)` of each finished tool call.
fn tool_results(output: &Output) -> Vec<(bool, String)> {
    json_lines(&output.stdout)
        .into_iter()
        .filter(|event| event["type"] == "tool_call_finished")
        .map(|event| {
            (
                event["ok"].as_bool().unwrap_or(false),
                event["output"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Writes the workspace's `.glint/config.toml`.
fn project_config(sandbox: &Sandbox, text: &str) {
    std::fs::create_dir(sandbox.workspace().join(".glint")).unwrap();
    std::fs::write(sandbox.workspace().join(".glint/config.toml"), text).unwrap();
}

fn edit_and_commands() -> Vec<String> {
    vec![
        tool_call("write_file", &[("path", "a.txt"), ("content", "x\n")]),
        tool_call("shell", &[("command", "ls")]),
        tool_call("shell", &[("command", "mkdir made")]),
        ANSWER.into(),
    ]
}

#[test]
fn headless_runs_everything_by_default() {
    let sandbox = Sandbox::create();
    let output = run(&sandbox, &edit_and_commands(), &[]);
    assert!(output.status.success(), "{output:?}");
    let results = tool_results(&output);
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|(ok, _)| *ok), "{results:?}");
    assert!(sandbox.workspace().join("a.txt").exists());
    assert!(sandbox.workspace().join("made").is_dir());
}

#[test]
fn suggest_refuses_edits_and_unlisted_commands_saying_how_to_allow_them() {
    let sandbox = Sandbox::create();
    let output = run(&sandbox, &edit_and_commands(), &["--approval", "suggest"]);
    assert!(output.status.success(), "{output:?}");
    let results = tool_results(&output);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(!results[0].0);
    assert!(
        results[0].1.contains("cannot ask") && results[0].1.contains("--approval auto-edit"),
        "{}",
        results[0].1
    );
    assert!(results[1].0, "read-only `ls` runs: {}", results[1].1);
    assert!(!results[2].0);
    assert!(!sandbox.workspace().join("a.txt").exists());
    assert!(!sandbox.workspace().join("made").exists());
}

#[test]
fn auto_edit_from_the_config_file_applies_edits_and_refuses_other_commands() {
    let sandbox = Sandbox::create();
    project_config(&sandbox, "approval = \"auto-edit\"\n");
    let output = run(&sandbox, &edit_and_commands(), &[]);
    let results = tool_results(&output);
    assert_eq!(results.len(), 3, "{output:?}");
    assert!(results[0].0 && results[1].0, "{results:?}");
    assert!(!results[2].0);
    assert!(
        results[2].1.contains("--approval full-auto"),
        "{}",
        results[2].1
    );
    assert!(sandbox.workspace().join("a.txt").exists());
    assert!(!sandbox.workspace().join("made").exists());

    // A flag wins over the file.
    let output = run(&sandbox, &edit_and_commands(), &["--approval", "full-auto"]);
    assert!(tool_results(&output).iter().all(|(ok, _)| *ok));
    assert!(sandbox.workspace().join("made").is_dir());
}

#[test]
fn a_bad_policy_is_a_one_line_error() {
    let sandbox = Sandbox::create();
    project_config(&sandbox, "approval = \"sometimes\"\n");
    let output = run(&sandbox, &[ANSWER.into()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("`approval` must be one of"), "{stderr}");
}

#[test]
fn added_dirs_are_writable_in_the_sandbox_and_others_are_not() {
    let sandbox = Sandbox::create();
    // Outside the temporary directories, which the sandbox leaves writable.
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir in target/tmp");
    let base_path = std::fs::canonicalize(base.path()).unwrap();
    assert!(
        !base_path.starts_with("/tmp") && !base_path.starts_with(std::env::temp_dir()),
        "CARGO_TARGET_TMPDIR must lie outside the temporary directories: {}",
        base_path.display()
    );
    let added = base_path.join("added");
    let other = base_path.join("other");
    std::fs::create_dir(&added).unwrap();
    std::fs::create_dir(&other).unwrap();
    let write = |dir: &std::path::Path| {
        tool_call(
            "shell",
            &[(
                "command",
                &format!("echo hi > {}/f.txt && echo wrote", dir.display()),
            )],
        )
    };
    let completions = vec![write(&added), write(&other), ANSWER.into()];
    let added_arg = added.display().to_string();
    let output = run(&sandbox, &completions, &["--add-dir", &added_arg]);
    let results = tool_results(&output);
    assert_eq!(results.len(), 2, "{output:?}");
    assert!(
        results[0].1.contains("exit code 0") || results[0].1.contains("wrote"),
        "{}",
        results[0].1
    );
    assert_eq!(
        std::fs::read_to_string(added.join("f.txt")).unwrap(),
        "hi\n"
    );
    assert!(
        results[1].1.contains("Read-only file system"),
        "{}",
        results[1].1
    );
    assert!(!other.join("f.txt").exists());

    // The same from the config file.
    project_config(
        &sandbox,
        &format!(
            "[shell]\nwritable_roots = [{:?}]\n",
            other.display().to_string()
        ),
    );
    let output = run(&sandbox, &[write(&other), ANSWER.into()], &[]);
    assert!(tool_results(&output)[0].1.contains("wrote"), "{output:?}");
    assert!(other.join("f.txt").exists());
}

#[test]
fn a_missing_added_dir_is_a_one_line_error_at_start() {
    let sandbox = Sandbox::create();
    let missing = sandbox.outside("missing").display().to_string();
    let output = run(&sandbox, &[ANSWER.into()], &["--add-dir", &missing]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no such directory"), "{stderr}");
}
