//! A call of an MCP tool: routed to its server, its arguments typed and
//! checked, bounded by the server's `tool_timeout_sec` and by the server
//! going away, its result turned into what the model reads.

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::manager::{McpManager, Server, State, lock, shown};
use super::tool::{McpOrigin, full_name, is_mcp_tool};
use super::{arguments, content, report};
use crate::tools::{ToolError, ToolOutput, one_line};

/// How long a call that failed on its transport waits for the connection to
/// report that the server exited (see `call`).
const EXIT_NOTICE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl McpManager {
    /// The server and tool a call of `name` goes to in this process's
    /// session ([`McpManager::session`]), for the surfaces that show calls;
    /// `None` for a built-in tool or a name no configured server's tools
    /// have.
    pub fn origin_of(name: &str) -> Option<McpOrigin> {
        if !is_mcp_tool(name) {
            return None;
        }
        McpManager::session()?.origin(name)
    }

    /// The server and tool a call of `name` goes to: the tool's own name as
    /// the server listed it (a shortened or cleaned `mcp__` name does not
    /// spell it), else the rest of `name` after the server's prefix.
    pub fn origin(&self, name: &str) -> Option<McpOrigin> {
        let server = self.server_of(name)?;
        let listed = match &*lock(&server.state) {
            State::Ready { tools, .. } => tools
                .iter()
                .find(|t| t.full_name == name)
                .map(|t| t.name.clone()),
            _ => None,
        };
        let tool = listed.unwrap_or_else(|| {
            let prefix = full_name(&server.config.name, "");
            name.strip_prefix(&prefix).unwrap_or(name).to_string()
        });
        Some(McpOrigin {
            server: server.config.name.clone(),
            tool,
        })
    }

    /// Calls the MCP tool `name`; `None` when no configured server's tools
    /// are named like it.
    pub async fn call(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Option<Result<ToolOutput, ToolError>> {
        let server = self.server_of(name)?;
        Some(self.call_on(server, name, arguments, cancel).await)
    }

    async fn call_on(
        &self,
        server: &Server,
        name: &str,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<ToolOutput, ToolError> {
        let server_name = &server.config.name;
        // A tool the server added since the last turn is found by listing
        // again (from cache when nothing changed).
        let listed = matches!(&*lock(&server.state), State::Ready { tools, .. } if tools.iter().any(|t| t.full_name == name));
        if !listed {
            self.refresh_server(server).await;
        }
        let (connection, tool) = match &*lock(&server.state) {
            State::Ready { connection, tools } => {
                match tools.iter().find(|t| t.full_name == name) {
                    Some(tool) => (connection.clone(), tool.clone()),
                    None => {
                        let offered: Vec<&str> =
                            tools.iter().map(|t| t.full_name.as_str()).collect();
                        return Err(ToolError::Failed(format!(
                            "MCP server `{server_name}` has no tool `{}`; its tools: {}.",
                            one_line(name, 80),
                            if offered.is_empty() {
                                "none".to_string()
                            } else {
                                offered.join(", ")
                            }
                        )));
                    }
                }
            }
            state => return Err(ToolError::Failed(report::unavailable(server_name, state))),
        };
        let arguments = arguments::checked(&tool.spec, arguments::typed(&tool.spec, arguments))?;
        let limit = server.config.tool_timeout;
        let mut closed = connection.closed.clone();
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ToolError::Cancelled),
            // A server that dies mid-call never answers: stop waiting.
            _ = closed.wait_for(|closed| *closed) => Ok(Err(rmcp::ServiceError::TransportClosed)),
            result = tokio::time::timeout(limit, connection.call(&tool.name, arguments)) => result,
        };
        match result {
            Ok(Ok(result)) => {
                let (text, is_error) = content::result_text(&result);
                if is_error {
                    return Err(ToolError::Failed(format!(
                        "The MCP tool `{}` of server `{server_name}` reported an error: {text}",
                        tool.name
                    )));
                }
                // The whole text on one line: a result's first line is often
                // only a heading or a brace.
                let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let summary = format!("{server_name}: {} → {}", tool.name, one_line(&flat, 120));
                Ok(ToolOutput {
                    content: text,
                    summary,
                })
            }
            Ok(Err(rmcp::ServiceError::McpError(error))) => Err(ToolError::Failed(format!(
                "MCP server `{server_name}` refused the call to `{}`: {}",
                tool.name, error.message
            ))),
            Ok(Err(error)) => {
                // A call sent to a server that has just died fails on the
                // broken pipe before the connection's reader has seen the
                // end of its output: give it a moment to, so the user reads
                // that the server exited rather than the pipe error.
                let closed_now = connection.is_closed()
                    || tokio::time::timeout(EXIT_NOTICE_GRACE, closed.wait_for(|closed| *closed))
                        .await
                        .is_ok_and(|seen| seen.is_ok());
                if closed_now {
                    if let Some(index) = self.servers.iter().position(|s| std::ptr::eq(s, server)) {
                        self.mark_exited(index, &connection);
                    }
                    return Err(ToolError::Failed(report::unavailable(
                        server_name,
                        &lock(&server.state),
                    )));
                }
                Err(ToolError::Failed(format!(
                    "The call to MCP server `{server_name}` failed: {error}"
                )))
            }
            Err(_) => {
                self.notice(format!(
                    "MCP server `{server_name}` did not answer a call to `{}` within {} (tool_timeout_sec); the call was cancelled",
                    tool.name,
                    shown(limit)
                ));
                Err(ToolError::Failed(format!(
                    "MCP server `{server_name}` did not answer within {} (its tool_timeout_sec), so the call to `{}` was cancelled; try a smaller request or do without it.",
                    shown(limit),
                    tool.name
                )))
            }
        }
    }
}
