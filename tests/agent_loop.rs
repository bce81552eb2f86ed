//! The agent loop driven in-process by scripted models.

mod common;

use std::sync::Arc;
use std::time::Duration;

use glint::agent::{self, AgentConfig, AgentHandle, Event, RunStatus};
use glint::conversation::Message;
use glint::engine::scripted::ScriptedModel;
use glint::engine::{GlmModel, StallLimits};
use glint::tools::{ShellPolicy, ToolRegistry};
use glint::workspace::Workspace;

use common::{Sandbox, script, tool_results, until_finished};

struct Run {
    events: Vec<Event>,
    messages: Vec<Message>,
    prompts: Vec<String>,
}

fn start(model: Arc<GlmModel<ScriptedModel>>, sandbox: &Sandbox, max_turns: u32) -> AgentHandle {
    agent::spawn(AgentConfig {
        model,
        tools: Arc::new(ToolRegistry::builtin()),
        workspace: Workspace::new(sandbox.workspace()).expect("workspace"),
        system_prompt: "You are glint.".into(),
        max_turns,
        thinking: true,
        shell: ShellPolicy::default(),
        guards: Default::default(),
        approval: Default::default(),
    })
}

fn load(name: &str) -> Arc<GlmModel<ScriptedModel>> {
    Arc::new(GlmModel::new(
        ScriptedModel::load(&script(name)).expect("script loads"),
    ))
}

async fn run_script(name: &str, sandbox: &Sandbox, max_turns: u32) -> Run {
    let model = load(name);
    let mut handle = start(model.clone(), sandbox, max_turns);
    handle.submit("What do the notes say?");
    let events = until_finished(&mut handle).await;
    let messages = handle.shutdown().await;
    Run {
        events,
        messages,
        prompts: model.backend().prompts(),
    }
}

fn finished(events: &[Event]) -> (RunStatus, u32, Option<String>, Option<String>) {
    match events.last() {
        Some(Event::RunFinished {
            status,
            turns,
            answer,
            error,
            ..
        }) => (*status, *turns, answer.clone(), error.clone()),
        other => panic!("last event is not run_finished: {other:?}"),
    }
}

#[tokio::test]
async fn reads_a_file_then_answers() {
    let sandbox = Sandbox::create();
    let run = run_script("read_then_answer.json", &sandbox, 50).await;

    let (status, turns, answer, _) = finished(&run.events);
    assert_eq!(status, RunStatus::Completed);
    assert_eq!(turns, 2);
    assert_eq!(
        answer.as_deref(),
        Some("The notes say: the launch code is 4242.")
    );

    let results = tool_results(&run.events);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, "read_file");
    assert!(results[0].1, "read_file failed: {}", results[0].2);
    assert!(
        results[0].2.contains("2\tThe launch code is 4242."),
        "{}",
        results[0].2
    );
    let text: String = run
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Text { turn: 1, delta } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Let me read the file.");
}

#[tokio::test]
async fn keeps_reasoning_and_extends_each_prompt_exactly() {
    let sandbox = Sandbox::create();
    let run = run_script("read_then_answer.json", &sandbox, 50).await;

    let reasonings: Vec<&str> = run
        .messages
        .iter()
        .filter_map(|message| match message {
            Message::Assistant {
                reasoning_content, ..
            } => reasoning_content.as_deref(),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasonings,
        [
            "The user wants to know what notes.txt says. I should read it first.",
            "The file says the launch code is 4242. I can answer now."
        ]
    );
    assert_eq!(run.prompts.len(), 2);
    assert!(
        run.prompts[1].starts_with(&run.prompts[0]),
        "turn 2's prompt must extend turn 1's exactly"
    );
    assert!(run.prompts[1].contains(
        "<think>The user wants to know what notes.txt says. I should read it first.</think>"
    ));
    assert!(run.prompts[0].starts_with("[gMASK]<sop><|system|>\n# Tools"));
    assert!(run.prompts[0].ends_with("<|user|>What do the notes say?<|assistant|><think>"));
}

#[tokio::test]
async fn writes_exact_bytes() {
    let sandbox = Sandbox::create();
    let run = run_script("write_file.json", &sandbox, 50).await;
    assert_eq!(finished(&run.events).0, RunStatus::Completed);
    let written =
        std::fs::read(sandbox.workspace().join("out/nested/hello.txt")).expect("file written");
    assert_eq!(
        written,
        "  leading spaces kept\n\ttab, «ünïcode» ✓\nno newline at the end".as_bytes()
    );
}

#[tokio::test]
async fn bad_calls_go_back_to_the_model_and_the_run_continues() {
    let sandbox = Sandbox::create();
    let run = run_script("recover_from_bad_calls.json", &sandbox, 50).await;

    let results = tool_results(&run.events);
    assert_eq!(results.len(), 4, "{results:?}");
    let (name, ok, output) = &results[0];
    assert_eq!(name, "delete_everything");
    assert!(!ok);
    assert!(
        output.contains("Unknown tool `delete_everything`"),
        "{output}"
    );
    assert!(
        output.contains("read_file"),
        "lists the available tools: {output}"
    );
    let (_, ok, output) = &results[1];
    assert!(!ok);
    assert!(
        output.contains("limit"),
        "names the ill-typed argument: {output}"
    );
    let (_, ok, output) = &results[2];
    assert!(!ok);
    assert!(
        output.contains("path"),
        "names the missing argument: {output}"
    );
    assert!(results[3].1, "the corrected call works: {}", results[3].2);

    // Each failure reached the model as that call's result.
    let tool_messages: Vec<&str> = run
        .messages
        .iter()
        .filter_map(|message| match message {
            Message::Tool { content, .. } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tool_messages.len(), 4);
    assert!(run.prompts[1].contains("<tool_response>Unknown tool `delete_everything`"));

    let (status, turns, answer, _) = finished(&run.events);
    assert_eq!(status, RunStatus::Completed);
    assert_eq!(turns, 4);
    assert_eq!(
        answer.as_deref(),
        Some("The notes say: the launch code is 4242.")
    );
}

#[tokio::test]
async fn paths_outside_the_workspace_are_refused() {
    let sandbox = Sandbox::create();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        sandbox.outside("secret.txt"),
        sandbox.workspace().join("link-to-secret.txt"),
    )
    .expect("symlink");
    let run = run_script("outside_workspace.json", &sandbox, 50).await;

    let results = tool_results(&run.events);
    assert_eq!(results.len(), 3);
    for (name, ok, output) in &results {
        assert!(!ok, "{name} must be refused: {output}");
        assert!(output.contains("outside the workspace"), "{output}");
        assert!(!output.contains("top secret"));
    }
    assert!(!sandbox.outside("escaped.txt").exists());
    assert_eq!(finished(&run.events).0, RunStatus::Completed);
}

#[tokio::test]
async fn max_turns_ends_the_run() {
    let sandbox = Sandbox::create();
    let run = run_script("endless_tool_calls.json", &sandbox, 2).await;
    let (status, turns, answer, error) = finished(&run.events);
    assert_eq!(status, RunStatus::MaxTurns);
    assert_eq!(turns, 2);
    assert_eq!(answer, None);
    assert!(error.unwrap_or_default().contains("--max-turns"));
    assert_eq!(run.prompts.len(), 2, "no third model call");
}

#[tokio::test]
async fn running_out_of_script_is_a_model_error_naming_the_call() {
    let sandbox = Sandbox::create();
    let run = run_script("runs_out.json", &sandbox, 50).await;
    let (status, _, _, error) = finished(&run.events);
    assert_eq!(status, RunStatus::ModelError);
    let error = error.unwrap_or_default();
    assert!(error.contains("model call 2"), "{error}");
    assert!(error.contains("holds 1"), "{error}");
}

#[tokio::test]
async fn cancel_stops_a_streaming_turn_and_keeps_what_was_said() {
    let sandbox = Sandbox::create();
    let model = load("slow_answer.json");
    let mut handle = start(model, &sandbox, 50);
    handle.submit("Think hard.");
    // Wait for the model to start reasoning, then cancel.
    loop {
        match handle.next_event().await {
            Some(Event::Reasoning { .. }) => break,
            Some(Event::RunFinished { .. }) | None => panic!("the run ended before streaming"),
            Some(_) => {}
        }
    }
    handle.cancel();
    let events = until_finished(&mut handle).await;
    assert_eq!(finished(&events).0, RunStatus::Interrupted);
    let messages = handle.shutdown().await;
    match messages.last() {
        Some(Message::Assistant {
            reasoning_content: Some(reasoning),
            tool_calls,
            ..
        }) => {
            // What streamed before the cancel is kept, and nothing after it.
            let full = "Let me think about this for a long time. ".repeat(200);
            assert!(!reasoning.is_empty());
            assert!(full.starts_with(reasoning.as_str()), "{reasoning}");
            assert!(
                reasoning.len() < full.trim_end().len(),
                "cancelled before the end"
            );
            assert!(tool_calls.is_empty());
        }
        other => panic!("expected the partial assistant turn, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_task_continues_the_conversation() {
    let sandbox = Sandbox::create();
    let model = Arc::new(GlmModel::new(ScriptedModel::new(
        "inline",
        vec![
            "First answer reasoning.</think>One.",
            "Second answer reasoning.</think>Two.",
        ],
        1,
    )));
    let mut handle = start(model.clone(), &sandbox, 50);
    handle.submit("first");
    let first = until_finished(&mut handle).await;
    assert_eq!(finished(&first).2.as_deref(), Some("One."));
    handle.submit("second");
    let second = until_finished(&mut handle).await;
    assert_eq!(finished(&second).2.as_deref(), Some("Two."));
    let prompts = model.backend().prompts();
    assert!(prompts[1].starts_with(&prompts[0]));
    assert!(
        prompts[1].ends_with(
            "<think>First answer reasoning.</think>One.<|user|>second<|assistant|><think>"
        )
    );
    let messages = handle.shutdown().await;
    assert_eq!(
        messages.len(),
        5,
        "system, user, assistant, user, assistant"
    );
}

#[tokio::test]
async fn an_engine_that_stalls_ends_the_run_with_an_error_instead_of_hanging() {
    let sandbox = Sandbox::create();
    let model = Arc::new(
        GlmModel::new(ScriptedModel::load(&script("stalls.json")).expect("script loads"))
            .with_stall_limits(StallLimits {
                first_chunk: Duration::from_secs(1),
                between_chunks: Duration::from_secs(1),
            }),
    );
    let mut handle = start(model, &sandbox, 50);
    handle.submit("hello");
    let events = until_finished(&mut handle).await;
    let (status, _, answer, error) = finished(&events);
    assert_eq!(status, RunStatus::ModelError);
    assert_eq!(answer, None);
    let error = error.expect("the run says why it stopped");
    assert!(
        error.contains("the engine produced no output at all for 1 s"),
        "{error}"
    );
    // The core stays usable after the failed run.
    assert!(handle.submit("again"));
}
