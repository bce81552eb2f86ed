//! `shell`: runs a bash command in the workspace and reports its exit status
//! and combined output.
//!
//! A nonzero exit status is a successful tool call: the model needs the
//! output of a failing build or test run to act on it. Only failures to run
//! the command at all (bad `cwd`, no sandbox, bash missing) are errors.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::support::process::{
    Ending, Finished, ShellCommand, killed_note, run_shell, signal_name,
};
use super::support::sandbox::Confinement;
use super::support::spill::{SpillFile, spill_note};
use super::{Tool, ToolContext, ToolError, ToolOutput, one_line};

/// Seconds a command may run when the model gives no `timeout_s`.
pub const DEFAULT_TIMEOUT_S: u64 = 120;
/// The longest `timeout_s` honoured; larger values are lowered to it with a
/// note, which costs the model less than a refused call.
pub const MAX_TIMEOUT_S: u64 = 600;

/// Set for every command, on top of the variables the user's environment
/// policy passes from glint's own environment (glint's secrets never pass),
/// so that nothing waits on a pager or an interactive prompt and output is
/// plain text. `GLINT=1` lets scripts notice they run under the agent.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("GLINT", "1"),
    ("PAGER", "cat"),
    ("GIT_PAGER", "cat"),
    ("TERM", "dumb"),
    ("NO_COLOR", "1"),
    ("GIT_TERMINAL_PROMPT", "0"),
];

pub struct Shell;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    command: String,
    timeout_s: Option<i64>,
    cwd: Option<String>,
}

impl Tool for Shell {
    const NAME: &'static str = "shell";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let invalid = |problem: String| ToolError::invalid(Self::NAME, problem);
        if args.command.trim().is_empty() {
            return Err(invalid(
                "`command` is empty; give a bash command such as `cargo test`".into(),
            ));
        }
        let mut notes = Vec::new();
        let timeout_s = match args.timeout_s {
            None => DEFAULT_TIMEOUT_S,
            Some(t) if t < 1 => {
                return Err(invalid(format!(
                    "`timeout_s` must be from 1 to {MAX_TIMEOUT_S} seconds, got {t}; leave it out for {DEFAULT_TIMEOUT_S}"
                )));
            }
            Some(t) if t as u64 > MAX_TIMEOUT_S => {
                notes.push(format!(
                    "Note: timeout_s {t} is above the maximum; the command ran with {MAX_TIMEOUT_S} s."
                ));
                MAX_TIMEOUT_S
            }
            Some(t) => t as u64,
        };
        let cwd = match args.cwd.as_deref() {
            None => ctx.workspace.root().to_path_buf(),
            Some(dir) => {
                let path = ctx.workspace.resolve_existing(dir)?;
                if !path.is_dir() {
                    return Err(invalid(format!(
                        "`cwd` must be a directory, but `{}` is not one; leave it out to run in the workspace root",
                        ctx.workspace.display(&path)
                    )));
                }
                path
            }
        };
        let spill = match ctx.spill.create(Self::NAME) {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::warn!("cannot make a spill file for a shell command: {e}");
                None
            }
        };
        let mut finished = run_command(
            ctx,
            &args.command,
            &cwd,
            Duration::from_secs(timeout_s),
            spill,
        )
        .await?;
        if finished.ending == Ending::Cancelled {
            if let Some(file) = finished.output.take_spill() {
                file.discard();
            }
            return Err(ToolError::Cancelled);
        }
        let spilled = keep_spill(&mut finished);
        Ok(report(
            &args.command,
            timeout_s,
            &finished,
            &notes,
            spilled.as_deref(),
        ))
    }
}

/// Runs `script` with `bash -c` in `cwd` the way the shell tool does (the
/// context's sandbox, network and environment policy), streaming its whole
/// output to `spill` when given. Also runs the configured check command.
pub(crate) async fn run_command(
    ctx: &ToolContext,
    script: &str,
    cwd: &Path,
    timeout: Duration,
    spill: Option<SpillFile>,
) -> Result<Finished, ToolError> {
    let policy = &ctx.shell;
    let confinement = Confinement::prepare_with_roots(
        policy.sandbox,
        policy.network,
        ctx.workspace.root(),
        &policy.writable_roots,
        cwd,
    )
    .map_err(ToolError::Failed)?;
    let sandboxed = confinement.is_some();
    let mut env = policy.env.filter(std::env::vars_os());
    env.retain(|(name, _)| !ENVIRONMENT.iter().any(|(n, _)| name == *n));
    env.extend(
        ENVIRONMENT
            .iter()
            .map(|(n, v)| (OsString::from(n), OsString::from(v))),
    );
    let command = ShellCommand {
        script,
        cwd,
        env,
        timeout,
        confinement,
        allow_background: policy.allow_background,
        spill,
    };
    run_shell(command, &ctx.cancel).await.map_err(|e| {
        ToolError::Failed(if sandboxed {
            format!(
                "could not start `bash -c` in the sandbox: {e}; the user can start glint with `--sandbox off` to run commands unconfined"
            )
        } else {
            format!("could not start `bash -c`: {e}")
        })
    })
}

/// The spill file's path when lines were left out of the result (the file
/// is then the only place they are), otherwise none (the file is removed).
fn keep_spill(finished: &mut Finished) -> Option<PathBuf> {
    let file = finished.output.take_spill()?;
    if finished.output.omitted_lines() == 0 {
        file.discard();
        return None;
    }
    match file.finish() {
        Ok(path) => Some(path),
        Err(e) => {
            tracing::warn!("cannot write a shell command's spill file: {e}");
            None
        }
    }
}

/// The result as the model sees it: status first, so it survives any
/// cutting, then the output.
fn report(
    command: &str,
    timeout_s: u64,
    finished: &Finished,
    notes: &[String],
    spilled: Option<&Path>,
) -> ToolOutput {
    let seconds = finished.elapsed.as_secs_f64();
    let (status, short) = match finished.ending {
        Ending::Exited(code) => (format!("Exit code: {code}"), format!("exit {code}")),
        Ending::Signalled(signal) => {
            let name = signal_name(signal)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            (
                format!("Killed by signal {signal}{name}"),
                format!("killed by signal {signal}"),
            )
        }
        Ending::TimedOut | Ending::Cancelled => (
            format!(
                "Timed out after {timeout_s} s; the command was killed with every process it started. Pass a larger timeout_s (at most {MAX_TIMEOUT_S}) if the command needs longer."
            ),
            format!("timed out after {timeout_s} s"),
        ),
    };
    let mut content = format!("{status}\nWall time: {seconds:.1} s\n");
    for note in notes {
        content.push_str(note);
        content.push('\n');
    }
    if let Some(note) = killed_note(&finished.killed) {
        content.push_str(&note);
        content.push('\n');
    }
    if finished.pipe_left_open {
        content.push_str(
            "Note: background processes still held the output pipe when the command ended; \
             their later output is not captured (redirect it to a file to keep it).\n",
        );
    }
    let output = &finished.output;
    if output.total_bytes() == 0 {
        content.push_str("Output: (none)");
    } else if output.omitted_lines() > 0 {
        let rendered = match spilled {
            Some(path) => format!(
                "{}\n{}",
                output.render_with("see the note at the end"),
                spill_note(path, output.total_lines())
            ),
            None => output.render(),
        };
        content.push_str(&format!(
            "Output ({} lines, {} bytes; first and last lines shown):\n{rendered}",
            output.total_lines(),
            output.total_bytes(),
        ));
    } else {
        content.push_str("Output:\n");
        content.push_str(&output.render());
    }
    ToolOutput {
        content,
        summary: format!(
            "`{}` → {short} ({seconds:.1} s)",
            one_line(command.trim(), 60)
        ),
    }
}
