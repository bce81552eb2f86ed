//! The agent loop's guards, driven in-process by scripted models: a repeated
//! call is refused, calls written inside the reasoning run, a turn cut at the
//! token limit runs no half-written call, and malformed output is retried and
//! then fails. Every test also checks that each prompt extends the previous
//! one exactly (the raw output stays in the conversation as generated).

mod common;

use glint::agent::{AgentConfig, Event, GuardSettings, RunStatus};
use glint::engine::FinishReason;
use glint::engine::scripted::Completion;

use common::agent_harness::{ScriptedRun, agent_config, run_answering, scripted};
use common::{Sandbox, assert_extends, tool_results};

const LIST: &str = "<tool_call>list_dir<arg_key>path</arg_key><arg_value>.</arg_value></tool_call>";
const READ_NOTES: &str =
    "<tool_call>read_file<arg_key>path</arg_key><arg_value>notes.txt</arg_value></tool_call>";
const ANSWER: &str = "I have it.</think>The launch code is 4242.<|endoftext|>";

async fn run(
    completions: Vec<Completion>,
    guards: GuardSettings,
    sandbox: &Sandbox,
) -> ScriptedRun {
    let model = scripted("guards", completions, 3);
    let config = AgentConfig {
        max_turns: 20,
        guards,
        ..agent_config(model.clone(), &sandbox.workspace())
    };
    let run = run_answering(&model, config, "What is the launch code?", |event| {
        panic!("nothing asks for approval here, but this did: {event:?}")
    })
    .await;
    assert_extends(&run.prompts);
    run
}

fn warnings(run: &ScriptedRun) -> Vec<String> {
    run.events
        .iter()
        .filter_map(|event| match event {
            Event::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn finish_reasons(run: &ScriptedRun) -> Vec<FinishReason> {
    run.events
        .iter()
        .filter_map(|event| match event {
            Event::TurnFinished { finish_reason, .. } => Some(*finish_reason),
            _ => None,
        })
        .collect()
}

fn text(raw: &str) -> Completion {
    Completion::from(raw)
}

fn looping_script() -> Vec<Completion> {
    vec![
        text(&format!("Look.</think>{LIST}<|observation|>")),
        text(&format!("Look again.</think>{LIST}<|observation|>")),
        text(&format!("And again.</think>{LIST}<|observation|>")),
        text(ANSWER),
    ]
}

#[tokio::test]
async fn the_third_identical_call_is_refused_and_the_run_still_finishes() {
    let sandbox = Sandbox::create();
    let run = run(looping_script(), GuardSettings::default(), &sandbox).await;
    let results = tool_results(&run.events);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].1 && results[1].1, "the first two calls run");
    assert_eq!(results[0].2, results[1].2);
    let (_, ok, output) = &results[2];
    assert!(!ok, "the third call is refused");
    assert!(
        output.contains("glint refused to run this call"),
        "{output}"
    );
    assert!(output.contains("two calls just before it"), "{output}");
    assert!(output.contains("answer"), "suggests what to do: {output}");
    assert!(
        !output.contains("notes.txt"),
        "the call did not run: {output}"
    );
    // The refusal is the result the model sees for that call.
    assert!(run.added(2).contains(output.as_str()));
    let warnings = warnings(&run);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("refused a repeated call: list_dir"));
    assert_eq!(run.finished().0, RunStatus::Completed);
    assert_eq!(
        run.finished().1.as_deref(),
        Some("The launch code is 4242.")
    );
}

#[tokio::test]
async fn the_repeat_threshold_is_configurable() {
    let sandbox = Sandbox::create();
    let off = GuardSettings {
        doom_loop_threshold: 0,
        ..GuardSettings::default()
    };
    let run = run(looping_script(), off, &sandbox).await;
    assert!(
        tool_results(&run.events).iter().all(|(_, ok, _)| *ok),
        "guard off: all run"
    );
    assert!(warnings(&run).is_empty());

    let two = GuardSettings {
        doom_loop_threshold: 2,
        ..GuardSettings::default()
    };
    let run = run_with(looping_script(), two, &sandbox).await;
    let oks: Vec<bool> = tool_results(&run.events)
        .iter()
        .map(|(_, ok, _)| *ok)
        .collect();
    assert_eq!(oks, [true, false, false], "the 2nd and 3rd are refused");
}

async fn run_with(
    completions: Vec<Completion>,
    guards: GuardSettings,
    sandbox: &Sandbox,
) -> ScriptedRun {
    run(completions, guards, sandbox).await
}

#[tokio::test]
async fn failed_calls_do_not_count_as_repeats() {
    let sandbox = Sandbox::create();
    let missing =
        "<tool_call>read_file<arg_key>path</arg_key><arg_value>missing.txt</arg_value></tool_call>";
    let script = vec![
        text(&format!("Read.</think>{missing}<|observation|>")),
        text(&format!("Again.</think>{missing}<|observation|>")),
        text(&format!("Again.</think>{missing}<|observation|>")),
        text(ANSWER),
    ];
    let run = run(script, GuardSettings::default(), &sandbox).await;
    let results = tool_results(&run.events);
    assert_eq!(results.len(), 3);
    for (_, ok, output) in &results {
        assert!(!ok);
        assert!(!output.contains("glint refused"), "it ran: {output}");
    }
    assert!(warnings(&run).is_empty());
}

#[tokio::test]
async fn a_call_inside_unclosed_reasoning_runs_and_the_raw_text_stays() {
    let sandbox = Sandbox::create();
    let leaked = format!("I should read the notes. {READ_NOTES}<|observation|>");
    let run = run(
        vec![text(&leaked), text(ANSWER)],
        GuardSettings::default(),
        &sandbox,
    )
    .await;
    let results = tool_results(&run.events);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].0, "read_file");
    assert!(results[0].1, "{}", results[0].2);
    assert!(results[0].2.contains("The launch code is 4242."));
    // The turn is written back exactly as generated, then the result.
    let after = run.added(0);
    assert!(
        after.starts_with(&format!("I should read the notes. {READ_NOTES}")),
        "{after}"
    );
    assert!(after.contains("<tool_response>"), "{after}");
    assert_eq!(finish_reasons(&run)[0], FinishReason::ToolCalls);
    assert_eq!(run.finished().0, RunStatus::Completed);
}

#[tokio::test]
async fn a_call_inside_closed_reasoning_runs_when_nothing_follows() {
    let sandbox = Sandbox::create();
    let leaked = format!("Reading. {READ_NOTES}</think><|observation|>");
    let run = run(
        vec![text(&leaked), text(ANSWER)],
        GuardSettings::default(),
        &sandbox,
    )
    .await;
    assert_eq!(tool_results(&run.events).len(), 1);
    assert!(tool_results(&run.events)[0].1);
    assert_eq!(run.finished().0, RunStatus::Completed);
}

#[tokio::test]
async fn a_malformed_call_inside_the_reasoning_is_reported_like_any_other() {
    let sandbox = Sandbox::create();
    let bad = "<tool_call>read_file<arg_key>path</arg_key><arg_value>notes.txt</arg_value><arg_key>limit</arg_key><arg_value>ten</arg_value></tool_call>";
    let run = run(
        vec![text(&format!("Read. {bad}<|observation|>")), text(ANSWER)],
        GuardSettings::default(),
        &sandbox,
    )
    .await;
    let results = tool_results(&run.events);
    assert_eq!(results.len(), 1);
    assert!(!results[0].1);
    assert!(results[0].2.contains("limit"), "{}", results[0].2);
    assert!(run.added(0).contains(&results[0].2));
    assert_eq!(run.finished().0, RunStatus::Completed);
}

#[tokio::test]
async fn a_call_quoted_in_reasoning_before_a_plain_answer_is_not_run() {
    let sandbox = Sandbox::create();
    let quoted = format!("I could run {READ_NOTES} but I know it.</think>It is 4242.<|endoftext|>");
    let run = run(vec![text(&quoted)], GuardSettings::default(), &sandbox).await;
    assert!(tool_results(&run.events).is_empty());
    assert_eq!(run.finished().1.as_deref(), Some("It is 4242."));
}

#[tokio::test]
async fn a_turn_cut_at_the_token_limit_runs_no_half_call_and_tells_the_model() {
    let sandbox = Sandbox::create();
    let cut = "Write it.</think><tool_call>write_file<arg_key>path</arg_key><arg_value>out.txt</arg_value><arg_key>content</arg_key><arg_value>half of the";
    let run = run(
        vec![
            Completion::finished(cut, FinishReason::Length),
            text("Smaller steps now.</think>I will write it in parts.<|endoftext|>"),
        ],
        GuardSettings::default(),
        &sandbox,
    )
    .await;
    assert!(
        tool_results(&run.events).is_empty(),
        "the half call did not run"
    );
    assert!(!sandbox.workspace().join("out.txt").exists());
    assert_eq!(
        finish_reasons(&run),
        [FinishReason::Length, FinishReason::Stop]
    );
    let warnings = warnings(&run);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("cut"), "{}", warnings[0]);
    let told = run.added(0);
    assert!(told.starts_with(cut), "the raw cut output stays: {told}");
    assert!(
        told.contains("<|user|>glint: your last output was cut off"),
        "{told}"
    );
    assert!(
        told.contains("unfinished tool call in it was not run"),
        "{told}"
    );
    assert!(
        told.contains("generated tokens"),
        "says how much was used: {told}"
    );
    assert_eq!(run.finished().0, RunStatus::Completed);
}

#[tokio::test]
async fn complete_calls_before_the_cut_run() {
    let sandbox = Sandbox::create();
    let cut = format!("Read.</think>{READ_NOTES}<tool_call>list_dir<arg_key>pa");
    let run = run(
        vec![
            Completion::finished(cut, FinishReason::Length),
            text(ANSWER),
        ],
        GuardSettings::default(),
        &sandbox,
    )
    .await;
    let results = tool_results(&run.events);
    assert_eq!(results.len(), 1, "only the whole call: {results:?}");
    assert_eq!(results[0].0, "read_file");
    assert_eq!(finish_reasons(&run)[0], FinishReason::Length);
    assert!(run.added(0).contains("glint: your last output was cut off"));
}

/// Every broken shape the issue names, as the model would emit it.
fn broken_shapes() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "unclosed call",
            "Read.</think><tool_call>read_file<arg_key>path</arg_key><arg_value>notes.txt".into(),
            "never closed it",
        ),
        (
            "unclosed call then observation",
            "Read.</think><tool_call>read_file<arg_key>path</arg_key><|observation|>".into(),
            "never closed it",
        ),
        (
            "empty completion",
            String::new(),
            "your last turn was empty",
        ),
        (
            "</think> alone",
            "</think>".into(),
            "your last turn was empty",
        ),
        (
            "empty call",
            "Call.</think><tool_call></tool_call><|observation|>".into(),
            "names no tool",
        ),
    ]
}

#[tokio::test]
async fn each_broken_shape_is_retried_then_fails_the_run() {
    for (shape, raw, told) in broken_shapes() {
        let sandbox = Sandbox::create();
        let script = vec![text(&raw), text(&raw), text(&raw)];
        let run = run(script, GuardSettings::default(), &sandbox).await;
        assert_eq!(run.prompts.len(), 3, "{shape}: two retries");
        let (status, answer, error) = run.finished();
        assert_eq!(status, RunStatus::MalformedOutput, "{shape}");
        assert_eq!(answer, None, "{shape}: no markup shown as an answer");
        let error = error.unwrap_or_default();
        assert!(
            error.contains("malformed 3 times in a row"),
            "{shape}: {error}"
        );
        assert!(run.added(0).contains(told), "{shape}: {}", run.added(0));
        assert!(run.added(0).contains("<|user|>glint: "), "{shape}");
        assert_eq!(warnings(&run).len(), 2, "{shape}");
        assert!(tool_results(&run.events).is_empty(), "{shape}: nothing ran");
    }
}

#[tokio::test]
async fn broken_output_then_a_good_answer_completes() {
    let sandbox = Sandbox::create();
    let script = vec![
        text("Read.</think><tool_call>read_file<arg_key>path</arg_key><|observation|>"),
        text(&format!("Properly now.</think>{READ_NOTES}<|observation|>")),
        text(ANSWER),
    ];
    let run = run(script, GuardSettings::default(), &sandbox).await;
    assert_eq!(tool_results(&run.events).len(), 1);
    assert_eq!(run.finished().0, RunStatus::Completed);
    assert_eq!(
        run.finished().1.as_deref(),
        Some("The launch code is 4242.")
    );
}

#[tokio::test]
async fn retries_are_configurable() {
    let sandbox = Sandbox::create();
    let none = GuardSettings {
        max_retries: 0,
        ..GuardSettings::default()
    };
    let run = run(vec![text("</think>")], none, &sandbox).await;
    assert_eq!(run.prompts.len(), 1);
    assert_eq!(run.finished().0, RunStatus::MalformedOutput);
}
