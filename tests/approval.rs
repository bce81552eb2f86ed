//! Approval policies through the agent core (scripted model): what each
//! policy runs, asks about and refuses; the Op::Approve round trip (run
//! once, always allow a prefix, deny with a note, cancel while waiting);
//! the read-only allowlist's tricky cases; the app's approval prompt.

mod common;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use glint::agent::{AgentConfig, Event, RunStatus};
use glint::approval::{ApprovalPolicy, Approvals, Decision, is_allowed, is_read_only};
use glint::tui::theme::Theme;
use glint::tui::{Effect, draw_main};

use common::Sandbox;
use common::agent_harness::{ScriptedRun, agent_config, run_answering, scripted};
use common::completions::{ANSWER, tool_call};
use common::screen::{app, buffer_text, inline_terminal, tool_call_started};

fn shell(command: &str) -> String {
    tool_call("shell", &[("command", command)])
}

/// Runs the script to its end, answering each request with `answer`
/// given its summary (`None`: cancel the run instead).
async fn drive(
    completions: Vec<String>,
    approvals: &Approvals,
    sandbox: &Sandbox,
    mut answer: impl FnMut(&str) -> Option<Decision>,
) -> ScriptedRun {
    let model = scripted("approval", completions, 7);
    let config = AgentConfig {
        approval: approvals.clone(),
        ..agent_config(model.clone(), &sandbox.workspace())
    };
    run_answering(&model, config, "Do the task.", |event| {
        // An edit under `suggest` is reviewed; the answer gets its paths.
        let summary = match event {
            Event::ApprovalRequested { summary, .. } => summary.clone(),
            Event::ReviewRequested { proposal, .. } => {
                let paths: Vec<&str> = proposal.files.iter().map(|f| f.path.as_str()).collect();
                paths.join(", ")
            }
            other => panic!("answered an event that asks nothing: {other:?}"),
        };
        answer(&summary)
    })
    .await
}

/// Every tool call ran and succeeded.
fn assert_every_call_ok(run: &ScriptedRun) {
    assert!(
        run.results().iter().all(|(ok, _)| *ok),
        "{:?}",
        run.results()
    );
}

/// `write_call("a.txt")` and `shell("mkdir made")` both took effect.
fn assert_wrote_and_made(sandbox: &Sandbox) {
    assert!(sandbox.workspace().join("a.txt").exists());
    assert!(sandbox.workspace().join("made").is_dir());
}

fn never(summary: &str) -> Option<Decision> {
    panic!("nothing should ask, but `{summary}` did")
}

fn write_call(path: &str) -> String {
    tool_call("write_file", &[("path", path), ("content", "new text\n")])
}

#[test]
fn the_allowlist_tells_read_only_commands_from_the_rest() {
    let read_only = [
        "ls -la",
        "cat notes.txt",
        "head -5 notes.txt",
        "wc -l < notes.txt",
        "pwd",
        "echo 'a; b && c'",
        "echo '$(rm x)'",
        "git status",
        "git diff HEAD~1 -- src",
        "git log --oneline -5",
        "git show HEAD:notes.txt",
        "grep -rn launch . | head -20",
        "rg foo | wc -l",
        "grep x 2>/dev/null | head",
        "ls >/dev/null 2>&1",
        "find . -name '*.rs' -type f",
        "find src -name x -print",
        "sort notes.txt | uniq -c",
        "l\"s\" src",
    ];
    for command in read_only {
        assert!(is_read_only(command), "should be read-only: {command}");
    }
    let not_read_only = [
        "ls; rm x",
        "ls;rm x",
        "cat a > b",
        "cat a >> b",
        "cat a &> b",
        "cat a 2> err.txt",
        "git status && rm -rf .",
        "ls || rm x",
        "ls & rm x",
        "ls\nrm x",
        "find . -delete",
        "find . -name x -exec rm {} ;",
        "find . -execdir rm {} +",
        "find . -fprint out.txt",
        "find . -ok rm {} ;",
        "find . *",
        "echo $(rm x)",
        "echo \"$(rm x)\"",
        "echo `rm x`",
        "echo $HOME",
        "cat <(rm x)",
        "grep x | sh",
        "grep x | xargs rm",
        "cat notes.txt | tee copy.txt",
        "echo 'unclosed",
        "echo \"unclosed",
        "\"ls;rm\" x",
        "l's';rm x",
        "ls \\; ; rm x",
        "sort -o out.txt notes.txt",
        "sort --outp=out.txt notes.txt",
        "uniq in.txt out.txt",
        "git diff --output=x.txt",
        "git diff --outp=x.txt",
        "git log --ext-diff",
        "git -c core.pager=sh log",
        "GIT_EXTERNAL_DIFF=sh git diff",
        "git commit -m x",
        "git checkout .",
        "rg --pre sh x",
        "rm -rf x",
        "touch x",
        "cargo test",
        "(ls)",
        "ls {a,b}",
        "cat <<EOF",
        "",
    ];
    for command in not_read_only {
        assert!(!is_read_only(command), "should not be read-only: {command}");
    }
}

#[test]
fn allowed_prefixes_never_cover_a_second_command() {
    let allowed = vec![vec!["cargo".to_string(), "test".to_string()]];
    assert!(is_allowed("cargo test --release", &allowed));
    assert!(is_allowed("cargo test 2>&1 | tail -20", &allowed));
    for command in [
        "cargo test; rm -rf .",
        "cargo test && rm -rf .",
        "cargo test $(rm x)",
        "cargo test | sh",
        "cargo test > log.txt",
        "cargo build",
        "cargo testx",
    ] {
        assert!(!is_allowed(command, &allowed), "{command}");
    }
}

#[tokio::test]
async fn full_auto_runs_everything_without_asking() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::FullAuto, true);
    let script = vec![write_call("a.txt"), shell("mkdir made"), ANSWER.into()];
    let run = drive(script, &approvals, &sandbox, never).await;
    assert!(run.approval_requests().is_empty());
    assert_every_call_ok(&run);
    assert_wrote_and_made(&sandbox);
}

#[tokio::test]
async fn auto_edit_applies_edits_runs_read_only_commands_and_asks_about_the_rest() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::AutoEdit, true);
    let script = vec![
        write_call("a.txt"),
        shell("cat notes.txt | head -1"),
        shell("mkdir made"),
        ANSWER.into(),
    ];
    let run = drive(script, &approvals, &sandbox, |_| Some(Decision::Once)).await;
    let requests = run.approval_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].0, "mkdir made");
    assert_eq!(requests[0].1.as_deref(), Some("mkdir made"));
    assert_every_call_ok(&run);
    assert_wrote_and_made(&sandbox);
}

#[tokio::test]
async fn suggest_asks_about_every_edit_and_every_command_showing_the_diff() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::Suggest, true);
    let script = vec![
        tool_call(
            "edit_file",
            &[
                ("path", "notes.txt"),
                ("old_string", "4242"),
                ("new_string", "1234"),
            ],
        ),
        shell("ls"),
        ANSWER.into(),
    ];
    let run = drive(script, &approvals, &sandbox, |_| Some(Decision::Once)).await;
    // The edit is reviewed (its proposal holds the change), the command
    // asked about.
    let reviewed: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ReviewRequested { proposal, .. } => Some(proposal.files[0].after.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reviewed.len(), 1, "{reviewed:?}");
    assert!(reviewed[0].contains("is 1234."), "{}", reviewed[0]);
    let requests = run.approval_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].0, "ls");
    let notes = std::fs::read_to_string(sandbox.workspace().join("notes.txt")).unwrap();
    assert!(notes.contains("1234"), "approved edit applied: {notes}");
}

#[tokio::test]
async fn always_allowing_a_prefix_runs_the_next_matching_command_unasked() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::AutoEdit, true);
    let script = vec![
        shell("mkdir -p one"),
        shell("mkdir -p two"),
        shell("touch other"),
        ANSWER.into(),
    ];
    let run = drive(script, &approvals, &sandbox, |summary| {
        Some(if summary.starts_with("mkdir") {
            Decision::AlwaysPrefix
        } else {
            Decision::Deny {
                note: String::new(),
            }
        })
    })
    .await;
    let requests = run.approval_requests();
    // `mkdir -p two` ran without a request; `touch` is not covered.
    assert_eq!(
        requests,
        [
            ("mkdir -p one".to_string(), Some("mkdir".to_string())),
            ("touch other".to_string(), Some("touch other".to_string()))
        ]
    );
    assert!(sandbox.workspace().join("one").is_dir());
    assert!(sandbox.workspace().join("two").is_dir());
    assert!(!sandbox.workspace().join("other").exists());
    assert_eq!(approvals.allowed_prefixes(), ["mkdir"]);
}

#[tokio::test]
async fn a_denial_with_a_note_reaches_the_model_and_nothing_runs() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::AutoEdit, true);
    let script = vec![shell("rm notes.txt"), ANSWER.into()];
    let run = drive(script, &approvals, &sandbox, |_| {
        Some(Decision::Deny {
            note: "keep the notes, archive them instead".into(),
        })
    })
    .await;
    let results = run.results();
    assert_eq!(results.len(), 1);
    assert!(!results[0].0);
    assert!(
        results[0]
            .1
            .contains("denied this shell call; it did not run. The user's note: keep the notes, archive them instead"),
        "{}",
        results[0].1
    );
    assert!(sandbox.workspace().join("notes.txt").exists());
    let last = run.prompts.last().expect("a second prompt");
    assert!(
        last.contains("keep the notes, archive them instead"),
        "{last}"
    );
    assert_eq!(run.status(), RunStatus::Completed);
}

#[tokio::test]
async fn cancelling_while_waiting_denies_and_interrupts() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::Suggest, true);
    let script = vec![write_call("a.txt"), ANSWER.into()];
    let run = drive(script, &approvals, &sandbox, |_| None).await;
    assert_eq!(run.status(), RunStatus::Interrupted);
    let results = run.results();
    assert_eq!(results.len(), 1);
    assert!(!results[0].0);
    assert!(results[0].1.contains("Cancelled"), "{}", results[0].1);
    assert!(!sandbox.workspace().join("a.txt").exists());
}

#[tokio::test]
async fn without_a_front_end_to_ask_what_needs_approval_is_refused() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::Suggest, false);
    let script = vec![
        write_call("a.txt"),
        shell("ls"),
        shell("mkdir made"),
        ANSWER.into(),
    ];
    let run = drive(script, &approvals, &sandbox, never).await;
    let results = run.results();
    assert!(!results[0].0);
    assert!(
        results[0].1.contains("approval policy is `suggest`")
            && results[0].1.contains("--approval auto-edit"),
        "{}",
        results[0].1
    );
    assert!(results[1].0, "read-only commands run: {}", results[1].1);
    assert!(!results[2].0);
    assert!(!sandbox.workspace().join("a.txt").exists());
    assert!(!sandbox.workspace().join("made").exists());

    let approvals = Approvals::new(ApprovalPolicy::AutoEdit, false);
    let script = vec![write_call("a.txt"), shell("mkdir made"), ANSWER.into()];
    let run = drive(script, &approvals, &sandbox, never).await;
    let results = run.results();
    assert!(results[0].0, "{}", results[0].1);
    assert!(!results[1].0);
    assert!(
        results[1].1.contains("--approval full-auto"),
        "{}",
        results[1].1
    );
    assert!(!sandbox.workspace().join("made").exists());
}

#[tokio::test]
async fn switching_the_policy_applies_from_the_next_call() {
    let sandbox = Sandbox::create();
    let approvals = Approvals::new(ApprovalPolicy::Suggest, true);
    let switch = approvals.clone();
    let script = vec![shell("mkdir one"), shell("mkdir two"), ANSWER.into()];
    let run = drive(script, &approvals, &sandbox, move |_| {
        switch.set_policy(ApprovalPolicy::FullAuto);
        Some(Decision::Once)
    })
    .await;
    assert_eq!(run.approval_requests().len(), 1);
    assert!(sandbox.workspace().join("two").is_dir());
}

/// The app's screen with a shell command waiting for approval.
#[test]
fn the_shell_approval_prompt() {
    let workspace = tempfile::tempdir().unwrap();
    let mut app = app(workspace.path(), "script:approval.json", Theme::plain());
    let approvals = Approvals::new(ApprovalPolicy::AutoEdit, true);
    app.set_approvals(approvals.clone());
    app.on_model_ready("script:approval.json".into(), Some(8192));
    let mut terminal = inline_terminal(80, 24);
    let now = Instant::now();
    let command = serde_json::json!({"command": "cargo test --release 2>&1 | tail -20"});
    let started = tool_call_started("shell", command.as_object().cloned().unwrap_or_default());
    let asked = Event::ApprovalRequested {
        id: "call_1".into(),
        tool: "shell".into(),
        summary: "cargo test --release 2>&1 | tail -20".into(),
        cwd: "/home/user/project".into(),
        prefix: Some("cargo test".into()),
    };
    for event in started.into_iter().chain([asked]) {
        app.on_agent_event(event, now);
    }
    draw_main(&mut terminal, &mut app).unwrap();
    insta::assert_snapshot!(
        "shell_approval_prompt",
        buffer_text(terminal.backend().buffer())
    );

    // Keys answer the prompt instead of typing into the composer.
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert_eq!(
        app.on_key(key(KeyCode::Char('a'))),
        [Effect::Approve {
            id: "call_1".into(),
            decision: Decision::AlwaysPrefix
        }]
    );
    assert!(app.approval_prompt().is_none());

    app.on_agent_event(
        Event::ApprovalRequested {
            id: "call_2".into(),
            tool: "shell".into(),
            summary: "rm -rf target".into(),
            cwd: "/ws".into(),
            prefix: Some("rm".into()),
        },
        now,
    );
    assert!(app.on_key(key(KeyCode::Char('n'))).is_empty());
    for ch in "not now".chars() {
        assert!(app.on_key(key(KeyCode::Char(ch))).is_empty());
    }
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        [Effect::Approve {
            id: "call_2".into(),
            decision: Decision::Deny {
                note: "not now".into()
            }
        }]
    );

    // /approvals shows and switches the session's policy.
    for ch in "/approvals suggest".chars() {
        app.on_key(key(KeyCode::Char(ch)));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(approvals.policy(), ApprovalPolicy::Suggest);
}
