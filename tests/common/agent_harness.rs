//! An agent core on a scripted model, driven in-process: the config the
//! tests share, a front end that answers approval and review requests, and
//! what a run produced.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use glint::agent::{self, AgentConfig, AgentHandle, Event, Op, RunStatus};
use glint::approval::Decision;
use glint::engine::scripted::{Completion, ScriptedModel};
use glint::engine::{GlmModel, Model};
use glint::review::ChangeProposal;
use glint::tools::{ShellPolicy, ToolRegistry};
use glint::workspace::Workspace;

/// A scripted model, kept so its prompts can be read after the run.
pub type Scripted = Arc<GlmModel<ScriptedModel>>;

/// A scripted model that answers with `completions` in order.
pub fn scripted<C: Into<Completion>>(label: &str, completions: Vec<C>, seed: u64) -> Scripted {
    Arc::new(GlmModel::new(ScriptedModel::new(label, completions, seed)))
}

/// The core's config the in-process tests start from: the built-in tools,
/// ten turns, thinking on, and the default shell policy, guards and
/// approvals. A test changes what it needs with struct update syntax.
pub fn agent_config(model: Arc<dyn Model>, workspace: &Path) -> AgentConfig {
    AgentConfig {
        model,
        tools: Arc::new(ToolRegistry::builtin()),
        workspace: Workspace::new(workspace).expect("workspace"),
        system_prompt: "You are glint.".into(),
        max_turns: 10,
        thinking: true,
        shell: ShellPolicy::default(),
        guards: Default::default(),
        approval: Default::default(),
    }
}

/// Collects an agent core's events up to and including the run's
/// `RunFinished` (bounded generously: a run that never finishes fails the
/// test instead of hanging it).
pub async fn until_finished(handle: &mut AgentHandle) -> Vec<Event> {
    collect_until_finished(handle, |_, _| {}).await
}

/// [`until_finished`], showing each event to `on_event` (which may answer
/// it through the handle) before keeping it.
async fn collect_until_finished(
    handle: &mut AgentHandle,
    mut on_event: impl FnMut(&AgentHandle, &Event),
) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(120), handle.next_event())
            .await
            .expect("the run finishes")
            .expect("the core is alive");
        on_event(handle, &event);
        let done = matches!(event, Event::RunFinished { .. });
        events.push(event);
        if done {
            return events;
        }
    }
}

/// What a scripted run produced: its events and every prompt the model saw.
pub struct ScriptedRun {
    pub events: Vec<Event>,
    pub prompts: Vec<String>,
}

/// Starts a core with `config` on `model`, submits `task`, and answers
/// every approval or review request with `answer` (`None`: cancel the run
/// instead) until the run finishes; then shuts the core down.
pub async fn run_answering(
    model: &Scripted,
    config: AgentConfig,
    task: &str,
    mut answer: impl FnMut(&Event) -> Option<Decision>,
) -> ScriptedRun {
    let mut handle = agent::spawn(config);
    handle.submit(task);
    let events = collect_until_finished(&mut handle, |handle, event| {
        let (Event::ApprovalRequested { id, .. } | Event::ReviewRequested { id, .. }) = event
        else {
            return;
        };
        match answer(event) {
            Some(decision) => handle.send(Op::Approve {
                id: id.clone(),
                decision,
            }),
            None => handle.cancel(),
        };
    })
    .await;
    handle.shutdown().await;
    ScriptedRun {
        events,
        prompts: model.backend().prompts(),
    }
}

impl ScriptedRun {
    /// How the run ended, with its answer and error.
    pub fn finished(&self) -> (RunStatus, Option<String>, Option<String>) {
        match self.events.last() {
            Some(Event::RunFinished {
                status,
                answer,
                error,
                ..
            }) => (*status, answer.clone(), error.clone()),
            other => panic!("the run did not finish: {other:?}"),
        }
    }

    pub fn status(&self) -> RunStatus {
        self.finished().0
    }

    /// `(ok, output)` of each finished tool call, in order.
    pub fn results(&self) -> Vec<(bool, String)> {
        tool_results(&self.events)
            .into_iter()
            .map(|(_, ok, output)| (ok, output))
            .collect()
    }

    /// `(summary, prefix)` of each yes/no approval request.
    pub fn approval_requests(&self) -> Vec<(String, Option<String>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ApprovalRequested {
                    summary, prefix, ..
                } => Some((summary.clone(), prefix.clone())),
                _ => None,
            })
            .collect()
    }

    /// The change proposals shown for review.
    pub fn proposals(&self) -> Vec<ChangeProposal> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ReviewRequested { proposal, .. } => Some(proposal.clone()),
                _ => None,
            })
            .collect()
    }

    /// What prompt `index + 1` added after prompt `index`.
    pub fn added(&self, index: usize) -> &str {
        &self.prompts[index + 1][self.prompts[index].len()..]
    }
}

/// (name, ok, output) of every finished tool call.
pub fn tool_results(events: &[Event]) -> Vec<(String, bool, String)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::ToolCallFinished {
                name, ok, output, ..
            } => Some((name.clone(), *ok, output.clone())),
            _ => None,
        })
        .collect()
}
