//! The agent core: takes [`Op`]s, runs the tool-calling loop on a [`Model`],
//! and emits [`Event`]s. The headless runner and the TUI drive this same core.

pub mod compact;
mod events;
mod guards;
mod ops;
mod run;
mod turn_check;

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::approval::Approvals;
use crate::conversation::Message;
use crate::engine::Model;
use crate::tools::{ShellPolicy, ToolRegistry};
use crate::workspace::Workspace;

pub use events::{Event, RunStatus};
pub use guards::{DEFAULT_DOOM_LOOP_THRESHOLD, DEFAULT_MAX_RETRIES, GuardSettings};
pub use ops::Op;
use run::Session;

/// Default for `--max-turns`.
pub const DEFAULT_MAX_TURNS: u32 = 50;

/// Everything a session needs.
pub struct AgentConfig {
    pub model: Arc<dyn Model>,
    pub tools: Arc<ToolRegistry>,
    pub workspace: Workspace,
    /// The filled-in system prompt (empty for none), settled at the first
    /// turn, when the repo map is added if it is ready.
    pub system_prompt: crate::prompts::SystemPromptSource,
    pub max_turns: u32,
    /// Whether the model reasons before answering.
    pub thinking: bool,
    /// How the shell tool runs commands.
    pub shell: ShellPolicy,
    /// The repeated-call guard and the retry budget for malformed output.
    pub guards: GuardSettings,
    /// Which tool calls wait for the user (shared with the front end, which
    /// answers them and may switch the policy).
    pub approval: Approvals,
}

/// A running agent core: send ops, receive events.
pub struct AgentHandle {
    ops: UnboundedSender<Op>,
    events: UnboundedReceiver<Event>,
    task: JoinHandle<Vec<Message>>,
}

/// Starts an agent core on the current tokio runtime.
pub fn spawn(config: AgentConfig) -> AgentHandle {
    spawn_with_messages(config, Vec::new())
}

/// Starts an agent core that continues an existing conversation (what
/// [`AgentHandle::shutdown`] returned), e.g. after the front end switched
/// models. `messages` already holds the system prompt when it has any
/// message at all.
pub fn spawn_with_messages(config: AgentConfig, messages: Vec<Message>) -> AgentHandle {
    spawn_with_log(config, messages, None)
}

/// [`spawn_with_messages`], recording every message appended from now on
/// (and each turn's usage, each run's outcome, each checkpoint) to `log`
/// (see [`crate::session`]). `messages` are taken as already recorded.
pub fn spawn_with_log(
    config: AgentConfig,
    messages: Vec<Message>,
    log: Option<crate::session::SessionLog>,
) -> AgentHandle {
    let (ops_tx, ops_rx) = unbounded_channel();
    let (events_tx, events_rx) = unbounded_channel();
    let task = tokio::spawn(serve(config, messages, log, ops_rx, events_tx));
    AgentHandle {
        ops: ops_tx,
        events: events_rx,
        task,
    }
}

impl AgentHandle {
    /// Sends an op; returns false when the core has already stopped.
    pub fn send(&self, op: Op) -> bool {
        self.ops.send(op).is_ok()
    }

    pub fn submit(&self, text: impl Into<String>) -> bool {
        self.send(Op::Submit { text: text.into() })
    }

    pub fn cancel(&self) -> bool {
        self.send(Op::Cancel)
    }

    /// A sender for ops that can live elsewhere (a signal handler, say).
    pub fn op_sender(&self) -> UnboundedSender<Op> {
        self.ops.clone()
    }

    /// The next event; `None` once the core has stopped and all events were read.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Stops the core (cancelling any run) and returns the conversation.
    pub async fn shutdown(self) -> Vec<Message> {
        let _ = self.ops.send(Op::Shutdown);
        drop(self.events);
        self.task.await.unwrap_or_default()
    }
}

/// The core's main loop: one run (or compaction) at a time, while still
/// listening for ops so that a cancel reaches it.
async fn serve(
    config: AgentConfig,
    messages: Vec<Message>,
    log: Option<crate::session::SessionLog>,
    mut ops: UnboundedReceiver<Op>,
    events: UnboundedSender<Event>,
) -> Vec<Message> {
    let approvals = config.approval.clone();
    let mut session = Session::new(config, messages, events.clone());
    session.set_log(log);
    let requests = session.requests();
    let busy = Busy {
        approvals,
        events,
        requests,
    };
    // Ops that came while an idle compaction ran, taken up after it.
    let mut deferred: VecDeque<Op> = VecDeque::new();
    loop {
        let op = match deferred.pop_front() {
            Some(op) => op,
            None => match ops.recv().await {
                Some(op) => op,
                None => break,
            },
        };
        let cancel = CancellationToken::new();
        let stopping = match op {
            Op::Submit { text } => {
                let run = session.run(text, cancel.clone());
                if busy.drive(run, &mut ops, &cancel, None).await {
                    true
                } else {
                    // Pins and a `/compact` sent during the run's last turn.
                    let cancel = CancellationToken::new();
                    let work = session.apply_requests(&cancel);
                    busy.drive(work, &mut ops, &cancel, Some(&mut deferred))
                        .await
                }
            }
            Op::Pin { text } => {
                busy.lock_requests().pin(text);
                let work = session.apply_requests(&cancel);
                busy.drive(work, &mut ops, &cancel, Some(&mut deferred))
                    .await
            }
            Op::Compact => {
                busy.lock_requests().compact();
                let work = session.apply_requests(&cancel);
                busy.drive(work, &mut ops, &cancel, Some(&mut deferred))
                    .await
            }
            Op::Cancel | Op::Approve { .. } => false,
            Op::Shutdown => true,
        };
        if stopping {
            break;
        }
    }
    session.into_messages()
}

/// What the op loop needs while the session is busy.
struct Busy {
    approvals: Approvals,
    events: UnboundedSender<Event>,
    requests: run::SharedRequests,
}

impl Busy {
    fn lock_requests(&self) -> std::sync::MutexGuard<'_, run::Requests> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drives `work` (a run, or a compaction while idle) to its end while
    /// answering ops. With `deferred` (an idle compaction, which the front
    /// end may not know of) a message, pin or `/compact` sent meanwhile
    /// waits there; during a run a message is refused and pins and
    /// `/compact` are taken up before its next model turn. Returns whether
    /// the core is to stop.
    async fn drive(
        &self,
        work: impl std::future::Future,
        ops: &mut UnboundedReceiver<Op>,
        cancel: &CancellationToken,
        mut deferred: Option<&mut VecDeque<Op>>,
    ) -> bool {
        tokio::pin!(work);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = &mut work => return stopping,
                op = ops.recv(), if !stopping => match op {
                    Some(Op::Cancel) => cancel.cancel(),
                    Some(Op::Approve { id, decision }) => {
                        if !self.approvals.answer(&id, decision) {
                            let _ = self.events.send(Event::Warning {
                                message: format!("no approval is waiting for call {id}; it was already answered or cancelled"),
                            });
                        }
                    }
                    Some(op @ (Op::Submit { .. } | Op::Pin { .. } | Op::Compact)) => match deferred.as_deref_mut() {
                        Some(deferred) => deferred.push_back(op),
                        None => match op {
                            Op::Pin { text } => self.lock_requests().pin(text),
                            Op::Compact => self.lock_requests().compact(),
                            _ => {
                            let _ = self.events.send(Event::Warning {
                                message: "a run is in progress; wait for it or cancel it before sending another message".into(),
                            });
                            }
                        },
                    },
                    Some(Op::Shutdown) | None => {
                        cancel.cancel();
                        stopping = true;
                    }
                },
            }
        }
    }
}
