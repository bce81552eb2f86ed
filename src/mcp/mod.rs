//! The MCP client: tools from Model Context Protocol servers, offered to the
//! model next to the built-in ones, on the official Rust SDK (`rmcp`).
//!
//! - [`config`]: `[mcp_servers.NAME]` in the config files (Codex CLI's shape).
//! - `client`: one connection (a child process or streamable HTTP).
//! - [`McpManager`]: the session's servers, started in the background; the
//!   tool list fixed at a conversation's first turn, later changes
//!   announced in a message; calls with time limits.
//! - `tool`, `arguments`, `content`: a server's tool as a glint tool spec
//!   (`mcp__SERVER__TOOL`), its arguments typed by its schema, its result
//!   as text.
//! - `call`: one call of a server's tool, with its limits.
//! - `report`: what glint tells the user and the model about servers.
//! - [`command`]: `glint mcp list`.

mod arguments;
mod call;
mod client;
pub mod command;
pub mod config;
mod content;
mod manager;
mod report;
mod tool;

pub use config::{McpConfigError, McpServers, ServerConfig, Transport};
pub use manager::{McpManager, TurnNotes};
pub use tool::{PREFIX, full_name, is_mcp_tool};

/// Offers the tools of `servers` through `tools`, when any is configured;
/// the manager returned must then be [started](McpManager::start) on the
/// session's runtime (the app does so after its first frame, from
/// [`crate::tools::ToolRegistry::mcp`]).
pub fn attach(
    tools: &mut crate::tools::ToolRegistry,
    servers: &[ServerConfig],
    workspace: &std::path::Path,
) -> Option<std::sync::Arc<McpManager>> {
    if servers.is_empty() {
        return None;
    }
    let manager = McpManager::new(servers.to_vec(), workspace.to_path_buf());
    tools.set_mcp(manager.clone());
    Some(manager)
}

/// This process's MCP servers, their state and tools, for `/mcp`.
pub fn status_report() -> String {
    match McpManager::session() {
        Some(manager) => manager.status_report(),
        None => report::NONE_CONFIGURED.to_string(),
    }
}
