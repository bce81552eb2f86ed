//! The `update_plan` tool end to end: the tool's checks, the agent core's
//! `plan_updated` events in `--json` output and on stderr, the plan found
//! again in a conversation, and the app's plan panel.

mod common;

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Map, Value, json};

use common::headless::{json_lines, run};
use common::screen::{app, buffer_text, inline_terminal};
use common::{Fixture, Sandbox, model_arg};
use glint::agent::Event;
use glint::conversation::{Message, ToolCall};
use glint::tools::update_plan::{Plan, PlanItem, StepStatus, latest_plan};
use glint::tui::theme::Theme;
use glint::tui::{App, Effect, draw_main};

fn step(step: &str, status: &str) -> Value {
    json!({"step": step, "status": status})
}

#[test]
fn json_output_carries_plan_updated_after_each_accepted_update() {
    let sandbox = Sandbox::create();
    let model = model_arg("plan_updates.json");
    let output = run(
        &sandbox,
        &[
            "--task",
            "What is the launch code?",
            "--model",
            &model,
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    let events = json_lines(&output.stdout);

    let plans: Vec<(usize, &Value)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["type"] == "plan_updated")
        .collect();
    assert_eq!(plans.len(), 2, "two accepted updates: {events:#?}");
    assert_eq!(plans[0].1["explanation"], "Read first, then answer.");
    assert_eq!(
        plans[0].1["plan"],
        json!([
            step("Read notes.txt", "in_progress"),
            step("Answer with the launch code", "pending")
        ])
    );
    assert_eq!(plans[1].1["explanation"], Value::Null);
    assert_eq!(
        plans[1].1["plan"],
        json!([
            step("Read notes.txt", "completed"),
            step("Answer with the launch code", "in_progress")
        ])
    );
    // Each comes right after the successful call it reports.
    for (index, _) in &plans {
        let before = &events[index - 1];
        assert_eq!(before["type"], "tool_call_finished", "{before}");
        assert_eq!(before["name"], "update_plan");
        assert_eq!(before["ok"], true);
    }

    // Two steps in progress: a failed call the model can act on, and no
    // plan_updated for it.
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "tool_call_finished" && e["name"] == "update_plan")
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1]["ok"], false, "{}", calls[1]);
    let refusal = calls[1]["output"].as_str().unwrap_or_default();
    assert!(
        refusal.contains("at most one step may be in progress"),
        "{refusal}"
    );
    assert!(refusal.contains("Read notes.txt") && refusal.contains("Answer with the launch code"));
    assert_eq!(
        calls[2]["output"],
        "Plan updated: 1 of 2 steps completed; in progress: Answer with the launch code."
    );
    assert_eq!(events.last().unwrap()["status"], "completed");
}

#[test]
fn plain_output_prints_the_plan_on_stderr() {
    let sandbox = Sandbox::create();
    let model = model_arg("plan_updates.json");
    let output = run(
        &sandbox,
        &["--task", "What is the launch code?", "--model", &model],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "The launch code is 4242.\n"
    );
    assert!(
        stderr.contains(
            "plan: Read first, then answer.\n  [>] Read notes.txt\n  [ ] Answer with the launch code\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("plan:\n  [x] Read notes.txt\n  [>] Answer with the launch code\n"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("\nplan:").count(), 2, "{stderr}");
}

#[tokio::test]
async fn the_tool_refuses_what_a_checklist_cannot_show() {
    let fx = Fixture::new();
    let two = fx
        .err(
            "update_plan",
            json!({"plan": [step("a", "in_progress"), step("b", "pending"), step("c", "in_progress")]}),
        )
        .await;
    assert!(
        two.starts_with(
            "Invalid arguments for update_plan: 2 steps are in_progress: 1 (`a`), 3 (`c`);"
        ),
        "{two}"
    );
    let status = fx
        .err("update_plan", json!({"plan": [step("a", "done")]}))
        .await;
    assert!(
        status.contains("pending")
            && status.contains("in_progress")
            && status.contains("completed"),
        "names the statuses: {status}"
    );
    let empty = fx.err("update_plan", json!({"plan": []})).await;
    assert!(empty.contains("`plan` is empty"), "{empty}");
    let blank = fx
        .err(
            "update_plan",
            json!({"plan": [step("a", "completed"), step("  ", "pending")]}),
        )
        .await;
    assert!(blank.contains("step 2 is empty"), "{blank}");
    let not_a_list = fx.err("update_plan", json!({"plan": "step one"})).await;
    assert!(
        not_a_list.contains("`plan` must be an array"),
        "{not_a_list}"
    );

    let ok = fx
        .ok(
            "update_plan",
            json!({"plan": [step("a", "completed"), step("b", "pending")], "explanation": null}),
        )
        .await;
    assert_eq!(ok.content, "Plan updated: 1 of 2 steps completed.");
    assert_eq!(ok.summary, "1 of 2 steps completed");
}

fn update_call(id: &str, plan: Value) -> ToolCall {
    let Value::Object(arguments) = json!({ "plan": plan }) else {
        unreachable!()
    };
    ToolCall::new(id.to_string(), "update_plan".to_string(), arguments)
}

fn assistant(calls: Vec<ToolCall>) -> Message {
    Message::Assistant {
        content: String::new(),
        reasoning_content: None,
        tool_calls: calls,
        reasoning_details: None,
        raw: None,
    }
}

#[test]
fn the_latest_accepted_plan_is_found_again_in_the_conversation() {
    let first = json!([step("one", "in_progress"), step("two", "pending")]);
    let second = json!([step("one", "completed"), step("two", "in_progress")]);
    let refused = json!([step("one", "in_progress"), step("two", "in_progress")]);
    let messages = vec![
        Message::system("s"),
        Message::user("task"),
        assistant(vec![update_call("call_1", first)]),
        Message::tool_result("call_1", "Plan updated."),
        assistant(vec![update_call("call_2", second)]),
        Message::tool_result("call_2", "Plan updated."),
        // A refused update leaves the plan as it was.
        assistant(vec![update_call("call_3", refused)]),
        Message::tool_result("call_3", "Invalid arguments"),
    ];
    let plan = latest_plan(&messages).expect("a plan");
    assert_eq!(
        plan.plan,
        vec![
            PlanItem {
                step: "one".into(),
                status: StepStatus::Completed
            },
            PlanItem {
                step: "two".into(),
                status: StepStatus::InProgress
            }
        ]
    );
    assert_eq!(latest_plan(&messages[..2]), None);
    let mut arguments = Map::new();
    arguments.insert("plan".into(), json!([step("x", "pending")]));
    assert!(Plan::from_arguments(&arguments).is_ok());
}

/// The app drawn into a test terminal.
struct Screen {
    app: App,
    terminal: Terminal<TestBackend>,
    _workspace: tempfile::TempDir,
}

impl Screen {
    fn ready(width: u16, height: u16) -> Screen {
        let workspace = tempfile::tempdir().unwrap();
        let mut app = app(workspace.path(), "script:model.json", Theme::plain());
        assert!(
            app.on_model_ready("script:model.json".into(), Some(8192))
                .is_empty()
        );
        Screen {
            app,
            terminal: inline_terminal(width, height),
            _workspace: workspace,
        }
    }

    fn plan(&mut self, explanation: Option<&str>, steps: &[(&str, StepStatus)]) {
        let plan = steps
            .iter()
            .map(|(step, status)| PlanItem {
                step: step.to_string(),
                status: *status,
            })
            .collect();
        let effects = self.app.on_agent_event(
            Event::PlanUpdated {
                explanation: explanation.map(str::to_string),
                plan,
            },
            Instant::now(),
        );
        assert!(effects.is_empty());
    }

    fn text(&mut self) -> String {
        draw_main(&mut self.terminal, &mut self.app).unwrap();
        buffer_text(self.terminal.backend().buffer())
    }
}

use StepStatus::{Completed, InProgress, Pending};

#[test]
fn the_panel_shows_the_plan_above_the_composer() {
    let mut screen = Screen::ready(60, 16);
    let before = screen.text();
    assert!(
        !before.contains("plan"),
        "no panel without a plan:\n{before}"
    );
    screen.plan(
        Some("the tests come first"),
        &[
            ("Read the parser", Completed),
            ("Write a failing test for the empty call", InProgress),
            (
                "Fix the parser so that the test passes and nothing else changes",
                Pending,
            ),
        ],
    );
    let text = screen.text();
    insta::assert_snapshot!("plan_panel", text);
    let rows: Vec<&str> = text.lines().collect();
    let composer = rows
        .iter()
        .position(|r| r.starts_with('›'))
        .expect("composer");
    let last_step = rows
        .iter()
        .position(|r| r.contains("☐ Fix"))
        .expect("pending step");
    assert!(
        last_step < composer,
        "the panel sits above the composer:\n{text}"
    );

    // An update replaces it; a finished plan folds to one line.
    screen.plan(
        None,
        &[
            ("Read the parser", Completed),
            ("Write a failing test for the empty call", Completed),
            ("Fix the parser", Completed),
        ],
    );
    let done = screen.text();
    assert!(done.contains("☑ plan: all 3 steps completed"), "{done}");
    assert!(!done.contains("◐"), "{done}");
}

#[test]
fn a_long_plan_shows_a_window_around_the_step_in_progress() {
    let mut screen = Screen::ready(60, 30);
    let steps: Vec<(String, StepStatus)> = (1..=10)
        .map(|n| {
            let status = match n {
                1..=4 => Completed,
                5 => InProgress,
                _ => Pending,
            };
            (format!("step number {n}"), status)
        })
        .collect();
    let borrowed: Vec<(&str, StepStatus)> = steps.iter().map(|(s, st)| (s.as_str(), *st)).collect();
    screen.plan(None, &borrowed);
    let text = screen.text();
    insta::assert_snapshot!("plan_panel_window", text);
    // The step before the one in progress, it, and what comes next.
    let panel: Vec<&str> = text
        .lines()
        .skip_while(|r| !r.starts_with("plan"))
        .take(6)
        .collect();
    assert_eq!(
        panel,
        [
            "plan · 4 of 10 steps completed",
            "  ☑ step number 4",
            "  ◐ step number 5",
            "  ☐ step number 6",
            "  ☐ step number 7",
            "  … 3 more steps",
        ],
        "{text}"
    );

    // A new conversation has no plan.
    for ch in "/new".chars() {
        screen.app.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(ch),
            crossterm::event::KeyModifiers::NONE,
        ));
    }
    let effects = screen.app.on_key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ));
    assert!(effects.contains(&Effect::NewSession), "{effects:?}");
    let after = screen.text();
    assert!(!after.contains("step number 5"), "{after}");
}
