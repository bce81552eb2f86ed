//! Session logs, `glint sessions`, `--continue` and `--resume`, through the
//! real binary: a resumed conversation re-renders the prompt byte for byte,
//! a log torn by a crash still resumes, and a damaged one is a clear error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use glint::agent::{self, AgentConfig};
use glint::conversation::Message;
use glint::engine::GlmModel;
use glint::engine::scripted::ScriptedModel;
use glint::session::{Sessions, Settings};
use glint::tools::{ShellPolicy, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::Value;
use tempfile::TempDir;

use common::{Sandbox, assert_extends, script, until_finished};

const FIRST_TASK: &str = "Find the launch code and note it in summary.txt.";
const SECOND_TASK: &str = "Is the note there?";

/// A workspace and a data directory of its own (where the logs go).
struct Env {
    sandbox: Sandbox,
    data: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            sandbox: Sandbox::create(),
            data: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn glint(&self, args: &[&str]) -> Output {
        common::glint(&self.sandbox.workspace())
            .env("XDG_DATA_HOME", self.data.path())
            .args(args)
            .output()
            .expect("glint runs")
    }

    /// `--model` for tests/scripts/NAME with its prompts logged to
    /// `log` (outside the workspace).
    fn scripted(&self, name: &str, log: &str) -> (String, PathBuf) {
        let text = std::fs::read_to_string(script(name)).expect("read the script");
        let mut body: Value = serde_json::from_str(&text).expect("the script is JSON");
        let log = self.sandbox.outside(log);
        body["prompt_log"] = Value::String(log.display().to_string());
        let path = self.sandbox.outside(name);
        std::fs::write(&path, body.to_string()).expect("write the script");
        (format!("script:{}", path.display()), log)
    }

    /// Runs `task` on tests/scripts/NAME; returns the output and the
    /// prompts the model was sent.
    fn run(&self, name: &str, task: &str, extra: &[&str]) -> (Output, Vec<String>) {
        let (model, log) = self.scripted(name, &format!("{name}.prompts"));
        let _ = std::fs::remove_file(&log);
        let mut args = vec!["--task", task, "--model", &model];
        args.extend_from_slice(extra);
        let output = self.glint(&args);
        let prompts = match std::fs::read_to_string(&log) {
            Ok(text) => text
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON string per line"))
                .collect(),
            Err(_) => Vec::new(),
        };
        (output, prompts)
    }

    /// Every session log written so far.
    fn logs(&self) -> Vec<PathBuf> {
        let base = self.data.path().join("glint/session-logs");
        let mut logs = Vec::new();
        for dir in std::fs::read_dir(&base).expect("the logs' directory exists") {
            for file in std::fs::read_dir(dir.expect("entry").path()).expect("a workspace dir") {
                logs.push(file.expect("entry").path());
            }
        }
        logs
    }

    /// The only session log.
    fn log(&self) -> PathBuf {
        let logs = self.logs();
        assert_eq!(logs.len(), 1, "one session log: {logs:?}");
        logs[0].clone()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read the log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

/// The n-th completion of tests/scripts/NAME: the model's output exactly
/// as streamed (the scripted model streams its stop token as text too).
fn completion(name: &str, n: usize) -> String {
    let text = std::fs::read_to_string(script(name)).expect("read the script");
    let body: Value = serde_json::from_str(&text).expect("the script is JSON");
    body["completions"][n]
        .as_str()
        .expect("a completion")
        .to_string()
}

/// The first prompt after a resume is the last prompt before it, the
/// model's answer to it exactly as generated, and the new message.
fn assert_resumed_exactly(before: &[String], after: &[String], task: &str) {
    let last = before.last().expect("the first run called the model");
    let first = after.first().expect("the continued run called the model");
    let expected = format!(
        "{last}{}<|user|>{task}<|assistant|><think>",
        completion("session_first.json", 2)
    );
    assert!(
        first == &expected,
        "the continued prompt does not extend the last one exactly\n--- expected tail:\n{}\n--- got tail:\n{}",
        common::tail(&expected),
        common::tail(first)
    );
    assert_extends(after);
}

#[test]
fn continue_re_renders_the_prompt_exactly() {
    let env = Env::new();
    let (output, before) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(before.len(), 3);
    assert_extends(&before);
    // The template's re-render would strip the reasoning's spaces: only the
    // raw output written back keeps the prompt a prefix.
    assert!(before[1].contains("The notes should have it.   \nLet me read them first.\n</think>"));

    let (output, after) = env.run("session_second.json", SECOND_TASK, &["--continue"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "Yes: summary.txt says code 4242.");
    assert_resumed_exactly(&before, &after, SECOND_TASK);
    assert_eq!(env.logs().len(), 1, "resuming appends to the same log");
}

#[test]
fn the_log_records_messages_usage_checkpoints_and_settings() {
    let env = Env::new();
    let (output, _) = env.run("session_first.json", FIRST_TASK, &["--max-turns", "7"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = env.log();
    let records = records(&log);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "session");
    let header = &records[0];
    assert_eq!(
        log.file_stem().and_then(|s| s.to_str()),
        header["id"].as_str()
    );
    assert!(header["model"].as_str().unwrap().starts_with("script:"));
    assert_eq!(header["settings"]["thinking"], true);
    assert_eq!(header["settings"]["max_turns"], 7);
    assert_eq!(header["settings"]["approval"], "full-auto");

    let messages: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "message")
        .map(|r| &r["message"])
        .collect();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant"
        ]
    );
    let task = records
        .iter()
        .find(|r| r["type"] == "message" && r["task"] == true)
        .expect("the task is marked");
    assert_eq!(task["message"]["content"], FIRST_TASK);
    // Reasoning, calls and the raw output all kept.
    assert_eq!(
        messages[2]["raw"].as_str().unwrap(),
        "<think>The notes should have it.   \nLet me read them first.\n</think><tool_call>read_file<arg_key>path</arg_key><arg_value>notes.txt</arg_value></tool_call><|observation|>"
    );
    assert_eq!(
        messages[4]["reasoning_content"],
        "It is 4242. Note it down."
    );
    assert_eq!(
        messages[4]["tool_calls"][0]["function"]["arguments"]["path"],
        "summary.txt"
    );
    assert!(messages[3]["content"].as_str().unwrap().contains("4242"));

    let usage: Vec<&Value> = records.iter().filter(|r| r["type"] == "usage").collect();
    assert_eq!(usage.len(), 3);
    assert_eq!(usage[2]["finish_reason"], "stop");
    let checkpoints: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "checkpoint")
        .collect();
    assert_eq!(checkpoints.len(), 1, "{kinds:?}");
    assert_eq!(checkpoints[0]["tool"], "write_file");
    assert_eq!(checkpoints[0]["id"], 1);
    assert_eq!(
        checkpoints[0]["files"],
        serde_json::json!([{"path": "summary.txt", "change": "created"}])
    );
    // The checkpoint follows its call's result.
    let at = kinds.iter().position(|k| *k == "checkpoint").unwrap();
    assert_eq!(records[at - 1]["message"]["role"], "tool");
    let last = records.last().unwrap();
    assert_eq!(last["type"], "run");
    assert_eq!(last["status"], "completed");
    assert_eq!(last["turns"], 3);

    // `--resume ID` appends a `resumed` record, then the new messages.
    let id = header["id"].as_str().unwrap().to_string();
    let (output, _) = env.run(
        "session_second.json",
        SECOND_TASK,
        &["--resume", &id[..12], "--max-turns", "9"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = self::records(&log);
    let resumed = &after[records.len()];
    assert_eq!(resumed["type"], "resumed");
    assert_eq!(resumed["settings"]["max_turns"], 9);
    assert_eq!(after[records.len() + 1]["message"]["content"], SECOND_TASK);
}

#[test]
fn sessions_lists_newest_first_with_turns_and_first_message() {
    let env = Env::new();
    let output = env.glint(&["sessions"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no sessions"),
        "{}",
        stdout(&output)
    );

    let (output, _) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = env.log();
    let (output, _) = env.run("session_second.json", SECOND_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let second = env
        .logs()
        .into_iter()
        .find(|log| *log != first)
        .expect("a second log");

    let output = env.glint(&["sessions"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let list = stdout(&output);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    let id = |path: &Path| path.file_stem().unwrap().to_str().unwrap().to_string();
    assert!(rows[0].starts_with(&id(&second)), "{list}");
    assert!(
        rows[0].contains(" 2  ") && rows[0].ends_with(SECOND_TASK),
        "{list}"
    );
    assert!(rows[1].starts_with(&id(&first)), "{list}");
    assert!(
        rows[1].contains(" 3  ") && rows[1].ends_with(FIRST_TASK),
        "{list}"
    );

    // --continue takes the latest: the second session.
    let (model, _) = env.scripted("session_second.json", "third.prompts");
    let output = env.glint(&["--continue", "--task", "again", "--model", &model]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let tasks: Vec<Value> = records(&second)
        .into_iter()
        .filter(|r| r["task"] == true)
        .map(|r| r["message"]["content"].clone())
        .collect();
    assert_eq!(tasks, [SECOND_TASK, "again"]);
}

#[test]
fn a_torn_last_line_is_skipped_with_a_warning_and_resumes() {
    let env = Env::new();
    let (output, before) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = env.log();
    // A crash in the middle of writing a record.
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(br#"{"type":"message","message":{"role":"user","cont"#);
    std::fs::write(&log, bytes).unwrap();

    let output = env.glint(&["sessions"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let list = stdout(&output);
    assert!(
        list.contains(FIRST_TASK) && !list.contains("unreadable"),
        "{list}"
    );

    let (output, after) = env.run("session_second.json", SECOND_TASK, &["--continue"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("glint: warning: session log") && err.contains("skipped its last line"),
        "{err}"
    );
    assert_resumed_exactly(&before, &after, SECOND_TASK);

    // The torn line was cut off before appending: the log reads cleanly.
    let (output, again) = env.run("session_second.json", "once more", &["--continue"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("skipped"), "{}", stderr(&output));
    assert!(!again.is_empty());
    let records = records(&log);
    assert_eq!(records.iter().filter(|r| r["type"] == "resumed").count(), 2);
}

#[test]
fn a_corrupt_middle_line_is_a_clear_error() {
    let env = Env::new();
    let (output, _) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = env.log();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{\"type\": oops");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    let (output, prompts) = env.run("session_second.json", SECOND_TASK, &["--continue"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(prompts.is_empty(), "no run starts on a damaged log");
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&log.display().to_string()) && err.contains("line 3"),
        "{err}"
    );
    assert!(err.contains("fix or delete that line"), "{err}");

    let output = env.glint(&["sessions"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("unreadable"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn resume_errors_are_one_line() {
    let env = Env::new();
    let (model, _) = env.scripted("session_second.json", "p");
    let output = env.glint(&["--continue", "--task", "x", "--model", &model]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no earlier session in this workspace"),
        "{err}"
    );

    let (output, _) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = env.glint(&["--resume", "NOPE", "--task", "x", "--model", &model]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(
        err.trim_end(),
        "glint: no session `NOPE` in this workspace; `glint sessions` lists them"
    );

    let output = env.glint(&["--resume", "a", "--continue"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

/// What the core appends is what the log holds, message for message, and
/// a core started on the loaded messages renders the same prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_logs_the_conversation_it_builds() {
    let sandbox = Sandbox::create();
    let data = tempfile::tempdir().expect("temp dir");
    let root = Workspace::new(sandbox.workspace()).expect("workspace");
    let sessions = Sessions::under(data.path(), root.root(), "script", Settings::default());
    let config = |name: &str| {
        let model = ScriptedModel::load(&script(name)).expect("script loads");
        let model = Arc::new(GlmModel::new(model));
        let config = AgentConfig {
            model: model.clone(),
            tools: Arc::new(ToolRegistry::builtin()),
            workspace: root.clone(),
            system_prompt: "You are glint.".into(),
            max_turns: 10,
            thinking: true,
            shell: ShellPolicy::default(),
            guards: Default::default(),
            approval: Default::default(),
        };
        (config, model)
    };

    let log = sessions.new_log();
    let (first, model) = config("session_first.json");
    let mut handle = agent::spawn_with_log(first, Vec::new(), Some(log.clone()));
    handle.submit(FIRST_TASK);
    until_finished(&mut handle).await;
    let conversation = handle.shutdown().await;
    let before = model.backend().prompts();
    let loaded = glint::session::load(log.path()).expect("the log loads");
    assert_eq!(loaded.messages, conversation);
    assert_eq!(loaded.tasks, [FIRST_TASK]);
    assert_eq!(loaded.turns, 3);
    assert_eq!(loaded.checkpoints.len(), 0, "no checkpoint store attached");

    let continued = sessions.resume(None, None).expect("resumes");
    assert_eq!(continued.messages, conversation);
    let (second, model) = config("session_second.json");
    let mut handle = agent::spawn_with_log(second, continued.messages, Some(continued.log));
    handle.submit(SECOND_TASK);
    until_finished(&mut handle).await;
    let conversation = handle.shutdown().await;
    assert_resumed_exactly(&before, &model.backend().prompts(), SECOND_TASK);
    let loaded = glint::session::load(log.path()).expect("the log loads");
    assert_eq!(loaded.messages, conversation);
    // A cleanly finished session leaves no call unanswered.
    assert_eq!(loaded.missing_results(), Vec::<Message>::new());
}

/// The app's side: `/resume` and `/sessions` ask the loop, a resumed log's
/// conversation is shown as it went, and Up walks the past sessions'
/// messages, newest first.
#[test]
fn the_app_shows_a_resumed_conversation_and_past_messages() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use glint::tui::{App, AppConfig, Effect, Entry, theme::Theme};

    let env = Env::new();
    let (output, _) = env.run("session_first.json", FIRST_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (output, _) = env.run("session_second.json", SECOND_TASK, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = env
        .logs()
        .into_iter()
        .map(|path| glint::session::load(&path).expect("the log loads"))
        .find(|loaded| loaded.first_task() == Some(FIRST_TASK))
        .expect("the first session's log");

    let mut app = App::new(AppConfig {
        workspace_root: env.sandbox.workspace(),
        model_label: "script".into(),
        sandbox: glint::tools::SandboxPolicy::WorkspaceWrite,
        theme: Theme::plain(),
    });
    app.on_model_ready("script".into(), None);
    assert_eq!(
        app.submit("/resume 2025".into()),
        [Effect::Resume(Some("2025".into()))]
    );
    assert_eq!(app.submit("/resume".into()), [Effect::Resume(None)]);
    assert_eq!(app.submit("/sessions".into()), [Effect::ListSessions]);

    app.on_resumed(&first.header.id, &first.messages, &[]);
    let entries = app.entries();
    assert!(
        matches!(&entries[0], Entry::User(task) if task == FIRST_TASK),
        "{entries:?}"
    );
    let tools: Vec<(&str, Option<&str>)> = entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Tool(tool) => Some((tool.name.as_str(), tool.target.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        tools,
        [
            ("read_file", Some("notes.txt")),
            ("write_file", Some("summary.txt"))
        ]
    );
    assert!(entries.iter().any(
        |entry| matches!(entry, Entry::Assistant(text) if text.contains("I wrote it to summary.txt"))
    ));
    assert!(matches!(entries.last(), Some(Entry::Notice(note)) if note.contains(&first.header.id)));

    // Past sessions' messages, as the app's background read finds them.
    let sessions = Sessions::under(
        &env.data.path().join("glint/session-logs"),
        Workspace::new(env.sandbox.workspace()).unwrap().root(),
        "script",
        Settings::default(),
    );
    let past = sessions.history();
    assert_eq!(past, [FIRST_TASK, SECOND_TASK]);
    app.seed_history(past);
    let key = |app: &mut App, code| app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        [Effect::Submit(FIRST_TASK.into())]
    );
}

/// A resumed conversation shows each tool call as it ended: the log
/// records whether it succeeded (here one read succeeds, one fails and a
/// write is refused, as nobody can approve it) with its one-line summary,
/// and the app's replay shows exactly what the live run showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_conversation_shows_how_each_call_ended() {
    use glint::agent::Event;
    use glint::approval::{ApprovalPolicy, Approvals};
    use glint::tui::{App, AppConfig, Entry, theme::Theme};

    let sandbox = Sandbox::create();
    std::fs::write(sandbox.workspace().join("notes.txt"), "launch code 42\n").expect("write");
    let data = tempfile::tempdir().expect("temp dir");
    let root = Workspace::new(sandbox.workspace()).expect("workspace");
    let sessions = Sessions::under(data.path(), root.root(), "script", Settings::default());
    let call = |tool: &str, key: &str, value: &str| {
        format!(
            "Next.</think>\n<tool_call>{tool}\n<arg_key>{key}</arg_key>\n<arg_value>{value}</arg_value>\n</tool_call><|observation|>"
        )
    };
    let completions = vec![
        call("read_file", "path", "notes.txt"),
        call("read_file", "path", "missing.txt"),
        "Write it.</think>\n<tool_call>write_file\n<arg_key>path</arg_key>\n<arg_value>out.txt</arg_value>\n<arg_key>content</arg_key>\n<arg_value>42</arg_value>\n</tool_call><|observation|>".to_string(),
        "Done.</think>The code is 42.<|endoftext|>".to_string(),
    ];
    let model = Arc::new(GlmModel::new(ScriptedModel::new(
        "outcomes",
        completions,
        5,
    )));
    let log = sessions.new_log();
    let mut handle = agent::spawn_with_log(
        AgentConfig {
            model,
            tools: Arc::new(ToolRegistry::builtin()),
            workspace: root.clone(),
            system_prompt: "You are glint.".into(),
            max_turns: 10,
            thinking: true,
            shell: ShellPolicy::default(),
            guards: Default::default(),
            // Headless: what needs approval is refused.
            approval: Approvals::new(ApprovalPolicy::Suggest, false),
        },
        Vec::new(),
        Some(log.clone()),
    );
    handle.submit(FIRST_TASK);
    let events = until_finished(&mut handle).await;
    handle.shutdown().await;
    let live: Vec<(String, bool, String)> = events
        .iter()
        .filter_map(|event| match event {
            Event::ToolCallFinished {
                name, ok, summary, ..
            } => Some((name.clone(), *ok, summary.clone())),
            _ => None,
        })
        .collect();
    let oks: Vec<bool> = live.iter().map(|(_, ok, _)| *ok).collect();
    assert_eq!(oks, [true, false, false], "{live:?}");
    assert!(
        live.iter().all(|(_, _, summary)| !summary.is_empty()),
        "{live:?}"
    );

    let resumed = sessions.resume(Some(log.id()), None).expect("resumes");
    assert_eq!(resumed.outcomes.len(), 3, "{:?}", resumed.outcomes);
    let mut app = App::new(AppConfig {
        workspace_root: sandbox.workspace(),
        model_label: "script".into(),
        sandbox: glint::tools::SandboxPolicy::WorkspaceWrite,
        theme: Theme::plain(),
    });
    app.on_resumed_session(&resumed);
    let replayed: Vec<(String, bool, String)> = app
        .entries()
        .iter()
        .filter_map(|entry| match entry {
            Entry::Tool(tool) => Some((tool.name.clone(), tool.ok, tool.summary.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replayed, live);

    // A conversation without recorded outcomes still replays, as succeeded.
    app.on_resumed(log.id(), &resumed.messages, &[]);
    let oks: Vec<bool> = app
        .entries()
        .iter()
        .filter_map(|entry| match entry {
            Entry::Tool(tool) => Some(tool.ok),
            _ => None,
        })
        .collect();
    // (The replay above stays in the scrollback; this one follows it.)
    assert_eq!(oks[oks.len() - 3..], [true, true, true], "{oks:?}");
}
