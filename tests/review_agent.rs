//! Review before apply through the agent core (scripted model, `suggest`
//! policy, a test front end answering the events): a write or edit is
//! shown as a proposal and applied as the user decided (all, some hunks,
//! the user's edited text, nothing), the model's next prompt says exactly
//! what happened, a file changed during the review is never overwritten,
//! and the partial write is a checkpoint that names the model's call.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use glint::agent::{AgentConfig, Event, RunStatus};
use glint::approval::{ApprovalPolicy, Approvals, Decision};
use glint::checkpoint::Checkpoints;
use glint::review::{FileVerdict, ReviewAnswer};
use glint::tools::ToolRegistry;

use common::agent_harness::{ScriptedRun, agent_config, run_answering, scripted};
use common::completions::{ANSWER, tool_call};
use common::tool_results;

/// `line 1` to `line 20`, one per line.
fn twenty_lines() -> String {
    (1..=20).map(|i| format!("line {i}\n")).collect()
}

/// A workspace (canonical path) in a temporary directory, with a sibling
/// directory for the checkpoint shadow repository.
struct Setup {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    shadow: PathBuf,
}

impl Setup {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = fs::canonicalize(dir.path()).expect("canonical temp dir");
        let ws = base.join("ws");
        let shadow = base.join("shadow");
        fs::create_dir(&ws).expect("mkdir ws");
        for (name, content) in files {
            fs::write(ws.join(name), content).expect("write a workspace file");
        }
        Setup {
            _dir: dir,
            ws,
            shadow,
        }
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.ws.join(name)).expect("read a workspace file")
    }
}

/// The only tool result, as (ok, output).
fn only_result(run: &ScriptedRun) -> (bool, String) {
    let results = run.results();
    assert_eq!(results.len(), 1, "{results:?}");
    results[0].clone()
}

/// The prompt after the reviewed call: what the model saw of it.
fn next_prompt(run: &ScriptedRun) -> &str {
    assert_eq!(run.prompts.len(), 2, "one prompt per turn");
    &run.prompts[1]
}

/// Runs the script under `suggest` with a front end that answers every
/// request (review or yes/no) with `answer`, or cancels the run where it
/// gives `None`.
async fn drive(
    completions: Vec<String>,
    setup: &Setup,
    tools: ToolRegistry,
    answer: impl FnMut(&Event) -> Option<Decision>,
) -> ScriptedRun {
    let model = scripted("review", completions, 7);
    let config = AgentConfig {
        tools: Arc::new(tools),
        approval: Approvals::new(ApprovalPolicy::Suggest, true),
        ..agent_config(model.clone(), &setup.ws)
    };
    run_answering(&model, config, "Do the task.", answer).await
}

/// [`drive`] of one call then the answer, with the built-in tools.
async fn review_call(
    call: String,
    setup: &Setup,
    answer: impl FnMut(&Event) -> Option<Decision>,
) -> ScriptedRun {
    drive(
        vec![call, ANSWER.into()],
        setup,
        ToolRegistry::builtin(),
        answer,
    )
    .await
}

/// notes.txt before the model's edit.
const NOTES: &str = "Project notes\nThe launch code is 4242.\n";

/// edit_file of notes.txt: the launch code 4242 becomes 1234.
fn edit_launch_code() -> String {
    tool_call(
        "edit_file",
        &[
            ("path", "notes.txt"),
            ("old_string", "4242"),
            ("new_string", "1234"),
        ],
    )
}

fn review(verdict: FileVerdict, note: &str) -> Option<Decision> {
    Some(Decision::Review(ReviewAnswer {
        files: vec![verdict],
        note: note.into(),
    }))
}

/// Only review requests are expected; answers them with `decision`.
fn reviews(decision: Option<Decision>) -> impl FnMut(&Event) -> Option<Decision> {
    move |event| match event {
        Event::ReviewRequested { .. } => decision.clone(),
        other => panic!("expected a review request, got {other:?}"),
    }
}

/// write_file of `twenty_lines()` with lines 2 and 18 changed: two hunks.
fn two_hunk_write() -> (String, String) {
    let proposed = twenty_lines()
        .replace("line 2\n", "line two\n")
        .replace("line 18\n", "line eighteen\n");
    (
        tool_call(
            "write_file",
            &[("path", "list.txt"), ("content", &proposed)],
        ),
        proposed,
    )
}

#[tokio::test]
async fn accepting_one_hunk_and_rejecting_the_other_applies_only_the_first_and_says_so() {
    let setup = Setup::new(&[("list.txt", &twenty_lines())]);
    let (write, proposed) = two_hunk_write();
    let run = review_call(
        write,
        &setup,
        reviews(review(
            FileVerdict::Hunks(vec![true, false]),
            "keep line 18 as it is",
        )),
    )
    .await;

    // The review showed the whole proposal, with nothing written yet.
    let proposals = run.proposals();
    assert_eq!(proposals.len(), 1);
    let file = &proposals[0].files[0];
    assert_eq!(file.path, "list.txt");
    assert_eq!(file.before.as_deref(), Some(twenty_lines().as_str()));
    assert_eq!(file.after, proposed);
    assert_eq!(file.hunks().len(), 2);

    // Only the accepted hunk reached the file.
    assert_eq!(
        setup.read("list.txt"),
        twenty_lines().replace("line 2\n", "line two\n")
    );

    let (ok, output) = only_result(&run);
    assert!(ok, "{output}");
    let prompt = next_prompt(&run);
    for expected in [
        "applied only part of it to `list.txt`: hunk 1 of 2 applied, hunk 2 of 2 rejected",
        "hunk 1 @@ -1,5 +1,5 @@",
        "hunk 2 @@ -15,6 +15,6 @@",
        "-line 18\n+line eighteen",
        "2\tline two",
        "18\tline 18",
        "The user's note: keep line 18 as it is",
    ] {
        assert!(
            output.contains(expected),
            "result lacks {expected:?}:\n{output}"
        );
        assert!(
            prompt.contains(expected),
            "prompt lacks {expected:?}:\n{prompt}"
        );
    }
    // The accepted hunk is not described as rejected.
    assert!(!output.contains("-line 2\n"), "{output}");
    // The whole result, as the model reads it.
    insta::assert_snapshot!("partial_result", output);
    assert_eq!(run.status(), RunStatus::Completed);
}

#[tokio::test]
async fn an_edited_proposal_is_written_as_the_user_wrote_it_and_the_model_sees_the_difference() {
    let setup = Setup::new(&[("notes.txt", NOTES)]);
    let edit = edit_launch_code();
    let users = "Project notes\nThe launch code is 9999.\nRotate it monthly.\n";
    let run = review_call(
        edit,
        &setup,
        reviews(review(FileVerdict::Edited(users.into()), "")),
    )
    .await;
    // edit_file's own replacement made the proposal.
    assert_eq!(
        run.proposals()[0].files[0].after,
        "Project notes\nThe launch code is 1234.\n"
    );
    assert_eq!(setup.read("notes.txt"), users);
    let (ok, output) = only_result(&run);
    assert!(ok, "{output}");
    let prompt = next_prompt(&run);
    for expected in [
        "edited your proposal before applying it",
        "-The launch code is 1234.\n+The launch code is 9999.\n+Rotate it monthly.",
    ] {
        assert!(
            output.contains(expected),
            "result lacks {expected:?}:\n{output}"
        );
        assert!(
            prompt.contains(expected),
            "prompt lacks {expected:?}:\n{prompt}"
        );
    }
    insta::assert_snapshot!("edited_result", output);
}

#[tokio::test]
async fn rejecting_everything_writes_nothing_and_passes_the_note() {
    let setup = Setup::new(&[("list.txt", &twenty_lines())]);
    let (write, _) = two_hunk_write();
    let run = review_call(
        write,
        &setup,
        reviews(Some(Decision::Deny {
            note: "no changes to the list today".into(),
        })),
    )
    .await;
    assert_eq!(setup.read("list.txt"), twenty_lines());
    let (ok, output) = only_result(&run);
    assert!(!ok);
    assert!(output.contains("rejected all of it"), "{output}");
    assert!(
        next_prompt(&run).contains("The user's note: no changes to the list today"),
        "{}",
        next_prompt(&run)
    );

    // Rejecting every hunk is the same, and without a note the model is
    // told not to retry as is.
    let (write, _) = two_hunk_write();
    let run = review_call(
        write,
        &setup,
        reviews(review(FileVerdict::Hunks(vec![false, false]), "")),
    )
    .await;
    assert_eq!(setup.read("list.txt"), twenty_lines());
    let (ok, output) = only_result(&run);
    assert!(!ok);
    assert!(output.contains("rejected all of it"), "{output}");
    assert!(output.contains("Do not retry it as is"), "{output}");
}

#[tokio::test]
async fn accepting_everything_runs_the_call_as_the_model_gave_it() {
    let setup = Setup::new(&[("notes.txt", NOTES)]);
    let edit = edit_launch_code();
    let run = review_call(edit.clone(), &setup, reviews(Some(Decision::Once))).await;
    assert_eq!(
        setup.read("notes.txt"),
        "Project notes\nThe launch code is 1234.\n"
    );
    let (ok, output) = only_result(&run);
    assert!(ok && output.starts_with("Edited notes.txt"), "{output}");

    // Every hunk accepted, with a note: the tool's result plus the note.
    fs::write(setup.ws.join("notes.txt"), NOTES).expect("reset notes");
    let run = review_call(
        edit,
        &setup,
        reviews(review(FileVerdict::Hunks(vec![true]), "thanks")),
    )
    .await;
    let (ok, output) = only_result(&run);
    assert!(ok && output.starts_with("Edited notes.txt"), "{output}");
    assert!(output.ends_with("The user's note: thanks"), "{output}");
}

#[tokio::test]
async fn a_file_changed_during_the_review_is_not_overwritten() {
    let setup = Setup::new(&[("list.txt", &twenty_lines())]);
    let users = "the user's own text\n";
    for decision in [
        Decision::Once,
        Decision::Review(ReviewAnswer {
            files: vec![FileVerdict::Hunks(vec![false, true])],
            note: String::new(),
        }),
        Decision::Review(ReviewAnswer {
            files: vec![FileVerdict::Edited("edited\n".into())],
            note: String::new(),
        }),
    ] {
        fs::write(setup.ws.join("list.txt"), twenty_lines()).expect("reset");
        let (write, _) = two_hunk_write();
        let list = setup.ws.join("list.txt");
        let run = review_call(write, &setup, {
            let decision = decision.clone();
            move |_| {
                // The user saves the file while the review is open.
                fs::write(&list, users).expect("the user's write");
                Some(decision.clone())
            }
        })
        .await;
        assert_eq!(setup.read("list.txt"), users, "after {decision:?}");
        let (ok, output) = only_result(&run);
        assert!(!ok);
        assert!(
            output.contains("`list.txt` changed on disk while the user was reviewing"),
            "{output}"
        );
    }

    // A new file the user created meanwhile is not overwritten either.
    let create = tool_call("write_file", &[("path", "new.txt"), ("content", "model\n")]);
    let path = setup.ws.join("new.txt");
    let run = review_call(create, &setup, move |_| {
        fs::write(&path, "user\n").expect("the user's new file");
        Some(Decision::Once)
    })
    .await;
    assert_eq!(setup.read("new.txt"), "user\n");
    assert!(!only_result(&run).0);
}

#[tokio::test]
async fn calls_without_a_proposal_are_not_reviewed() {
    let setup = Setup::new(&[("notes.txt", "Project notes\n")]);
    fs::write(setup.ws.join("blob.bin"), b"\x00\x01binary").expect("binary file");
    let locked = setup.ws.join("locked.txt");
    fs::write(&locked, "locked\n").expect("locked file");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).expect("chmod");
    let script = vec![
        // Fails by itself: the model gets edit_file's own error.
        tool_call(
            "edit_file",
            &[
                ("path", "notes.txt"),
                ("old_string", "no such text"),
                ("new_string", "x"),
            ],
        ),
        // Writes the same content: nothing to review.
        tool_call(
            "write_file",
            &[("path", "notes.txt"), ("content", "Project notes\n")],
        ),
        // A file protected from writing: write_file refuses it.
        tool_call(
            "write_file",
            &[("path", "locked.txt"), ("content", "changed\n")],
        ),
        // A binary file cannot be shown as text: asked yes or no.
        tool_call(
            "write_file",
            &[("path", "blob.bin"), ("content", "text now\n")],
        ),
        ANSWER.into(),
    ];
    let run = drive(
        script,
        &setup,
        ToolRegistry::builtin(),
        |event| match event {
            Event::ApprovalRequested { tool, .. } if tool == "write_file" => Some(Decision::Deny {
                note: String::new(),
            }),
            other => panic!("only the binary write asks, not {other:?}"),
        },
    )
    .await;
    assert!(run.proposals().is_empty());
    assert_eq!(run.approval_requests().len(), 1);
    let results = tool_results(&run.events);
    assert!(!results[0].1);
    assert!(results[0].2.contains("old_string"), "{}", results[0].2);
    assert!(results[1].1, "{}", results[1].2);
    assert!(!results[2].1);
    assert!(results[2].2.contains("read-only"), "{}", results[2].2);
    assert_eq!(setup.read("locked.txt"), "locked\n");
    assert!(!results[3].1);
    assert_eq!(
        fs::read(setup.ws.join("blob.bin")).expect("blob"),
        b"\x00\x01binary"
    );
}

#[tokio::test]
async fn cancelling_during_the_review_writes_nothing() {
    let setup = Setup::new(&[("list.txt", &twenty_lines())]);
    let (write, _) = two_hunk_write();
    let run = review_call(write, &setup, reviews(None)).await;
    assert_eq!(run.status(), RunStatus::Interrupted);
    assert_eq!(setup.read("list.txt"), twenty_lines());
    let (ok, output) = only_result(&run);
    assert!(!ok && output.contains("Cancelled"), "{output}");
}

#[tokio::test]
async fn a_partial_apply_is_a_checkpoint_naming_the_call_and_undo_restores_the_file() {
    let setup = Setup::new(&[("list.txt", &twenty_lines())]);
    // Where `glint checkpoints` looks with XDG_DATA_HOME at `setup.shadow`.
    let shadow_base = setup.shadow.join("glint/shadow");
    let store = Arc::new(
        Checkpoints::new_session(&setup.ws, Some(&shadow_base)).expect("checkpoint store"),
    );
    let mut tools = ToolRegistry::builtin();
    tools.set_checkpoints(store.clone());
    let (write, _) = two_hunk_write();
    drive(
        vec![write, ANSWER.into()],
        &setup,
        tools,
        reviews(review(FileVerdict::Hunks(vec![false, true]), "")),
    )
    .await;
    assert_eq!(
        setup.read("list.txt"),
        twenty_lines().replace("line 18\n", "line eighteen\n")
    );
    let checkpoints = store.list().expect("list checkpoints");
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    assert_eq!(checkpoints[0].meta.call_id.as_deref(), Some("call_1"));
    let listing = common::glint(&setup.ws)
        .env("XDG_DATA_HOME", &setup.shadow)
        .arg("checkpoints")
        .output()
        .expect("run glint checkpoints");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("write_file list.txt (modified) [call_1]"),
        "{listing}"
    );
    let report = store.undo(1, false).expect("undo");
    assert!(
        report
            .note_for_model()
            .contains("- write_file call call_1 (list.txt: overwrote"),
        "{}",
        report.note_for_model()
    );
    assert_eq!(setup.read("list.txt"), twenty_lines());
    assert_no_temp_files(&setup.ws);
}

/// No `.glint-write-*` temporary file is left behind.
fn assert_no_temp_files(dir: &Path) {
    for entry in fs::read_dir(dir).expect("list the workspace") {
        let name = entry.expect("entry").file_name();
        assert!(
            !name.to_string_lossy().starts_with(".glint-write-"),
            "{name:?} left behind"
        );
    }
}
