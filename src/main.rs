//! The `glint` binary: argument parsing and the two front ends.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use glint::agent::{self, AgentConfig};
use glint::approval::Approvals;
use glint::cli::{Cli, Command, RunArgs, open_workspace};
use glint::engine::local::{LoadEvent, LoadProgress};
use glint::engine::{self, ModelSpec};
use glint::headless::{self, HeadlessOptions, exit};
use glint::tools::ToolRegistry;
use glint::tui::{SessionOptions, TuiOptions};
use glint::workspace::Workspace;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let result = match cli.command {
        Some(Command::Protocol(command)) => {
            glint::protocol_cmd::run(command).map(|()| exit::ANSWERED)
        }
        Some(Command::Dev(command)) => glint::dev::command::run(command),
        Some(Command::Undo(args)) => glint::checkpoint::command::undo(&args),
        Some(Command::Checkpoints(args)) => glint::checkpoint::command::list(&args),
        Some(Command::Mcp(command)) => glint::mcp::command::run(&command),
        Some(Command::Sessions(args)) => glint::session::command::list(&args),
        None => run_agent(cli.run, &matches),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("glint: {error:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Sets up a session from the arguments; errors here are usage or
/// configuration errors (exit 2).
fn run_agent(mut args: RunArgs, matches: &ArgMatches) -> Result<u8> {
    let workspace = open_workspace(args.cd.as_deref())?;
    let config = glint::config::load(&workspace, &args.overrides)?;
    args.apply_config(&config, matches);
    args.resolve_writable_roots()?;
    let patch_out = args.patch_out()?;
    // Built in the background from now on, from the workspace itself (a
    // scratch copy has the same files and would never hit the cache).
    let repo_map = glint::repomap::RepoMapSettings::from_config(&config).start(workspace.root());
    let Some(task) = args.task.as_deref() else {
        return run_interactive(args, workspace, repo_map);
    };
    let task = read_task(task)?;
    let session = glint::session::command::open_for_run(&args, workspace.root())?;
    let spec = ModelSpec::parse(&args.model)?;
    // --apply never: the agent works in a scratch copy (removed on drop).
    let scratch = match &patch_out {
        Some(_) => Some(glint::scratch::Scratch::create(workspace.root())?),
        None => None,
    };
    let workspace = match &scratch {
        Some(scratch) => Workspace::new(scratch.workspace())?,
        None => workspace,
    };
    let (mut tools, undo_warning) =
        glint::checkpoint::command::attach(ToolRegistry::builtin(), workspace.root());
    let mcp = glint::mcp::attach(&mut tools, &args.mcp_servers, workspace.root());
    let tools = Arc::new(tools);
    let system_prompt = glint::prompts::build_system_prompt_today(workspace.root(), &tools)?;
    glint::logging::init();

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    // No frame to wait for: the servers start at once.
    if let Some(mcp) = &mcp {
        mcp.start(runtime.handle());
    }
    let options = HeadlessOptions {
        json: args.json,
        show_reasoning: args.show_reasoning,
    };
    for warning in &system_prompt.warnings {
        headless::print_warning(options, warning);
    }
    if let Some(warning) = &undo_warning {
        headless::print_warning(options, warning);
    }
    for warning in &session.warnings {
        headless::print_warning(options, warning);
    }
    let system_prompt = system_prompt.with_repo_map(repo_map);
    let code = runtime.block_on(async move {
        let progress: LoadProgress =
            Arc::new(move |event: LoadEvent| headless::print_load_event(options, &event));
        let model = engine::open(&spec, &args.open_options(), progress).await?;
        let config = AgentConfig {
            model,
            tools,
            workspace,
            system_prompt,
            max_turns: args.max_turns,
            thinking: !args.no_thinking,
            shell: args.shell_policy(),
            guards: args.guards,
            // Nobody can answer a request headless: what would need
            // approval is refused.
            approval: Approvals::new(args.approval_policy(), false),
        };
        let handle = agent::spawn_with_log(config, session.messages, session.log);
        Ok(headless::run(handle, task, options).await)
    });
    // A cancelled tool's blocking work may still run: leave without
    // waiting for it (dropping the runtime would).
    runtime.shutdown_background();
    match (&scratch, &patch_out) {
        (Some(scratch), Some(out)) => Ok(headless::write_patch(scratch, out, code?)),
        _ => code,
    }
}

/// `glint` with no `--task`: the interactive app in this workspace.
fn run_interactive(
    args: RunArgs,
    workspace: Workspace,
    repo_map: Option<glint::repomap::RepoMapJob>,
) -> Result<u8> {
    if args.json || args.show_reasoning {
        bail!(
            "--json and --show-reasoning apply to headless runs; add --task \"...\" (the app shows reasoning with Ctrl-R)"
        );
    }
    // A malformed --model is a usage error, reported before the app starts.
    ModelSpec::parse(&args.model)?;
    let (mut tools, undo_warning) =
        glint::checkpoint::command::attach(ToolRegistry::builtin(), workspace.root());
    // The app starts the servers once its first frame is drawn.
    glint::mcp::attach(&mut tools, &args.mcp_servers, workspace.root());
    let tools = Arc::new(tools);
    let system_prompt = glint::prompts::build_system_prompt_today(workspace.root(), &tools)?;
    let log_path = glint::logging::init();
    let located = glint::session::command::locate_for_app(&args, workspace.root())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let options = TuiOptions {
        model: args.model.clone(),
        session: SessionOptions {
            open_options: args.open_options(),
            workspace,
            tools,
            system_prompt: system_prompt.with_repo_map(repo_map),
            max_turns: args.max_turns,
            thinking: !args.no_thinking,
            shell: args.shell_policy(),
            guards: args.guards,
            approval: Approvals::new(args.approval_policy(), true),
            sessions: located.sessions,
            log: located.log,
            resume: located.resume,
        },
        log_path,
        warnings: system_prompt
            .warnings
            .into_iter()
            .chain(undo_warning)
            .chain(located.warnings)
            .collect(),
    };
    let result = runtime.block_on(glint::tui::run(options));
    // Engines and cancelled tools may hold threads that outlive the app;
    // leave without waiting, also when the app failed.
    runtime.shutdown_background();
    result?;
    Ok(exit::ANSWERED)
}

/// `--task TEXT`, or the task from stdin for `--task -`.
fn read_task(arg: &str) -> Result<String> {
    let task = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--task -: cannot read the task from stdin as UTF-8 text")?;
        text
    } else {
        arg.to_string()
    };
    if task.trim().is_empty() {
        bail!("the task is empty; say what glint should do, e.g. --task \"fix the failing test\"");
    }
    Ok(task)
}
