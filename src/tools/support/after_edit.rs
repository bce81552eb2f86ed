//! What write_file and edit_file tell the model after a change, so that it
//! fixes a broken edit in its next turn instead of many turns later: the
//! syntax errors the change introduced (tree-sitter, for the languages glint
//! parses) and the output of the user's `check_command`, if one is set.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::code::syntax::{self, MAX_CHECK_BYTES, SyntaxError};
use super::output::head_and_tail;
use super::process::Ending;
use super::spill::spill_note;
use crate::tools::shell::run_command;
use crate::tools::{ToolContext, ToolError, ToolOutput, run_blocking};
use crate::workspace::open_regular;

/// The most bytes of the check command's output kept in the result.
pub const MAX_CHECK_OUTPUT_BYTES: usize = 8 * 1024;

/// The file's syntax errors before the change: none for a file that does
/// not exist yet, is not text, is too large or is in a language glint does
/// not parse. Blocking.
pub fn errors_before(path: &Path) -> Vec<SyntaxError> {
    read_source(path)
        .and_then(|source| syntax::syntax_errors(path, &source))
        .map(|(_, errors)| errors)
        .unwrap_or_default()
}

/// Appends to a successful change's result the syntax errors it introduced
/// (compared with `before`) and the check command's report.
pub async fn after_change(
    ctx: &ToolContext,
    path: PathBuf,
    before: Vec<SyntaxError>,
    mut output: ToolOutput,
) -> ToolOutput {
    let shown = ctx.workspace.display(&path);
    let syntax_note = run_blocking(move || {
        Ok::<_, ToolError>(read_source(&path).and_then(|source| {
            let (lang, after) = syntax::syntax_errors(&path, &source)?;
            syntax::report(lang, &shown, &syntax::new_errors(&before, &after))
        }))
    })
    .await
    .ok()
    .flatten();
    if let Some(note) = syntax_note {
        output.content.push_str("\n\n");
        output.content.push_str(&note);
        output.summary.push_str(" (new syntax errors)");
    }
    if let Some(check) = &ctx.shell.check {
        let (report, short) = run_check(ctx, &check.command, check.timeout).await;
        output.content.push_str("\n\n");
        output.content.push_str(&report);
        output.summary.push_str(&format!(" (check: {short})"));
    }
    output
}

/// Runs the check command in the workspace root like any shell command
/// (sandboxed, time-limited); returns its report and a few words for the
/// summary.
async fn run_check(ctx: &ToolContext, command: &str, timeout: Duration) -> (String, String) {
    let heading = format!("Check command `{command}` after this change");
    let spill = ctx.spill.create("check").ok();
    let root = ctx.workspace.root().to_path_buf();
    let mut finished = match run_command(ctx, command, &root, timeout, spill).await {
        Ok(finished) => finished,
        Err(e) => return (format!("{heading}: could not run: {e}"), "not run".into()),
    };
    let seconds = finished.elapsed.as_secs_f64();
    let (status, short) = match finished.ending {
        Ending::Exited(code) => (format!("exit code {code}"), format!("exit {code}")),
        Ending::Signalled(signal) => (
            format!("killed by signal {signal}"),
            format!("signal {signal}"),
        ),
        Ending::TimedOut => (
            format!(
                "timed out after {} s and was killed (the user can raise check_timeout_s)",
                timeout.as_secs()
            ),
            "timed out".into(),
        ),
        Ending::Cancelled => ("cancelled".into(), "cancelled".into()),
    };
    let rendered = finished.output.render_with("see the note at the end");
    let cut = finished.output.omitted_lines() > 0 || rendered.len() > MAX_CHECK_OUTPUT_BYTES;
    let spilled = match finished.output.take_spill() {
        Some(file) if cut => file.finish().ok(),
        Some(file) => {
            file.discard();
            None
        }
        None => None,
    };
    let output = &finished.output;
    let mut report = format!("{heading}: {status} ({seconds:.1} s)");
    if output.total_bytes() == 0 {
        report.push_str(", no output.");
        return (report, short);
    }
    let kept = head_and_tail(&rendered, MAX_CHECK_OUTPUT_BYTES, |n| {
        format!("[... {n} more lines omitted ...]")
    });
    report.push_str(":\n");
    report.push_str(&kept);
    if let Some(path) = spilled {
        report.push('\n');
        report.push_str(&spill_note(&path, output.total_lines()));
    }
    (report, short)
}

/// The file as UTF-8 text, when it is one and small enough to parse.
/// Opened non-blocking and checked on the descriptor, so a FIFO swapped in
/// is never read.
fn read_source(path: &Path) -> Option<String> {
    let (file, meta) = open_regular(path).ok()?;
    if meta.len() > MAX_CHECK_BYTES as u64 {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CHECK_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    String::from_utf8(bytes).ok()
}
