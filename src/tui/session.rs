//! The agent and the engine behind the app: loads models in the background,
//! starts the agent once a model is ready, carries the conversation over a
//! model switch and starts new conversations.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use crate::agent::{self, AgentConfig, AgentHandle, Event, GuardSettings};
use crate::approval::{Approvals, Decision};
use crate::conversation::Message;
use crate::engine::local::{LoadEvent, LoadProgress};
use crate::engine::{self, Model, ModelSpec, OpenError, OpenOptions};
use crate::session::{Continued, SessionError, SessionLog, Sessions, Summary};
use crate::tools::{ShellPolicy, ToolRegistry};
use crate::workspace::Workspace;

/// Everything a session needs besides the model.
#[derive(Clone)]
pub struct SessionOptions {
    pub open_options: OpenOptions,
    pub workspace: Workspace,
    pub tools: Arc<ToolRegistry>,
    /// Settled at each conversation's first turn (see
    /// [`crate::prompts::SystemPromptSource`]).
    pub system_prompt: crate::prompts::SystemPromptSource,
    pub max_turns: u32,
    pub thinking: bool,
    pub shell: ShellPolicy,
    pub guards: GuardSettings,
    /// The session's approval state, shared with every agent it starts
    /// (allowed prefixes survive a model switch and `/new`).
    pub approval: Approvals,
    /// The workspace's session logs (`None`: nothing is recorded).
    pub sessions: Option<Sessions>,
    /// A new session's log, when the app starts one.
    pub log: Option<SessionLog>,
    /// The log of the session the app takes up again (`--resume`,
    /// `--continue`), read in the background once the app runs.
    pub resume: Option<PathBuf>,
}

/// Something the session reports to the app.
pub enum SessionEvent {
    Load(LoadEvent),
    /// A model finished loading and the agent runs on it.
    Ready {
        label: String,
        context_window: Option<u64>,
    },
    /// Loading failed; `fallback` names the model the agent still runs on
    /// (after a failed `/model SPEC`), if any.
    LoadFailed {
        error: String,
        fallback: Option<(String, Option<u64>)>,
    },
    Agent(Event),
    /// The agent stopped on its own (it never should).
    AgentStopped,
    /// What the user sent in past sessions of the workspace, newest last
    /// (read in the background, for the composer's history).
    History(Vec<String>),
    /// A session was taken up again (or could not be: then a new one
    /// started); the agent continues its conversation.
    Resumed(Result<Continued, String>),
}

type Loading = JoinHandle<Result<Arc<dyn Model>, OpenError>>;

pub struct Session {
    options: SessionOptions,
    model: Option<Arc<dyn Model>>,
    agent: Option<AgentHandle>,
    loading: Option<Loading>,
    load_tx: UnboundedSender<LoadEvent>,
    load_rx: UnboundedReceiver<LoadEvent>,
    /// The log the agent records to.
    log: Option<SessionLog>,
    /// The conversation the next agent starts with, when no agent runs to
    /// hand one over (a resume before the model is ready).
    pending: Vec<Message>,
    history: Option<JoinHandle<Vec<String>>>,
    /// A session log being read, to resume. Until it is, a loaded model
    /// is not reported ready, so no message goes to the wrong conversation.
    resuming: Option<JoinHandle<Result<Continued, SessionError>>>,
}

impl Session {
    pub fn new(mut options: SessionOptions) -> Session {
        let (load_tx, load_rx) = unbounded_channel();
        let log = options.log.take();
        // Reading logs can take a while: never before the first frame.
        let history = options
            .sessions
            .clone()
            .map(|sessions| tokio::task::spawn_blocking(move || sessions.history()));
        let resuming = match (options.resume.take(), options.sessions.clone()) {
            (Some(path), Some(sessions)) => Some(tokio::task::spawn_blocking(move || {
                sessions.resume_at(&path)
            })),
            _ => None,
        };
        Session {
            options,
            model: None,
            agent: None,
            loading: None,
            load_tx,
            load_rx,
            log,
            pending: Vec::new(),
            history,
            resuming,
        }
    }

    /// Starts loading the model `spec` names in the background; the agent
    /// moves to it (with the conversation) once it is ready.
    pub fn load(&mut self, spec: &str) -> Result<(), String> {
        let spec = ModelSpec::parse(spec).map_err(|error| error.to_string())?;
        if let Some(previous) = self.loading.take() {
            previous.abort();
        }
        let options = self.options.open_options.clone();
        let tx = self.load_tx.clone();
        let progress: LoadProgress = Arc::new(move |event: LoadEvent| {
            let _ = tx.send(event);
        });
        self.loading = Some(tokio::spawn(async move {
            engine::open(&spec, &options, progress).await
        }));
        Ok(())
    }

    /// The next thing that happened; waits forever when nothing can happen.
    pub async fn next_event(&mut self) -> SessionEvent {
        tokio::select! {
            biased;
            Some(event) = self.load_rx.recv() => SessionEvent::Load(event),
            Some(history) = wait_history(&mut self.history) => {
                self.history = None;
                SessionEvent::History(history)
            }
            result = wait_resuming(&mut self.resuming) => {
                self.resuming = None;
                self.resumed(result).await
            }
            result = wait_loading(&mut self.loading), if self.resuming.is_none() => {
                self.loading = None;
                match result {
                    Ok(Ok(model)) => self.start_agent(model).await,
                    Ok(Err(error)) => self.load_failed(error.to_string()),
                    Err(error) => self.load_failed(format!("loading the model stopped: {error}")),
                }
            }
            event = wait_agent(&mut self.agent) => match event {
                Some(event) => SessionEvent::Agent(event),
                None => {
                    self.agent = None;
                    SessionEvent::AgentStopped
                }
            },
        }
    }

    fn load_failed(&self, error: String) -> SessionEvent {
        let fallback = self
            .model
            .as_ref()
            .filter(|_| self.agent.is_some())
            .map(|model| (model.describe(), model.context_window()));
        SessionEvent::LoadFailed { error, fallback }
    }

    /// Runs the agent on `model`, continuing the conversation of the agent
    /// it replaces.
    async fn start_agent(&mut self, model: Arc<dyn Model>) -> SessionEvent {
        let messages = match self.agent.take() {
            Some(agent) => {
                self.model_switched(&model.describe());
                agent.shutdown().await
            }
            None => std::mem::take(&mut self.pending),
        };
        let label = model.describe();
        let context_window = model.context_window();
        self.agent = Some(agent::spawn_with_log(
            self.config(model.clone()),
            messages,
            self.log.clone(),
        ));
        self.model = Some(model);
        SessionEvent::Ready {
            label,
            context_window,
        }
    }

    fn config(&self, model: Arc<dyn Model>) -> AgentConfig {
        AgentConfig {
            model,
            tools: self.options.tools.clone(),
            workspace: self.options.workspace.clone(),
            system_prompt: self.options.system_prompt.clone(),
            max_turns: self.options.max_turns,
            thinking: self.options.thinking,
            shell: self.options.shell.clone(),
            guards: self.options.guards,
            approval: self.options.approval.clone(),
        }
    }

    /// Sends a user message; false when no agent runs yet.
    pub fn submit(&self, text: String) -> bool {
        self.agent.as_ref().is_some_and(|agent| agent.submit(text))
    }

    /// Sends `op` to the agent; false when no agent runs yet.
    pub fn send(&self, op: agent::Op) -> bool {
        self.agent.as_ref().is_some_and(|agent| agent.send(op))
    }

    /// What the session log records of this session's compactions
    /// (`/compacted`), read in the background.
    pub async fn compactions(
        &self,
    ) -> Result<Vec<crate::session::record::CompactionRecord>, String> {
        let Some(log) = &self.log else {
            return Err("this session is not recorded, so its compactions are not either".into());
        };
        let path = log.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            // The log appears with its first record.
            if !path.exists() {
                return Ok(Vec::new());
            }
            crate::session::load(&path).map(|loaded| loaded.compactions)
        })
        .await
        .map_err(|error| format!("reading the session log stopped: {error}"))?
        .map_err(|error| error.to_string())
    }

    /// Answers the approval request for tool call `id`.
    pub fn approve(&self, id: String, decision: Decision) {
        if let Some(agent) = &self.agent {
            agent.send(agent::Op::Approve { id, decision });
        }
    }

    pub fn cancel(&self) {
        if let Some(agent) = &self.agent {
            agent.cancel();
        }
    }

    /// Drops the conversation: a fresh agent on the same model, recording
    /// to a new session log.
    pub async fn new_conversation(&mut self) {
        if let Some(agent) = self.agent.take() {
            let _ = agent.shutdown().await;
        }
        self.pending.clear();
        self.log = self.options.sessions.as_ref().map(Sessions::new_log);
        if let Some(model) = self.model.clone() {
            self.agent = Some(agent::spawn_with_log(
                self.config(model),
                Vec::new(),
                self.log.clone(),
            ));
        }
    }

    /// Takes up session `id` (`None`: the latest other than this one): its
    /// log is read in the background and [`SessionEvent::Resumed`] says
    /// when the agent continues it. An error here is one the user can fix
    /// at once (no such session).
    pub fn resume(&mut self, id: Option<String>) -> Result<(), String> {
        let sessions = self.options.sessions.clone().ok_or(
            "sessions are not recorded (no data directory); set XDG_DATA_HOME and restart glint",
        )?;
        let current = self.log.as_ref().map(|log| log.id().to_string());
        let path = sessions
            .locate(id.as_deref(), current.as_deref())
            .map_err(|error| error.to_string())?;
        if let Some(previous) = self.resuming.take() {
            previous.abort();
        }
        self.resuming = Some(tokio::task::spawn_blocking(move || {
            sessions.resume_at(&path)
        }));
        Ok(())
    }

    /// A session log was read: the agent (if one runs already) restarts on
    /// its conversation, recording to it. One that cannot be read leaves a
    /// new session (at startup) or the current one (after `/resume`).
    async fn resumed(
        &mut self,
        result: Result<Result<Continued, SessionError>, tokio::task::JoinError>,
    ) -> SessionEvent {
        let continued = match result {
            Ok(Ok(continued)) => continued,
            Ok(Err(error)) => return self.resume_failed(error.to_string()),
            Err(error) => {
                return self.resume_failed(format!("reading the session stopped: {error}"));
            }
        };
        self.log = Some(continued.log.clone());
        self.pending = continued.messages.clone();
        if let Some(agent) = self.agent.take() {
            let _ = agent.shutdown().await;
            if let Some(model) = self.model.clone() {
                let messages = std::mem::take(&mut self.pending);
                self.agent = Some(agent::spawn_with_log(
                    self.config(model),
                    messages,
                    self.log.clone(),
                ));
            }
        }
        SessionEvent::Resumed(Ok(continued))
    }

    fn resume_failed(&mut self, error: String) -> SessionEvent {
        if self.log.is_none() {
            self.log = self.options.sessions.as_ref().map(Sessions::new_log);
            return SessionEvent::Resumed(Err(format!("{error}; this is a new session")));
        }
        SessionEvent::Resumed(Err(error))
    }

    /// The workspace's sessions, newest first.
    pub async fn list_sessions(&self) -> Result<Vec<Summary>, String> {
        let sessions = self.options.sessions.clone().ok_or(
            "sessions are not recorded (no data directory); set XDG_DATA_HOME and restart glint",
        )?;
        tokio::task::spawn_blocking(move || sessions.list())
            .await
            .map_err(|error| format!("listing the sessions stopped: {error}"))?
            .map_err(|error| error.to_string())
    }

    /// Notes a model switch in the log; later resumes record the new model.
    fn model_switched(&mut self, label: &str) {
        if let Some(sessions) = self.options.sessions.as_mut() {
            sessions.set_model(label);
        }
        if let Some(log) = &self.log
            && let Err(error) = log.record(&crate::session::Record::Model {
                model: label.to_string(),
            })
        {
            tracing::warn!("{error}");
        }
    }

    /// Stops the agent (cancelling any run) and any loading.
    pub async fn shutdown(mut self) {
        if let Some(loading) = self.loading.take() {
            loading.abort();
        }
        if let Some(agent) = self.agent.take() {
            let _ = agent.shutdown().await;
        }
    }
}

async fn wait_loading(
    loading: &mut Option<Loading>,
) -> Result<Result<Arc<dyn Model>, OpenError>, tokio::task::JoinError> {
    match loading {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

async fn wait_history(history: &mut Option<JoinHandle<Vec<String>>>) -> Option<Vec<String>> {
    match history {
        Some(handle) => Some(handle.await.unwrap_or_default()),
        None => std::future::pending().await,
    }
}

async fn wait_resuming(
    resuming: &mut Option<JoinHandle<Result<Continued, SessionError>>>,
) -> Result<Result<Continued, SessionError>, tokio::task::JoinError> {
    match resuming {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

async fn wait_agent(agent: &mut Option<AgentHandle>) -> Option<Event> {
    match agent {
        Some(agent) => agent.next_event().await,
        None => std::future::pending().await,
    }
}
