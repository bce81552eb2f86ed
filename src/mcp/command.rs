//! `glint mcp list`: starts the configured servers as a session would, and
//! shows each one's state and tools, so a config can be checked without
//! running the agent.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::McpManager;

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start the configured MCP servers and list each one's state and
    /// tools (exit status 1 when an enabled server does not start).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Workspace root whose .glint/config.toml is read (default: the
    /// current directory).
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
    /// Set a config key, above the config files, e.g.
    /// -c mcp_servers.time.enabled=false (repeatable).
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Runs `glint mcp ...`; the exit status.
pub fn run(command: &McpCommand) -> anyhow::Result<u8> {
    match command {
        McpCommand::List(args) => list(args),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<u8> {
    let workspace = crate::cli::open_workspace(args.cd.as_deref())?;
    let config = crate::config::load(&workspace, &args.overrides)?;
    let servers = config.mcp_servers.servers()?;
    // Servers' stderr and rmcp's own messages go to the log, never the
    // terminal.
    crate::logging::init();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let manager = McpManager::new(servers, workspace.root().to_path_buf());
    manager.start(runtime.handle());
    runtime.block_on(manager.settle());
    println!("{}", manager.status_report());
    let all_started = manager.all_enabled_ready();
    manager.shutdown();
    // Give stopped children a moment to be reaped, without waiting on any.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(if all_started { 0 } else { 1 })
}
