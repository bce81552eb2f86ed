//! `glint sessions`, and how the run arguments (`--continue`, `--resume`)
//! pick the session a run records to.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{Located, Opened, Sessions, Settings, Start, format_table};
use crate::cli::{NetworkMode, RunArgs};

/// `glint sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Workspace root (default: the current directory).
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,
}

/// Prints the workspace's sessions, newest first.
pub fn list(args: &SessionsArgs) -> anyhow::Result<u8> {
    let workspace = crate::cli::open_workspace(args.cd.as_deref())?;
    let sessions = Sessions::for_workspace(workspace.root(), "", Settings::default())?;
    let list = sessions
        .list()
        .context("cannot list the workspace's sessions")?;
    if list.is_empty() {
        println!("no sessions in this workspace yet");
    } else {
        print!("{}", format_table(&list));
    }
    Ok(0)
}

/// The settings a run records.
pub fn settings(args: &RunArgs) -> Settings {
    fn name(value: impl ValueEnum) -> String {
        value
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
    Settings {
        thinking: !args.no_thinking,
        max_context: args.max_context,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        max_turns: args.max_turns,
        approval: name(args.approval_policy()),
        sandbox: name(args.sandbox),
        network: args.network == NetworkMode::On,
    }
}

/// Which session `--continue` / `--resume [ID]` ask for.
pub fn start(args: &RunArgs) -> Start {
    match (&args.resume, args.continue_) {
        (Some(Some(id)), _) => Start::Id(id.clone()),
        (Some(None), _) | (None, true) => Start::Latest,
        (None, false) => Start::New,
    }
}

/// Opens the session a headless run in the workspace at `root` records
/// to, reading the one to resume.
pub fn open_for_run(args: &RunArgs, root: &Path) -> Result<Opened, super::SessionError> {
    super::open(root, &args.model, settings(args), &start(args))
}

/// Finds the session the app in the workspace at `root` starts with (the
/// app reads it in the background).
pub fn locate_for_app(args: &RunArgs, root: &Path) -> Result<Located, super::SessionError> {
    super::locate(root, &args.model, settings(args), &start(args))
}
