//! The real `glint` binary in a pseudo-terminal, its output parsed by a
//! vt100 emulator: type a task and see the answer, switch models, cancel a
//! long turn with Esc, quit, and find the terminal back in its normal mode.

mod common;

use std::time::Duration;

use common::pty::{Pty, PtyOptions, last_index};
use common::{model_arg, script};

#[test]
fn type_a_task_cancel_a_long_turn_and_quit_cleanly() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let answer = model_arg("tui_answer.json");
    let mut pty = Pty::spawn(&["--model", &answer], workspace.path(), home.path());

    pty.wait_for("ready");
    pty.enter_line("what is the answer?");
    pty.wait_for("The answer is forty-two.");
    pty.wait_for("let answer = 42;");
    // The collapsed reasoning sits above the answer.
    pty.wait_for("thought: The user wants the answer.");

    // Switch to a slow model; the conversation carries over.
    pty.enter_line(&format!("/model {}", model_arg("tui_slow.json")));
    pty.wait_for("switching to");
    pty.wait_for("ready");
    pty.enter_line("count slowly");
    pty.wait_for("generating");
    pty.wait_for("number-3");
    pty.send(b"\x1b");
    pty.wait_for("interrupted");
    assert!(
        !pty.everything().contains("number-399"),
        "the turn ran to its end despite Esc"
    );

    // Ctrl-D on the empty composer quits.
    pty.send(b"\x04");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");

    let screen = pty.terminal();
    assert!(!screen.alternate_screen(), "left in the alternate screen");
    assert!(!screen.hide_cursor(), "the cursor is still hidden");
    assert!(pty.cooked(), "raw mode is still on");
    let raw = pty.raw();
    let paste_on = last_index(&raw, b"\x1b[?2004h").expect("bracketed paste was enabled");
    let paste_off = last_index(&raw, b"\x1b[?2004l").expect("bracketed paste was never disabled");
    assert!(paste_off > paste_on, "bracketed paste left on");
    // The transcript stays in the terminal after glint exits.
    assert!(pty.everything().contains("The answer is forty-two."));
}

#[test]
fn ctrl_c_twice_quits_and_restores_the_terminal() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let answer = model_arg("tui_answer.json");
    let mut pty = Pty::spawn(&["--model", &answer], workspace.path(), home.path());
    pty.wait_for("ready");
    pty.type_text("half a thought");
    pty.send(b"\x03");
    pty.wait_for("Ctrl-C again to quit");
    pty.send(b"\x03");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(pty.cooked(), "raw mode is still on");
    assert!(!pty.terminal().hide_cursor());
}

/// mistralrs logs and draws progress bars on its own while a model loads;
/// under the app none of it may reach the screen.
#[test]
fn a_local_model_loads_without_its_output_reaching_the_screen() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let checkpoint = home.path().join("tiny-glm");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_glint"))
        .args(["dev", "tiny-glm"])
        .arg(&checkpoint)
        .args(["--layers", "2"])
        .status()
        .unwrap();
    assert!(status.success());
    let model = checkpoint.display().to_string();
    let mut pty = Pty::spawn(
        &["--model", &model, "--device", "cpu", "--max-tokens", "4"],
        workspace.path(),
        home.path(),
    );
    // The status line shows the engine's own description once it is ready.
    pty.wait_until("the model to load", Duration::from_secs(120), |pty| {
        pty.screen().contains("ready")
    });
    pty.send(b"\x04");
    assert!(pty.wait_exit().success());
    let everything = pty.everything();
    let log = std::fs::read_to_string(home.path().join("glint.log")).unwrap_or_default();
    assert!(
        log.contains("mistralrs"),
        "mistralrs logged nothing, so this test shows nothing:\n{log}"
    );
    for noise in ["INFO", "WARN", "mistralrs", "Loading", "%|"] {
        assert!(
            !everything.contains(noise),
            "`{noise}` reached the screen:\n{everything}"
        );
    }
}

/// The notes file the review tests start from; the scripted model
/// (tests/scripts/review_two_hunks.json) changes its second and last lines.
const ORIGINAL_NOTES: &str =
    "# Notes\nalpha\nbeta\ngamma\ndelta\nepsilon\nzeta\neta\ntheta\niota\nkappa\nlambda\n";

/// glint under `--approval suggest` with the review open on the scripted
/// model's two-hunk write to notes.txt.
struct ReviewRun {
    pty: Pty,
    notes: std::path::PathBuf,
    log: std::path::PathBuf,
    _workspace: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl ReviewRun {
    fn start(env: &[(&str, &str)]) -> ReviewRun {
        let workspace = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let notes = workspace.path().join("notes.txt");
        std::fs::write(&notes, ORIGINAL_NOTES).unwrap();
        // The script, with a prompt log of this test's own.
        let source = script("review_two_hunks.json");
        let mut body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
        let log = home.path().join("prompts.jsonl");
        body["prompt_log"] = serde_json::Value::String(log.display().to_string());
        let copy = home.path().join("review_two_hunks.json");
        std::fs::write(&copy, body.to_string()).unwrap();
        let model = format!("script:{}", copy.display());
        let pty = Pty::spawn_with(
            &["--model", &model, "--approval", "suggest"],
            workspace.path(),
            home.path(),
            PtyOptions {
                env,
                ..PtyOptions::default()
            },
        );
        pty.wait_for("ready");
        pty.enter_line("tidy the notes");
        pty.wait_for("review write_file");
        pty.wait_for("hunk 1 of 2  ○ pending");
        assert!(
            pty.terminal().alternate_screen(),
            "the review is not full-screen"
        );
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), ORIGINAL_NOTES);
        ReviewRun {
            pty,
            notes,
            log,
            _workspace: workspace,
            _home: home,
        }
    }

    fn notes(&self) -> String {
        std::fs::read_to_string(&self.notes).unwrap()
    }

    /// Every prompt the model was sent, in order.
    fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Review before apply, end to end: under `--approval suggest` the scripted
/// model proposes a two-hunk write; rejecting the first hunk and accepting
/// the second writes only the second, the model's next prompt says the
/// first was rejected, and `/undo` puts the original back.
#[test]
fn review_rejects_one_hunk_applies_the_other_and_undo_restores() {
    let mut review = ReviewRun::start(&[]);
    // n rejects hunk 1 and moves on to hunk 2, which y accepts.
    review.pty.send(b"n");
    review.pty.wait_for("hunk 1 of 2  ✗ rejected");
    review.pty.send(b"y");
    review.pty.wait_for("every hunk is decided");
    review.pty.send(b"\r");
    review.pty.wait_for("the first change was not wanted");
    assert_eq!(
        review.notes(),
        ORIGINAL_NOTES.replace("lambda", "LAMBDA (second hunk)"),
        "the file does not hold exactly the accepted hunk"
    );
    let prompts = review.prompts();
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    let told = &prompts[1];
    assert!(
        told.contains("hunk 2 of 2 applied, hunk 1 of 2 rejected"),
        "the model was not told which hunk was rejected:\n{told}"
    );
    assert!(told.contains("ALPHA (first hunk)"), "{told}");

    review.pty.enter_line("/undo");
    review.pty.wait_for("undid:");
    assert_eq!(review.notes(), ORIGINAL_NOTES);

    review.pty.send(b"\x04");
    assert!(review.pty.wait_exit().success());
    assert!(review.pty.cooked(), "raw mode is still on");
}

/// `e` hands the terminal to `$VISUAL` (here a non-interactive `sed`) and
/// takes it back: the view shows the user's version, keys still reach it,
/// and what is applied is the user's text.
#[test]
fn review_edits_the_proposal_in_the_users_editor() {
    let mut review = ReviewRun::start(&[("VISUAL", "sed -i s/ALPHA/Alpha/"), ("EDITOR", "false")]);
    review.pty.send(b"e");
    review.pty.wait_for("(edited by you)");
    review.pty.wait_for("Alpha (first hunk)");
    assert!(
        review.pty.terminal().alternate_screen(),
        "the review did not come back full-screen after the editor"
    );
    // The edit comes back accepted whole; Enter sends it.
    review.pty.send(b"\r");
    review.pty.wait_for("the first change was not wanted");
    assert_eq!(
        review.notes(),
        ORIGINAL_NOTES
            .replace("alpha", "Alpha (first hunk)")
            .replace("lambda", "LAMBDA (second hunk)")
    );
    let prompts = review.prompts();
    assert!(
        prompts[1].contains("edited your proposal") && prompts[1].contains("+Alpha (first hunk)"),
        "the model was not told of the user's edit:\n{}",
        prompts[1]
    );
    review.pty.send(b"\x04");
    assert!(review.pty.wait_exit().success());
    assert!(review.pty.cooked(), "raw mode is still on");
}
