//! `edit_file`: replace an exact piece of a file, returning a unified diff.
//!
//! The model quotes the text to change (`old_string`), which must occur
//! exactly once unless `replace_all` is set. Models often get whitespace
//! slightly wrong (indentation, trailing spaces, `\n` for `\r\n`), so when
//! the exact text is absent the match is retried line by line ignoring
//! progressively more whitespace, and applied only if it is unique; the
//! replacement is then re-indented to the file's own indentation. When
//! nothing matches, the error quotes the most similar region with line
//! numbers so the next attempt can copy it.
//!
//! The file keeps its line endings, its final newline (or lack of one) and
//! its permissions, and is replaced atomically (see `write_file`).
//!
//! The new text is made by [`propose`], which writes nothing, so the review
//! before apply (`crate::review`) shows the user exactly what the tool
//! would write, and an edit the tool would refuse is never shown.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::support::after_edit;
use super::{
    MAX_OUTPUT_BYTES, Tool, ToolContext, ToolError, ToolOutput, run_blocking, truncate_output,
};
use crate::workspace::{Workspace, open_regular};

mod matching;

use matching::{Plan, plan};

/// Files larger than this are refused: an edit holds the file in memory
/// twice and diffs it.
pub const MAX_EDIT_BYTES: u64 = 16 * 1024 * 1024;

pub struct EditFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: String,
    old_string: String,
    new_string: String,
    replace_all: Option<bool>,
}

impl Tool for EditFile {
    const NAME: &'static str = "edit_file";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        check_args(&args)?;
        let target = ctx.workspace.resolve_for_write(&args.path)?;
        let workspace = ctx.workspace.clone();
        let path = target.clone();
        // Not cancellable once started: the write is atomic, and the model
        // must be told truthfully whether it happened.
        let (output, before) = run_blocking(move || {
            let before = after_edit::errors_before(&target);
            let output = edit(&workspace, target, &args)?;
            Ok((output, before))
        })
        .await?;
        Ok(after_edit::after_change(ctx, path, before, output).await)
    }
}

/// The arguments' own problems, found before the file is read.
fn check_args(args: &Args) -> Result<(), ToolError> {
    let invalid = |problem: &str| ToolError::invalid(EditFile::NAME, problem);
    if args.old_string.is_empty() {
        return Err(invalid(
            "`old_string` is empty; quote the existing text to replace (with a few surrounding lines), or use write_file to create a new file or replace a whole file",
        ));
    }
    if args.old_string == args.new_string {
        return Err(invalid(
            "`old_string` and `new_string` are identical, so the edit would change nothing; give the new text in `new_string`",
        ));
    }
    Ok(())
}

/// What an edit would make of a file, computed without writing it.
pub(crate) struct Proposed {
    /// The file, resolved inside the workspace.
    pub target: PathBuf,
    /// Its text now.
    pub before: String,
    /// Its text after the edit.
    pub after: String,
    plan: Plan,
}

/// The edit `args` asks for, without writing anything: what the tool
/// would write, or the error it would report. The review before apply
/// (`crate::review`) shows the same text the tool writes. Blocking.
pub(crate) fn propose(workspace: &Workspace, args: &Args) -> Result<Proposed, ToolError> {
    check_args(args)?;
    let target = workspace.resolve_for_write(&args.path)?;
    propose_at(workspace, target, args)
}

/// [`propose`] for the file `target`, resolved from `args.path`.
fn propose_at(workspace: &Workspace, target: PathBuf, args: &Args) -> Result<Proposed, ToolError> {
    let shown = workspace.display(&target);
    let before = read_text(&target, &shown)?;
    let plan = plan(
        &before,
        &args.old_string,
        &args.new_string,
        args.replace_all.unwrap_or(false),
        &shown,
    )?;
    let after = replaced(&before, &plan);
    if after == before {
        return Err(ToolError::Failed(format!(
            "the edit would leave `{shown}` unchanged; check that `new_string` differs from the text it replaces"
        )));
    }
    Ok(Proposed {
        target,
        before,
        after,
        plan,
    })
}

/// The file's text, refused when it is not a regular UTF-8 text file of at
/// most [`MAX_EDIT_BYTES`].
fn read_text(target: &Path, shown: &str) -> Result<String, ToolError> {
    let failed = |what: String| ToolError::Failed(format!("cannot edit `{shown}`: {what}"));
    let meta = match std::fs::metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::Failed(format!(
                "`{shown}` does not exist; edit_file changes existing files, so use write_file to create it (or glob to find the right path)"
            )));
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    if meta.is_dir() {
        return Err(ToolError::Failed(format!(
            "`{shown}` is a directory; give the path of a file to edit"
        )));
    }
    if !meta.is_file() {
        return Err(failed("it is not a regular file".into()));
    }
    if meta.len() > MAX_EDIT_BYTES {
        return Err(failed(format!(
            "it is {} bytes, more than edit_file handles ({MAX_EDIT_BYTES}); use shell tools for such files",
            meta.len()
        )));
    }
    // Opened non-blocking and checked on the descriptor, so a FIFO or
    // device swapped in since the check above is refused, never read.
    let (file, opened) = open_regular(target).map_err(|e| failed(e.to_string()))?;
    let mut bytes = Vec::with_capacity(opened.len().min(MAX_EDIT_BYTES) as usize);
    file.take(MAX_EDIT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 > MAX_EDIT_BYTES {
        return Err(failed(format!(
            "it is more than {MAX_EDIT_BYTES} bytes, more than edit_file handles; use shell tools for such files"
        )));
    }
    if bytes.contains(&0) {
        return Err(failed(
            "it is a binary file; edit_file edits only text files".into(),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| failed("it is not UTF-8 text; edit_file edits only UTF-8 text files".into()))
}

/// `text` with the plan's replacements made, keeping its final newline.
fn replaced(text: &str, plan: &Plan) -> String {
    let mut result = String::with_capacity(text.len());
    let mut at = 0;
    for r in &plan.replacements {
        result.push_str(&text[at..r.range.start]);
        result.push_str(&r.text);
        at = r.range.end;
    }
    result.push_str(&text[at..]);
    keep_final_newline(text, &mut result);
    result
}

fn edit(workspace: &Workspace, target: PathBuf, args: &Args) -> Result<ToolOutput, ToolError> {
    let Proposed {
        target,
        before: text,
        after: result,
        plan,
    } = propose_at(workspace, target, args)?;
    let shown = workspace.display(&target);
    super::write_file::write(workspace, &target, result.as_bytes())?;

    let before = text.replace("\r\n", "\n");
    let after = result.replace("\r\n", "\n");
    let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let mut unified = diff.unified_diff();
    unified
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"));
    let count = plan.replacements.len();
    let summary = format!(
        "{shown}: {count} {} (+{added} -{removed})",
        if count == 1 {
            "replacement"
        } else {
            "replacements"
        }
    );
    let mut content = format!("Edited {summary}.");
    if let Some(note) = plan.how.note() {
        content.push(' ');
        content.push_str(note);
    }
    content.push('\n');
    content.push_str(unified.to_string().trim_end_matches('\n'));
    Ok(ToolOutput {
        content: truncate_output(&content, MAX_OUTPUT_BYTES - 200),
        summary,
    })
}

/// Keeps the file's final newline, or its absence, whatever the edit did at
/// the end of the file: models rarely mean to change it.
fn keep_final_newline(original: &str, result: &mut String) {
    if original.is_empty() || result.is_empty() {
        return;
    }
    match (original.ends_with('\n'), result.ends_with('\n')) {
        (true, false) => result.push_str(if original.ends_with("\r\n") {
            "\r\n"
        } else {
            "\n"
        }),
        (false, true) => {
            result.pop();
            if result.ends_with('\r') {
                result.pop();
            }
        }
        _ => {}
    }
}
