//! `glint undo [N]` and `glint checkpoints`: undo and list the most recent
//! session's checkpoints in a workspace, without starting a model. Also
//! [`attach`], which front ends call to checkpoint a session's tool calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{CheckpointError, Checkpoints, Location, files_line};
use crate::tools::ToolRegistry;

/// `glint undo`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// How many of the latest changes to take back.
    #[arg(default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Undo even files changed since the agent changed them (their current
    /// content is lost).
    #[arg(long)]
    pub force: bool,
    /// Workspace root (default: the current directory).
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
}

/// `glint checkpoints`.
#[derive(Debug, Args)]
pub struct CheckpointsArgs {
    /// Workspace root (default: the current directory).
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
}

/// Exit status when undo refuses or has nothing to do.
const REFUSED: u8 = 1;

/// Returns `registry` recording its mutating calls as checkpoints of a new
/// session in the workspace at `root`, or unchanged with a warning saying
/// why that is not possible.
pub fn attach(mut registry: ToolRegistry, root: &Path) -> (ToolRegistry, Option<String>) {
    match Checkpoints::new_session(root, None) {
        Ok(store) => {
            registry.set_checkpoints(Arc::new(store));
            (registry, None)
        }
        Err(error) => (
            registry,
            Some(format!("changes will not be undoable: {error}")),
        ),
    }
}

fn latest(cd: Option<&Path>) -> anyhow::Result<Option<Checkpoints>> {
    let workspace = crate::cli::open_workspace(cd)?;
    Checkpoints::latest_session(workspace.root(), None)
        .context("cannot read the workspace's checkpoints")
}

/// Runs `glint undo`: prints what was undone, or why not (exit 1).
pub fn undo(args: &UndoArgs) -> anyhow::Result<u8> {
    let Some(store) = latest(args.cd.as_deref())? else {
        eprintln!("glint: {}", CheckpointError::Nothing);
        return Ok(REFUSED);
    };
    let count = usize::try_from(args.count).unwrap_or(usize::MAX);
    match store.undo(count, args.force) {
        Ok(report) => {
            println!(
                "undid {} change{}:",
                report.undone.len(),
                if report.undone.len() == 1 { "" } else { "s" }
            );
            for checkpoint in &report.undone {
                println!(
                    "  #{} {}: {}",
                    checkpoint.id,
                    checkpoint.meta.tool,
                    files_line(&checkpoint.meta.files)
                );
            }
            Ok(crate::headless::exit::ANSWERED)
        }
        Err(error @ (CheckpointError::Conflict(_) | CheckpointError::Nothing)) => {
            eprintln!("glint: {error}");
            Ok(REFUSED)
        }
        Err(error) => Err(error.into()),
    }
}

/// Runs `glint checkpoints`: the latest session's checkpoints, newest
/// first (the order `glint undo` takes them back in).
pub fn list(args: &CheckpointsArgs) -> anyhow::Result<u8> {
    let Some(store) = latest(args.cd.as_deref())? else {
        println!("no checkpoints in this workspace");
        return Ok(crate::headless::exit::ANSWERED);
    };
    let where_ = match store.location() {
        Location::Repository(path) => path.display().to_string(),
        Location::Shadow(path) => format!("{} (shadow)", path.display()),
    };
    println!("session {} in {where_}", store.session());
    for checkpoint in store.list()?.iter().rev() {
        // The model's call id ties the change to the call in a transcript.
        let call = checkpoint
            .meta
            .call_id
            .as_deref()
            .map(|id| format!(" [{id}]"))
            .unwrap_or_default();
        println!(
            "#{:<3} {}  {:<10} {}{call}",
            checkpoint.id,
            checkpoint.meta.time,
            checkpoint.meta.tool,
            files_line(&checkpoint.meta.files)
        );
    }
    Ok(crate::headless::exit::ANSWERED)
}
