//! `--paged-attn`: parsed as a run flag and by the dev commands, and `on`
//! with the CPU refused at once in one line (PagedAttention does not exist
//! there), before any model is looked for.

mod common;

/// Runs glint with `args` in a throwaway directory: exit code and stderr.
fn glint(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = common::glint(dir.path())
        .args(args)
        .output()
        .expect("glint runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_refused(args: &[&str]) {
    let (code, stderr) = glint(args);
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains("--paged-attn on: PagedAttention does not exist on the CPU"),
        "{args:?}: {stderr}"
    );
}

#[test]
fn on_with_the_cpu_is_refused_by_a_run_and_every_dev_command() {
    assert_refused(&[
        "--model",
        "no-such-model-dir",
        "--device",
        "cpu",
        "--paged-attn",
        "on",
        "--task",
        "hello",
    ]);
    assert_refused(&[
        "dev",
        "cache-check",
        "no-such-model-dir",
        "--device",
        "cpu",
        "--paged-attn",
        "on",
    ]);
    assert_refused(&[
        "dev",
        "logits",
        "no-such-model-dir",
        "--device",
        "cpu",
        "--paged-attn",
        "on",
        "--ids",
        "ids.txt",
        "--out",
        "run",
    ]);
}

#[test]
fn an_unknown_choice_names_the_valid_ones() {
    let (code, stderr) = glint(&["--paged-attn", "sometimes", "--task", "hello"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("[possible values: auto, on, off]"),
        "{stderr}"
    );
}
