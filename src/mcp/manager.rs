//! The session's MCP servers: started in the background, their tools
//! offered to the model, calls routed to them, and what changes between
//! turns.
//!
//! The prompt must extend exactly from turn to turn, and GLM's prompt holds
//! the tool list at its very start. So the MCP tools in the prompt are fixed
//! at a conversation's first turn (which waits for servers still starting,
//! each at most its `startup_timeout_sec`); tools that appear later (a
//! server that started late, `notifications/tools/list_changed`) are
//! announced to the model in a message before the next turn, never by
//! changing that list. A server that fails, exits or stops answering gives
//! a warning, and its tools answer with an error; nothing waits on it past
//! its time limits.
//!
//! Warnings wait for the next turn unless a front end takes them as they
//! happen ([`McpManager::live_warnings`]): the app shows a server that failed
//! to start at once, without a turn.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::client::Connection;
use super::config::ServerConfig;
use super::report;
use super::tool::{McpTool, full_name};
use crate::conversation::ToolSpec;

/// What a conversation's next turn needs from the MCP servers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TurnNotes {
    /// Warnings for the user (servers that failed, exited, timed out).
    pub warnings: Vec<String>,
    /// A message telling the model about tools that appeared or went away
    /// since it was last told.
    pub announcement: Option<String>,
}

/// Where a server is.
pub(super) enum State {
    Disabled,
    Starting,
    Ready {
        connection: Arc<Connection>,
        tools: Vec<McpTool>,
    },
    /// It never started: why.
    Failed(String),
    /// It started and then went away: why.
    Exited(String),
}

pub(super) struct Server {
    pub config: ServerConfig,
    pub state: Mutex<State>,
}

/// The MCP tools a conversation knows.
#[derive(Default)]
struct Offer {
    /// In the prompt's tool list since the conversation's first turn.
    frozen: Option<Vec<McpTool>>,
    /// Every tool name the model was told about (frozen or announced).
    known: HashSet<String>,
}

/// The session's MCP servers (one per glint process).
pub struct McpManager {
    workspace: PathBuf,
    pub(super) servers: Vec<Server>,
    /// Woken whenever a server's state changes.
    changed: Notify,
    offer: Mutex<Offer>,
    /// Warnings kept for the next turn.
    notices: Mutex<Vec<String>>,
    /// Where warnings go as they happen instead, once a front end asked.
    live: Mutex<Option<UnboundedSender<String>>>,
    /// Set by the first [`McpManager::start`]: the servers start once.
    started: AtomicBool,
    /// Set by [`McpManager::shutdown`]: connections ending are expected.
    stopping: AtomicBool,
}

/// The manager of this process's servers, for the surfaces that show them
/// (`/mcp`) and the approval gate (read-only hints). There is one set of
/// server processes per glint process.
static SESSION: Mutex<Option<Weak<McpManager>>> = Mutex::new(None);

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl McpManager {
    /// The servers, none started yet; see [`McpManager::start`].
    pub fn new(servers: Vec<ServerConfig>, workspace: PathBuf) -> Arc<McpManager> {
        let servers = servers
            .into_iter()
            .map(|config| Server {
                state: Mutex::new(if config.enabled {
                    State::Starting
                } else {
                    State::Disabled
                }),
                config,
            })
            .collect();
        let manager = Arc::new(McpManager {
            workspace,
            servers,
            changed: Notify::new(),
            offer: Mutex::default(),
            notices: Mutex::default(),
            live: Mutex::default(),
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        });
        *lock(&SESSION) = Some(Arc::downgrade(&manager));
        manager
    }

    /// The manager of this process's servers, if one was made.
    pub fn session() -> Option<Arc<McpManager>> {
        lock(&SESSION).as_ref().and_then(Weak::upgrade)
    }

    /// Starts every enabled server in the background on `runtime`; returns
    /// at once. Only the first call starts them.
    pub fn start(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        for index in 0..self.servers.len() {
            if matches!(*lock(&self.servers[index].state), State::Starting) {
                let manager = self.clone();
                runtime.spawn(async move { manager.start_server(index).await });
            }
        }
    }

    async fn start_server(self: Arc<Self>, index: usize) {
        let server = &self.servers[index];
        let name = &server.config.name;
        let limit = server.config.startup_timeout;
        let started =
            tokio::time::timeout(limit, Connection::start(&server.config, &self.workspace)).await;
        let mut running = None;
        let state = match started {
            Ok(Ok((connection, listed))) => {
                let connection = Arc::new(connection);
                let tools = self.offered_tools(server, &listed);
                tracing::info!("MCP server `{name}` ready with {} tools", tools.len());
                running = Some(connection.clone());
                State::Ready { connection, tools }
            }
            Ok(Err(reason)) => {
                self.notice(format!(
                    "MCP server `{name}` failed to start: {reason}; its tools are unavailable"
                ));
                State::Failed(reason)
            }
            Err(_) => {
                let reason = format!(
                    "it did not answer the MCP handshake and list its tools within {} (startup_timeout_sec)",
                    shown(limit)
                );
                self.notice(format!(
                    "MCP server `{name}` failed to start: {reason}; its tools are unavailable"
                ));
                State::Failed(reason)
            }
        };
        *lock(&server.state) = state;
        // Watched once it is Ready, so an exit right away is not missed.
        if let Some(connection) = running {
            self.watch(index, connection);
        }
        self.changed.notify_waiters();
    }

    /// The tools of `listed` the config offers, as the model sees them.
    fn offered_tools(&self, server: &Server, listed: &[rmcp::model::Tool]) -> Vec<McpTool> {
        let mut tools: Vec<McpTool> = Vec::new();
        for tool in listed.iter().filter(|t| server.config.offers(&t.name)) {
            let offered = McpTool::new(&server.config.name, tool);
            if tools.iter().any(|t| t.full_name == offered.full_name) {
                self.notice(format!(
                    "MCP server `{}` lists two tools named `{}` once cleaned; only the first is offered",
                    server.config.name, offered.full_name
                ));
                continue;
            }
            tools.push(offered);
        }
        tools
    }

    /// Marks the server exited when its connection ends (unless glint is
    /// stopping it).
    fn watch(self: &Arc<Self>, index: usize, connection: Arc<Connection>) {
        let manager = Arc::downgrade(self);
        let mut closed = connection.closed.clone();
        tokio::spawn(async move {
            while !*closed.borrow() {
                if closed.changed().await.is_err() {
                    break;
                }
            }
            if let Some(manager) = manager.upgrade() {
                manager.mark_exited(index, &connection);
            }
        });
    }

    pub(super) fn mark_exited(&self, index: usize, connection: &Arc<Connection>) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let server = &self.servers[index];
        let mut state = lock(&server.state);
        // Only the connection that ended, and only once.
        if !matches!(&*state, State::Ready { connection: c, .. } if Arc::ptr_eq(c, connection)) {
            return;
        }
        let reason = match connection.stderr.last() {
            Some(line) => format!("the server exited (its last words on stderr: {line})"),
            None => "the server exited".to_string(),
        };
        self.notice(format!(
            "MCP server `{}` stopped: {reason}; its tools now answer with an error",
            server.config.name
        ));
        *state = State::Exited(reason);
        drop(state);
        self.changed.notify_waiters();
    }

    pub(super) fn notice(&self, message: String) {
        tracing::warn!("{message}");
        let mut live = lock(&self.live);
        let message = match live.as_ref() {
            Some(sender) => match sender.send(message) {
                Ok(()) => return,
                // The front end went away: keep it for the next turn.
                Err(unsent) => {
                    *live = None;
                    unsent.0
                }
            },
            None => message,
        };
        drop(live);
        lock(&self.notices).push(message);
    }

    /// From now on, warnings (a server failed to start, exited, did not
    /// list its tools) go to the receiver as they happen instead of
    /// waiting for the next turn; any already kept come first.
    pub fn live_warnings(&self) -> UnboundedReceiver<String> {
        let (sender, receiver) = unbounded_channel();
        let mut live = lock(&self.live);
        for message in std::mem::take(&mut *lock(&self.notices)) {
            // The receiver is right here: sending cannot fail.
            let _ = sender.send(message);
        }
        *live = Some(sender);
        receiver
    }

    /// Waits until no server is still starting (each stops trying at its
    /// own `startup_timeout_sec`).
    pub async fn settle(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let starting = self
                .servers
                .iter()
                .any(|s| matches!(*lock(&s.state), State::Starting));
            if !starting {
                return;
            }
            notified.await;
        }
    }

    /// Before a turn: on a conversation's first turn (`fresh`), waits for
    /// servers still starting and fixes the tool list its prompt holds;
    /// later, re-lists servers that said their tools changed and announces
    /// what changed. Returns the warnings to show.
    pub async fn prepare_turn(&self, fresh: bool) -> TurnNotes {
        if fresh {
            self.settle().await;
        }
        self.refresh_tools().await;
        let current = self.current_tools();
        let mut offer = lock(&self.offer);
        let announcement = if fresh || offer.frozen.is_none() {
            offer.known = current.iter().map(|t| t.full_name.clone()).collect();
            offer.frozen = Some(current);
            None
        } else {
            let added: Vec<&McpTool> = current
                .iter()
                .filter(|t| !offer.known.contains(&t.full_name))
                .collect();
            let removed = self.removed_tools(&offer.known, &current);
            for tool in &added {
                offer.known.insert(tool.full_name.clone());
            }
            for name in &removed {
                offer.known.remove(name);
            }
            report::announcement(&added, &removed)
        };
        drop(offer);
        TurnNotes {
            warnings: std::mem::take(&mut *lock(&self.notices)),
            announcement,
        }
    }

    /// Known tools of running servers that no longer list them (a server
    /// that exited keeps its tools: they answer with an error).
    fn removed_tools(&self, known: &HashSet<String>, current: &[McpTool]) -> Vec<String> {
        let mut removed: Vec<String> = known
            .iter()
            .filter(|name| !current.iter().any(|t| &&t.full_name == name))
            .filter(|name| {
                self.server_of(name)
                    .is_some_and(|s| matches!(*lock(&s.state), State::Ready { .. }))
            })
            .cloned()
            .collect();
        removed.sort();
        removed
    }

    /// Lists every running server's tools again. rmcp keeps each list
    /// until the server sends `notifications/tools/list_changed`, so this
    /// asks only servers whose tools changed.
    async fn refresh_tools(&self) {
        for server in &self.servers {
            self.refresh_server(server).await;
        }
    }

    pub(super) async fn refresh_server(&self, server: &Server) {
        let connection = match &*lock(&server.state) {
            State::Ready { connection, .. } if !connection.is_closed() => connection.clone(),
            _ => return,
        };
        let listed =
            tokio::time::timeout(server.config.startup_timeout, connection.list_tools()).await;
        match listed {
            Ok(Ok(listed)) => {
                let tools = self.offered_tools(server, &listed);
                if let State::Ready { tools: current, .. } = &mut *lock(&server.state) {
                    *current = tools;
                }
            }
            // It went away meanwhile: the exit is reported on its own.
            _ if connection.is_closed() => {}
            Ok(Err(error)) => self.notice(format!(
                "MCP server `{}` did not list its tools again: {error}; keeping the earlier list",
                server.config.name
            )),
            Err(_) => self.notice(format!(
                "MCP server `{}` did not list its tools again within {}; keeping the earlier list",
                server.config.name,
                shown(server.config.startup_timeout)
            )),
        }
    }

    /// Every tool the running servers offer now, servers in config order.
    fn current_tools(&self) -> Vec<McpTool> {
        self.servers
            .iter()
            .flat_map(|server| match &*lock(&server.state) {
                State::Ready { tools, .. } => tools.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The specs in the conversation's prompt (none before its first turn).
    pub fn specs(&self) -> Vec<ToolSpec> {
        lock(&self.offer)
            .frozen
            .iter()
            .flatten()
            .map(|t| t.spec.clone())
            .collect()
    }

    /// Every MCP tool name callable now, for "unknown tool" messages.
    pub fn names(&self) -> Vec<String> {
        self.current_tools()
            .into_iter()
            .map(|t| t.full_name)
            .collect()
    }

    /// The configured server whose tools are named like `name`.
    pub(super) fn server_of(&self, name: &str) -> Option<&Server> {
        self.servers
            .iter()
            .filter(|s| name.starts_with(&full_name(&s.config.name, "")))
            .max_by_key(|s| s.config.name.len())
    }

    /// Whether `name` is a tool the server marks `readOnlyHint: true`.
    pub fn is_read_only(&self, name: &str) -> bool {
        self.current_tools()
            .iter()
            .any(|t| t.full_name == name && t.read_only)
    }

    /// How long the registry lets a call of `name` run: the server's
    /// `tool_timeout_sec` (which this manager enforces with its own
    /// message) and a margin.
    pub fn time_limit(&self, name: &str) -> Option<Duration> {
        self.server_of(name)
            .map(|s| s.config.tool_timeout + Duration::from_secs(10))
    }

    /// Whether every enabled server started.
    pub fn all_enabled_ready(&self) -> bool {
        self.servers
            .iter()
            .all(|s| matches!(*lock(&s.state), State::Ready { .. } | State::Disabled))
    }

    /// Stops every server (their processes are killed).
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for server in &self.servers {
            if let State::Ready { connection, .. } = &*lock(&server.state) {
                connection.stop();
            }
        }
    }
}

/// `1 s`, `2.5 s`, `2 min`.
pub(super) fn shown(limit: Duration) -> String {
    let secs = limit.as_secs_f64();
    if secs >= 60.0 && secs % 60.0 == 0.0 {
        format!("{} min", secs / 60.0)
    } else if secs.fract() == 0.0 {
        format!("{secs} s")
    } else {
        format!("{secs:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::Transport;

    fn missing_server() -> ServerConfig {
        ServerConfig {
            name: "gone".into(),
            transport: Transport::Stdio {
                command: "/nonexistent/glint-test-mcp-server".into(),
                args: Vec::new(),
                env: Default::default(),
                env_vars: Vec::new(),
                cwd: None,
            },
            enabled: true,
            startup_timeout: Duration::from_secs(10),
            tool_timeout: Duration::from_secs(10),
            enabled_tools: None,
            disabled_tools: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_failed_start_is_sent_live_once_and_not_kept_for_the_turn() {
        let workspace = tempfile::tempdir().unwrap();
        let manager = McpManager::new(vec![missing_server()], workspace.path().into());
        let mut live = manager.live_warnings();
        let runtime = tokio::runtime::Handle::current();
        manager.start(&runtime);
        manager.start(&runtime);
        manager.settle().await;
        let warning = live.try_recv().expect("the warning came as it happened");
        assert!(
            warning.starts_with("MCP server `gone` failed to start:"),
            "{warning}"
        );
        assert!(live.try_recv().is_err(), "the server started once");
        assert_eq!(
            manager.prepare_turn(true).await.warnings,
            Vec::<String>::new()
        );
    }

    #[tokio::test]
    async fn without_a_live_receiver_warnings_wait_for_the_next_turn() {
        let workspace = tempfile::tempdir().unwrap();
        let manager = McpManager::new(vec![missing_server()], workspace.path().into());
        manager.start(&tokio::runtime::Handle::current());
        let warnings = manager.prepare_turn(true).await.warnings;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        // Kept ones go to a receiver asked for later, first.
        manager.notice("later".into());
        let mut live = manager.live_warnings();
        assert_eq!(live.try_recv().ok().as_deref(), Some("later"));
    }
}
