//! Compaction as the front ends show it: `compaction_started` and
//! `compacted` in the headless `--json` output (the real binary, with the
//! `compaction.*` config keys), and in the app `/pin`, `/compact`,
//! `/compacted`, the notice and the status line's token count.

use std::path::Path;
use std::time::Instant;

use glint::agent::compact::{CompactionReason, ElidedOutput};
use glint::agent::{Event, Op};
use glint::engine::{FinishReason, Usage};
use glint::session::record::CompactionRecord;
use glint::tui::compaction::compaction_report;
use glint::tui::{App, AppConfig, Effect, Entry, theme::Theme};
use serde_json::{Value, json};

use crate::common::{Sandbox, assert_extends};
use crate::support::{answer, read};

/// A workspace with four files of about 40 KB: each read adds about ten
/// thousand tokens, far more than glint's system prompt and tool list.
fn large_files() -> Sandbox {
    let sandbox = Sandbox::create();
    for n in 1..=4 {
        let text: String = (1..=800)
            .map(|line| format!("file{n} line {line}: the quick brown fox jumps over the dog\n"))
            .collect();
        std::fs::write(sandbox.workspace().join(format!("large{n}.txt")), text).expect("write");
    }
    sandbox
}

/// Runs the headless binary on a script with a context window of
/// `window`; returns the JSON events and the prompts.
fn run_headless(sandbox: &Sandbox, window: u64, extra: &[&str]) -> (Vec<Value>, Vec<String>) {
    let completions: Vec<Value> = [
        read("large1.txt", "One."),
        read("large2.txt", "Two."),
        read("large3.txt", "Three."),
        read("large4.txt", "Four."),
        read("notes.txt", "Notes."),
        answer("The code is 4242."),
    ]
    .iter()
    .map(|c| serde_json::to_value(completion_text(c)).expect("text"))
    .collect();
    let log = sandbox.outside("prompts.jsonl");
    let _ = std::fs::remove_file(&log);
    let script = sandbox.outside("compact.json");
    let body = json!({"completions": completions, "context_window": window, "prompt_log": log});
    std::fs::write(&script, body.to_string()).expect("write the script");
    let data = sandbox.outside("data");
    let model = format!("script:{}", script.display());
    let mut args = vec!["--json", "--task", "What is the code?", "--model", &model];
    args.extend_from_slice(extra);
    let output = crate::common::glint(&sandbox.workspace())
        .env("XDG_DATA_HOME", &data)
        .args(&args)
        .output()
        .expect("glint runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (events, prompts(&log))
}

fn completion_text(completion: &glint::engine::scripted::Completion) -> String {
    match completion {
        glint::engine::scripted::Completion::Text(text) => text.clone(),
        other => panic!("a plain completion: {other:?}"),
    }
}

fn prompts(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .expect("the prompt log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON string per line"))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| {
            let kind = e["type"].as_str()?;
            match kind {
                "turn_started" => Some(format!("turn {}", e["turn"])),
                "compaction_started" | "compacted" => Some(kind.to_string()),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn headless_json_shows_the_compaction_and_the_config_keys_set_it() {
    let sandbox = large_files();
    let (events, _) = run_headless(&sandbox, 100_000_000, &[]);
    let sizes: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "turn_finished")
        .filter_map(|e| e["usage"]["prompt_tokens"].as_u64())
        .collect();
    assert_eq!(sizes.len(), 6, "{events:?}");
    assert!(!kinds(&events).contains(&"compacted".to_string()));

    // compaction.threshold=60 halfway between turn 4's prompt and turn 5's
    // (which holds the fourth file).
    let window = ((sizes[3] + sizes[4]) / 2 * 100).div_ceil(60);
    let (events, prompts) = run_headless(
        &sandbox,
        window,
        &[
            "-c",
            "compaction.threshold=60",
            "-c",
            "compaction.keep_turns=1",
        ],
    );
    let steps = kinds(&events);
    assert_eq!(
        steps[3..],
        [
            "turn 4",
            "compaction_started",
            "compacted",
            "turn 5",
            "turn 6"
        ],
        "{steps:?}"
    );
    let compacted = events
        .iter()
        .find(|e| e["type"] == "compacted")
        .expect("compacted");
    assert_eq!(compacted["reason"], "threshold");
    let calls: Vec<&str> = compacted["elided"]
        .as_array()
        .expect("elided outputs")
        .iter()
        .filter_map(|e| e["call"].as_str())
        .collect();
    assert_eq!(
        calls,
        [
            "read_file large1.txt",
            "read_file large2.txt",
            "read_file large3.txt"
        ]
    );
    assert_eq!(compacted["summarised"], 0);
    assert!(compacted["tokens_after"].as_u64() < compacted["tokens_before"].as_u64());
    assert_eq!(prompts.len(), 6, "no extra model call");
    assert_extends(&prompts[..4]);
    assert_extends(&prompts[4..]);
    assert!(!prompts[4].contains("file1 line 2:") && prompts[4].contains("file4 line 2:"));
}

fn app(root: &Path) -> App {
    App::new(AppConfig {
        workspace_root: root.to_path_buf(),
        model_label: "script".into(),
        sandbox: glint::tools::SandboxPolicy::WorkspaceWrite,
        theme: Theme::plain(),
    })
}

fn record() -> CompactionRecord {
    CompactionRecord {
        time: "2026-01-01T10:00:00+00:00".into(),
        reason: CompactionReason::Threshold,
        tokens_before: 900,
        tokens_after: 300,
        elided: vec![ElidedOutput {
            id: "call_2".into(),
            call: "read_file src/big.rs".into(),
            lines: 240,
            bytes: 9000,
        }],
        summarised: vec!["user: fix the parser".into()],
        summary: Some("Goal: fix the parser.\nFiles: src/big.rs".into()),
        summary_prompt_tokens: None,
        summary_completion_tokens: None,
        messages: Vec::new(),
    }
}

#[test]
fn the_app_pins_compacts_and_shows_compactions() {
    let sandbox = Sandbox::create();
    let mut app = app(&sandbox.workspace());
    assert!(app.submit("/pin too early".into()).is_empty());
    assert!(
        matches!(app.entries().last(), Some(Entry::Error(e)) if e.contains("not ready")),
        "a pin before the model is ready is refused: {:?}",
        app.entries()
    );
    app.on_model_ready("script".into(), Some(1000));
    assert_eq!(
        app.submit("/pin keep the API".into()),
        [Effect::Op(Op::Pin {
            text: "keep the API".into()
        })]
    );
    assert!(matches!(app.entries().last(), Some(Entry::Notice(n)) if n.contains("keep the API")));
    assert_eq!(app.submit("/compact".into()), [Effect::Op(Op::Compact)]);
    assert_eq!(app.submit("/compacted".into()), [Effect::ShowCompactions]);

    // The status line counts the prompt and answer the engine reported.
    let now = Instant::now();
    app.on_agent_event(Event::TurnStarted { turn: 1 }, now);
    app.on_agent_event(
        Event::TurnFinished {
            turn: 1,
            tool_calls: 0,
            usage: Usage {
                prompt_tokens: Some(700),
                completion_tokens: Some(20),
            },
            finish_reason: FinishReason::Stop,
        },
        now,
    );
    assert_eq!(app.status().context_used, Some(720));
    let theme = Theme::plain();
    assert!(
        app.status()
            .line(200, &theme)
            .to_string()
            .contains("ctx 720/1.0k (72%)")
    );

    app.on_agent_event(
        Event::CompactionStarted {
            reason: CompactionReason::Threshold,
            tokens: 900,
        },
        now,
    );
    app.on_agent_event(
        Event::Compacted {
            reason: CompactionReason::Threshold,
            tokens_before: 900,
            tokens_after: 300,
            elided: record().elided,
            summarised: 1,
            summary: record().summary,
        },
        now,
    );
    assert_eq!(app.status().context_used, Some(300));
    let Some(Entry::Notice(notice)) = app.entries().last() else {
        panic!("no notice: {:?}", app.entries());
    };
    assert!(
        notice.contains("900 → about 300 tokens")
            && notice.contains("1 old tool outputs elided")
            && notice.contains("/compacted"),
        "{notice}"
    );

    app.show_compactions(Ok(Vec::new()));
    assert!(matches!(app.entries().last(), Some(Entry::Notice(n)) if n.contains("no compactions")));
    assert!(!app.pager_open());
    app.show_compactions(Ok(vec![record()]));
    assert!(app.pager_open());
    let report = compaction_report(&[record()]);
    for needle in [
        "compaction 1 at 2026-01-01T10:00:00+00:00",
        "read_file src/big.rs (240 lines)",
        "user: fix the parser",
        "    Goal: fix the parser.",
        "    Files: src/big.rs",
    ] {
        assert!(report.contains(needle), "{needle} in:\n{report}");
    }
}
