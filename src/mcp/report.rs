//! What glint says about its MCP servers: to the user (`glint mcp list`,
//! `/mcp`), and to the model (a server's tools being unavailable, tools
//! that appeared or went away mid-conversation).

use super::config::Transport;
use super::manager::{McpManager, State, shown};
use super::tool::McpTool;

/// The message a call gets when its server cannot take it.
pub(super) fn unavailable(server: &str, state: &State) -> String {
    match state {
        State::Disabled => format!(
            "MCP server `{server}` is disabled in glint's config (enabled = false), so its tools cannot be called; do without them."
        ),
        State::Starting => format!(
            "MCP server `{server}` is still starting; try this call again in a moment, or do without it."
        ),
        State::Failed(reason) => format!(
            "MCP server `{server}` failed to start ({reason}), so its tools are unavailable in this session; do without them."
        ),
        State::Exited(reason) => format!(
            "MCP server `{server}` is no longer running ({reason}), so its tools are unavailable in this session; do without them."
        ),
        State::Ready { .. } => format!("MCP server `{server}` is running."),
    }
}

/// The message that tells the model about tools that appeared or went away
/// since its prompt began, each new one with its description and schema in
/// the prompt's own tool format. `None` when nothing changed.
pub(super) fn announcement(added: &[&McpTool], removed: &[String]) -> Option<String> {
    if added.is_empty() && removed.is_empty() {
        return None;
    }
    let mut text = String::new();
    if !added.is_empty() {
        text.push_str(
            "[glint] New tools from MCP servers can be called from now on, exactly like the tools listed at the start:\n<tools>\n",
        );
        for tool in added {
            // As the prompt's own tool list writes each tool.
            text.push_str(&crate::glm::python_json(&tool.spec.0));
            text.push('\n');
        }
        text.push_str("</tools>");
    }
    if !removed.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "[glint] These MCP tools are no longer available; do not call them: {}.",
            removed.join(", ")
        ));
    }
    Some(text)
}

/// What `/mcp` and `glint mcp list` say when no server is configured.
pub(super) const NONE_CONFIGURED: &str = "no MCP servers configured; add [mcp_servers.NAME] to ~/.config/glint/config.toml or .glint/config.toml (see README)";

impl McpManager {
    /// Every server with its state and tools, for `glint mcp list` and
    /// `/mcp`.
    pub fn status_report(&self) -> String {
        if self.servers.is_empty() {
            return NONE_CONFIGURED.to_string();
        }
        let mut text = String::new();
        for server in &self.servers {
            let config = &server.config;
            let target = match &config.transport {
                Transport::Stdio { command, args, .. } => {
                    let mut line = command.clone();
                    for arg in args {
                        line.push(' ');
                        line.push_str(arg);
                    }
                    crate::tools::one_line(&line, 80)
                }
                Transport::Http { url, .. } => url.clone(),
            };
            let state = server.state.lock().unwrap_or_else(|e| e.into_inner());
            let status = match &*state {
                State::Disabled => "disabled".to_string(),
                State::Starting => format!("starting (up to {})", shown(config.startup_timeout)),
                State::Ready { tools, .. } => {
                    let n = tools.len();
                    format!("ready, {n} tool{}", if n == 1 { "" } else { "s" })
                }
                State::Failed(reason) => format!("failed to start: {reason}"),
                State::Exited(reason) => format!("stopped: {reason}"),
            };
            text.push_str(&format!("{}  {status}  ({target})\n", config.name));
            if let State::Ready { tools, .. } = &*state {
                for tool in tools {
                    let access = if tool.read_only {
                        "read-only"
                    } else {
                        "may change things"
                    };
                    text.push_str(&format!(
                        "  {}  [{access}]  {}\n",
                        tool.full_name, tool.summary
                    ));
                }
            }
        }
        text.trim_end().to_string()
    }
}
