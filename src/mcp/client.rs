//! One connection to one server, on rmcp: starting it (a child process or a
//! streamable-HTTP session), the MCP handshake, listing its tools, calling
//! one, and noticing when it goes away.
//!
//! A stdio server's stderr is never shown on glint's screen (it would break
//! the app's drawing): it goes to the log, and its last lines are kept to
//! say why a server failed or exited.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion, Tool,
};
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientCacheConfig, ClientHandler, MAX_CLIENT_CACHE_TTL, Peer, ServiceExt};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::{ServerConfig, Transport};

/// Variables every stdio server gets from glint's environment (as in Codex
/// CLI): enough to find programs and a home directory, and none of glint's
/// secrets. `env_vars` and `env` add to them.
const DEFAULT_ENV: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR",
    "TZ",
];

/// How many of a server's last stderr lines are kept for messages.
const STDERR_LINES: usize = 5;

/// A started server: its tools, and the handle to call it.
pub(super) struct Connection {
    peer: Peer<RoleClient>,
    /// Stops the service (and with it the child process).
    stop: CancellationToken,
    /// Turns true when the connection has ended, however.
    pub closed: watch::Receiver<bool>,
    pub stderr: StderrTail,
}

/// The last lines a server wrote to stderr.
#[derive(Clone, Default)]
pub(super) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == STDERR_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last non-empty line, for a one-line message.
    pub fn last(&self) -> Option<String> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| crate::tools::one_line(l, 160))
    }
}

/// glint's side of the protocol: it offers no capabilities (no sampling, no
/// roots). A `notifications/tools/list_changed` needs no handling here: rmcp
/// drops its cached tool list when one arrives, in order with the responses
/// around it, so the next [`Connection::list_tools`] asks the server again.
#[derive(Clone)]
struct Handler;

impl ClientHandler for Handler {
    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        tracing::info!(target: "glint::mcp", "a server's tool list changed");
        std::future::ready(())
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("glint", env!("CARGO_PKG_VERSION")),
        );
        // The newest version negotiated through `initialize`, which every
        // server released so far answers.
        info.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        info
    }
}

impl Connection {
    /// Starts the server, shakes hands and lists its tools. No time limit
    /// here: the caller stops waiting (dropping this future kills a child
    /// process it started).
    pub async fn start(
        config: &ServerConfig,
        workspace: &Path,
    ) -> Result<(Connection, Vec<Tool>), String> {
        let handler = Handler;
        let stop = CancellationToken::new();
        let stderr = StderrTail::default();
        let with_stderr = |error: String, stderr: &StderrTail| match stderr.last() {
            Some(line) => format!("{error} (its last words on stderr: {line})"),
            None => error,
        };
        let service = match &config.transport {
            Transport::Stdio {
                command,
                args,
                env,
                env_vars,
                cwd,
            } => {
                let child = spawn(
                    command,
                    args,
                    env,
                    env_vars,
                    cwd.as_deref(),
                    workspace,
                    &stderr,
                )?;
                handler
                    .serve_with_ct(child, stop.clone())
                    .await
                    .map_err(|e| with_stderr(format!("the MCP handshake failed: {e}"), &stderr))?
            }
            Transport::Http {
                url,
                bearer_token_env_var,
                http_headers,
                env_http_headers,
            } => {
                let transport =
                    http_transport(url, bearer_token_env_var, http_headers, env_http_headers)?;
                handler
                    .serve_with_ct(transport, stop.clone())
                    .await
                    .map_err(|e| format!("the MCP handshake with {url} failed: {e}"))?
            }
        };
        let peer = service.peer().clone();
        // A tool list stays cached until the server says it changed (or
        // until its own ttlMs), so listing before every turn costs nothing
        // for a server whose tools did not change.
        peer.set_response_cache_config(
            ClientCacheConfig::default().with_default_ttl(MAX_CLIENT_CACHE_TTL),
        )
        .await;
        let (closed_tx, closed) = watch::channel(false);
        tokio::spawn(async move {
            let reason = service.waiting().await;
            tracing::info!("MCP connection ended: {reason:?}");
            let _ = closed_tx.send(true);
        });
        let connection = Connection {
            peer,
            stop,
            closed,
            stderr,
        };
        let tools = connection.list_tools().await.map_err(|e| {
            with_stderr(format!("listing its tools failed: {e}"), &connection.stderr)
        })?;
        Ok((connection, tools))
    }

    /// Every tool the server lists now (all pages): from rmcp's cache unless
    /// the server said its tools changed.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, rmcp::ServiceError> {
        self.peer.list_all_tools().await
    }

    /// Calls `tool`. Dropping the future cancels the request at the server.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        self.peer.call_tool(params).await
    }

    /// Whether the connection has ended (the process exited, the stream
    /// closed).
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow() || self.peer.is_transport_closed()
    }

    /// Ends the connection; a child process is killed.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a stdio server with a clean environment, in `cwd` (relative to
/// the workspace) or the workspace root, its stderr drained into the log.
fn spawn(
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    env_vars: &[String],
    cwd: Option<&Path>,
    workspace: &Path,
    stderr: &StderrTail,
) -> Result<TokioChildProcess, String> {
    let dir = match cwd {
        Some(dir) => workspace.join(dir),
        None => workspace.to_path_buf(),
    };
    // A relative program path with a slash is meant from the server's own
    // directory, which the OS would not look in.
    let program = if command.contains('/') && Path::new(command).is_relative() {
        dir.join(command).display().to_string()
    } else {
        command.to_string()
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args)
        .current_dir(&dir)
        .env_clear()
        .kill_on_drop(true);
    for name in DEFAULT_ENV
        .iter()
        .copied()
        .chain(env_vars.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(env);
    let (child, pipe) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if !dir.is_dir() {
                format!(
                    "its directory {} does not exist (check `cwd`)",
                    dir.display()
                )
            } else {
                format!("cannot run `{command}`: {e} (check `command`)")
            }
        })?;
    if let Some(pipe) = pipe {
        let tail = stderr.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "glint::mcp", "server stderr: {line}");
                tail.push(line);
            }
        });
    }
    Ok(child)
}

/// A streamable-HTTP transport with the configured headers; a variable
/// that should hold a token or header but is unset is an error.
fn http_transport(
    url: &str,
    bearer_token_env_var: &Option<String>,
    http_headers: &BTreeMap<String, String>,
    env_http_headers: &BTreeMap<String, String>,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, String> {
    use reqwest::header::{HeaderName, HeaderValue};
    let env = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the environment variable {var} is not set"))
    };
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    if let Some(var) = bearer_token_env_var {
        config = config.auth_header(env(var)?);
    }
    let mut headers = std::collections::HashMap::new();
    let from_env = env_http_headers
        .iter()
        .map(|(name, var)| env(var).map(|value| (name, value)));
    let given = http_headers
        .iter()
        .map(|(name, value)| Ok((name, value.clone())));
    for pair in given.chain(from_env) {
        let (name, value) = pair?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid HTTP header name"))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of header `{name}` is not valid in HTTP"))?;
        headers.insert(name, value);
    }
    config = config.custom_headers(headers);
    Ok(StreamableHttpClientTransport::from_config(config))
}
