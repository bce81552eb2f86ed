//! What a `write_file` or `edit_file` call would change, computed without
//! writing anything, so the user can review it before it is applied.
//!
//! The proposal is the very text the tool would write: `edit_file`'s is
//! made by the tool's own matching and replacement
//! ([`crate::tools::edit_file::propose`]), `write_file`'s is its content.
//! Where no proposal can be made because the call would fail anyway (a
//! missing `old_string`, a bad path, bad arguments, a file protected from
//! writing) the call just runs, so
//! the model gets the tool's own error; where it fails only because the
//! file cannot be shown as text (binary, too large, unreadable), the user
//! is asked yes or no instead, as for any other edit.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ChangeProposal, FileProposal};
use crate::conversation::ToolCall;
use crate::tools::edit_file::{self, MAX_EDIT_BYTES};
use crate::tools::write_file;
use crate::tools::{ToolRegistry, parse_arguments};
use crate::workspace::{OpenError, Workspace, open_regular};

/// The tools whose calls are reviewed hunk by hunk under `suggest`.
pub const REVIEWED_TOOLS: &[&str] = &["write_file", "edit_file"];

/// A proposal held for review, with what applying it needs.
#[derive(Debug, Clone)]
pub struct Pending {
    pub proposal: ChangeProposal,
    /// Each file's resolved path, in the proposal's order.
    pub(super) targets: Vec<PathBuf>,
}

/// What can be made of a call before it runs.
#[derive(Debug)]
pub enum Proposed {
    /// A proposal to review.
    Ready(Pending),
    /// Nothing to review: the call would change nothing, or fail on its
    /// own (its result tells the model why). Run it.
    Run,
    /// The change cannot be shown as text (a binary, oversized or
    /// unreadable file): ask yes or no as for other calls.
    NotText,
}

/// A file's content as the review sees it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Current {
    Missing,
    Text(String),
    /// A regular file that is not UTF-8 text, or larger than
    /// [`MAX_EDIT_BYTES`], or that cannot be read.
    NotText,
    /// Not a regular file (a directory, a FIFO, ...): the tools refuse it.
    NotRegular,
}

impl Current {
    /// Whether this is what a proposal found (`None`: no file).
    pub(super) fn is(&self, before: Option<&str>) -> bool {
        match (self, before) {
            (Current::Missing, None) => true,
            (Current::Text(text), Some(before)) => text == before,
            _ => false,
        }
    }
}

/// `write_file`'s arguments, checked against its spec as the registry does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
}

/// The proposal of `call` (a call of one of [`REVIEWED_TOOLS`]).
pub async fn propose(tools: &ToolRegistry, call: &ToolCall, workspace: &Workspace) -> Proposed {
    let tool = call.function.name.clone();
    let Some(spec) = tools.spec(&tool).cloned() else {
        // The registry reports an unknown tool itself.
        return Proposed::Run;
    };
    let arguments = call.function.arguments.clone();
    let workspace = workspace.clone();
    let work = move || match tool.as_str() {
        "edit_file" => propose_edit(&spec, arguments, &workspace),
        "write_file" => propose_write(&spec, arguments, &workspace),
        _ => Proposed::NotText,
    };
    // A panic while proposing must not let the call through unasked.
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or(Proposed::NotText)
}

fn propose_edit(
    spec: &crate::conversation::ToolSpec,
    arguments: Map<String, Value>,
    workspace: &Workspace,
) -> Proposed {
    let Ok(args) = parse_arguments::<edit_file::Args>(spec, arguments) else {
        return Proposed::Run;
    };
    // Every error here is the one the tool itself would report.
    match edit_file::propose(workspace, &args) {
        Ok(proposed) => ready(
            workspace,
            proposed.target,
            Some(proposed.before),
            proposed.after,
        ),
        Err(_) => Proposed::Run,
    }
}

fn propose_write(
    spec: &crate::conversation::ToolSpec,
    arguments: Map<String, Value>,
    workspace: &Workspace,
) -> Proposed {
    let Ok(args) = parse_arguments::<WriteArgs>(spec, arguments) else {
        return Proposed::Run;
    };
    let Ok(target) = workspace.resolve_for_write(&args.path) else {
        return Proposed::Run;
    };
    match current(&target) {
        Current::Missing => ready(workspace, target, None, args.content),
        Current::Text(before) => ready(workspace, target, Some(before), args.content),
        Current::NotText => Proposed::NotText,
        Current::NotRegular => Proposed::Run,
    }
}

/// A one-file proposal, or [`Proposed::Run`] when it changes nothing or
/// the file is protected from writing (the tool's own refusal says so).
fn ready(
    workspace: &Workspace,
    target: PathBuf,
    before: Option<String>,
    after: String,
) -> Proposed {
    if before.as_deref() == Some(after.as_str()) {
        return Proposed::Run;
    }
    let shown = workspace.display(&target);
    if before.is_some()
        && std::fs::metadata(&target)
            .is_ok_and(|meta| write_file::check_writable(&target, &meta, &shown).is_err())
    {
        return Proposed::Run;
    }
    Proposed::Ready(Pending {
        proposal: ChangeProposal {
            files: vec![FileProposal {
                path: shown,
                before,
                after,
            }],
        },
        targets: vec![target],
    })
}

/// What `target` holds now (blocking).
pub(super) fn current(target: &Path) -> Current {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Current::Missing,
        Err(_) => return Current::NotText,
    };
    if !meta.is_file() {
        return Current::NotRegular;
    }
    if meta.len() > MAX_EDIT_BYTES {
        return Current::NotText;
    }
    let file = match open_regular(target) {
        Ok((file, _)) => file,
        Err(OpenError::NotRegular { .. }) => return Current::NotRegular,
        Err(OpenError::Io(_)) => return Current::NotText,
    };
    let mut bytes = Vec::new();
    if file
        .take(MAX_EDIT_BYTES + 1)
        .read_to_end(&mut bytes)
        .is_err()
        || bytes.len() as u64 > MAX_EDIT_BYTES
        || bytes.contains(&0)
    {
        return Current::NotText;
    }
    String::from_utf8(bytes).map_or(Current::NotText, Current::Text)
}
