//! What the compaction tests share: scripted turns, a short tool list, a
//! workspace of big and small files, and an agent core on a scripted model
//! with a context window.

use std::sync::Arc;

use glint::agent::compact::CompactionSettings;
use glint::agent::{self, AgentConfig, AgentHandle, Event, GuardSettings, Op};
use glint::conversation::Message;
use glint::engine::GlmModel;
use glint::engine::scripted::{Completion, ScriptedModel};
use glint::session::SessionLog;
use glint::tools::{ReadFile, ShellPolicy, ToolRegistry, UpdatePlan, embedded_tool_files};
use glint::workspace::Workspace;

use crate::common::{Sandbox, until_finished};

pub const TASK: &str = "Read the big files and tell me what they hold.";
pub const PIN: &str = "Never edit files under migrations/.";

pub fn read(path: &str, reasoning: &str) -> Completion {
    Completion::from(format!(
        "{reasoning}</think>\n<tool_call>read_file\n<arg_key>path</arg_key>\n<arg_value>{path}</arg_value>\n</tool_call><|observation|>"
    ))
}

pub fn plan_call() -> Completion {
    Completion::from(
        "Plan first.</think>\n<tool_call>update_plan\n<arg_key>plan</arg_key>\n<arg_value>[{\"step\": \"Read the files\", \"status\": \"in_progress\"}, {\"step\": \"Report\", \"status\": \"pending\"}]</arg_value>\n</tool_call><|observation|>",
    )
}

pub fn answer(text: &str) -> Completion {
    Completion::from(format!("Done.</think>{text}<|endoftext|>"))
}

/// The hand-off note; its tool call must not run.
pub const NOTE: &str = "Goal: report what the big files hold. Plan: reading, then report. Files: big1.txt to big4.txt, read.";

pub fn note() -> Completion {
    Completion::from(format!(
        "Writing the note.</think>{NOTE}\n<tool_call>read_file\n<arg_key>path</arg_key>\n<arg_value>secret.txt</arg_value>\n</tool_call><|observation|>"
    ))
}

/// read_file and update_plan only: a short tool list keeps these prompts
/// about the conversation.
pub fn tools() -> Arc<ToolRegistry> {
    let spec = |name: &str| {
        let (_, json) = embedded_tool_files()
            .iter()
            .find(|(file, _)| *file == name)
            .expect("the tool's spec is embedded");
        glint::tools::parse_tool_spec(name, json).expect("the spec parses")
    };
    let mut registry = ToolRegistry::new();
    registry
        .register(ReadFile, spec("read_file"))
        .expect("read_file registers");
    registry
        .register(UpdatePlan, spec("update_plan"))
        .expect("update_plan registers");
    Arc::new(registry)
}

/// A workspace with `big1.txt`..`big4.txt` (about 16 KB each) and
/// `small1.txt`..`small6.txt`.
pub fn workspace() -> Sandbox {
    let sandbox = Sandbox::create();
    for n in 1..=4 {
        let text: String = (1..=320)
            .map(|line| format!("big{n} line {line}: the quick brown fox jumps over it\n"))
            .collect();
        std::fs::write(sandbox.workspace().join(format!("big{n}.txt")), text).expect("write");
    }
    for n in 1..=6 {
        std::fs::write(
            sandbox.workspace().join(format!("small{n}.txt")),
            format!("small file {n}\n"),
        )
        .expect("write");
    }
    sandbox
}

pub struct Agent {
    pub handle: AgentHandle,
    pub model: Arc<GlmModel<ScriptedModel>>,
}

pub fn start(
    sandbox: &Sandbox,
    completions: Vec<Completion>,
    window: u64,
    keep_turns: usize,
    messages: Vec<Message>,
    log: Option<SessionLog>,
) -> Agent {
    let scripted = ScriptedModel::new("compaction", completions, 5).with_context_window(window);
    let model = Arc::new(GlmModel::new(scripted));
    let guards = GuardSettings {
        compaction: CompactionSettings {
            keep_turns,
            ..CompactionSettings::default()
        },
        ..GuardSettings::default()
    };
    let handle = agent::spawn_with_log(
        AgentConfig {
            model: model.clone(),
            tools: tools(),
            workspace: Workspace::new(sandbox.workspace()).expect("workspace"),
            system_prompt: "You are glint.".into(),
            max_turns: 20,
            thinking: true,
            shell: ShellPolicy::default(),
            guards,
            approval: Default::default(),
        },
        messages,
        log,
    );
    Agent { handle, model }
}

/// Events until `done` says so (bounded: a core that never gets there
/// fails the test).
pub async fn until(handle: &mut AgentHandle, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(60), handle.next_event())
            .await
            .expect("the event comes")
            .expect("the core is alive");
        let stop = done(&event);
        events.push(event);
        if stop {
            return events;
        }
    }
}

/// Each turn's prompt tokens, as the engine reported them.
pub fn prompt_tokens(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TurnFinished { usage, .. } => usage.prompt_tokens,
            _ => None,
        })
        .collect()
}

pub fn compactions(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| matches!(e, Event::CompactionStarted { .. } | Event::Compacted { .. }))
        .collect()
}

/// Where each event kind happened: "turn 3", "compaction_started", ...
pub fn timeline(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TurnStarted { turn } => Some(format!("turn {turn}")),
            Event::CompactionStarted { .. } => Some("compaction_started".into()),
            Event::Compacted { .. } => Some("compacted".into()),
            Event::ToolCallStarted { name, .. } => Some(format!("call {name}")),
            _ => None,
        })
        .collect()
}

/// The window whose threshold (85%) falls halfway between two prompt sizes.
pub fn window_between(below: u64, above: u64) -> u64 {
    assert!(
        above > below + 200,
        "the prompts are too close: {below}, {above}"
    );
    ((below + above) / 2 * 100).div_ceil(85)
}

/// Runs `completions` once with a window too large to matter and returns
/// each turn's prompt tokens.
pub async fn measure(
    sandbox: &Sandbox,
    completions: Vec<Completion>,
    keep_turns: usize,
) -> Vec<u64> {
    let mut agent = start(
        sandbox,
        completions,
        100_000_000,
        keep_turns,
        Vec::new(),
        None,
    );
    agent.handle.send(Op::Pin { text: PIN.into() });
    agent.handle.submit(TASK);
    let events = until_finished(&mut agent.handle).await;
    agent.handle.shutdown().await;
    assert!(
        compactions(&events).is_empty(),
        "no compaction below the threshold"
    );
    prompt_tokens(&events)
}

pub fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}
