//! `shell`: runs a bash command in the workspace and reports its exit status
//! and combined output.
//!
//! A nonzero exit status is a successful tool call: the model needs the
//! output of a failing build or test run to act on it. Only failures to run
//! the command at all (bad `cwd`, no sandbox, bash missing) are errors.

use std::ffi::OsString;
use std::time::Duration;

use serde::Deserialize;

use super::support::process::{
    Ending, Finished, ShellCommand, killed_note, run_shell, signal_name,
};
use super::support::sandbox::Confinement;
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
        let policy = &ctx.shell;
        let confinement =
            Confinement::prepare(policy.sandbox, policy.network, ctx.workspace.root(), &cwd)
                .map_err(ToolError::Failed)?;
        let sandboxed = confinement.is_some();
        let mut env = policy.env.filter(std::env::vars_os());
        env.retain(|(name, _)| !ENVIRONMENT.iter().any(|(n, _)| name == *n));
        env.extend(
            ENVIRONMENT
                .iter()
                .map(|(n, v)| (OsString::from(n), OsString::from(v))),
        );

        let finished = run_shell(
            ShellCommand {
                script: &args.command,
                cwd: &cwd,
                env,
                timeout: Duration::from_secs(timeout_s),
                confinement,
                allow_background: policy.allow_background,
            },
            &ctx.cancel,
        )
        .await
        .map_err(|e| {
            ToolError::Failed(if sandboxed {
                format!(
                    "could not start `bash -c` in the sandbox: {e}; the user can start glint with `--sandbox off` to run commands unconfined"
                )
            } else {
                format!("could not start `bash -c`: {e}")
            })
        })?;
        if finished.ending == Ending::Cancelled {
            return Err(ToolError::Cancelled);
        }
        Ok(report(&args.command, timeout_s, &finished, &notes))
    }
}

/// The result as the model sees it: status first, so it survives any
/// cutting, then the output.
fn report(command: &str, timeout_s: u64, finished: &Finished, notes: &[String]) -> ToolOutput {
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
        content.push_str(&format!(
            "Output ({} lines, {} bytes; first and last lines shown):\n{}",
            output.total_lines(),
            output.total_bytes(),
            output.render()
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
