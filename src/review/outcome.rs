//! Carrying out the user's answer to a review, and telling the model
//! exactly what happened.
//!
//! Everything accepted runs the call as the model gave it (its result is
//! the tool's own); everything rejected writes nothing. A partial or edited
//! answer writes the resulting text through the registry's `write_file`,
//! so checkpoints (undo), the user's file protections and the post-edit
//! syntax check apply as to any write, and the model is told which hunks
//! went in and how the file now reads. Nothing is written over a file that
//! changed on disk while the user was reviewing: the answer was about the
//! file as it was.

use serde_json::{Map, Value};

use super::propose::{Pending, current};
use super::words::{note_or, words};
use super::{FileProposal, FileVerdict, apply, report};
use crate::approval::Decision;
use crate::conversation::ToolCall;
use crate::tools::{MAX_OUTPUT_BYTES, ToolContext, ToolOutcome, ToolRegistry, truncate_output};

/// A reviewed proposal and the user's answer, ready to be carried out.
#[derive(Debug, Clone)]
pub struct Reviewed {
    pending: Pending,
    /// One verdict per file of the proposal, normalised (see [`normalise`]).
    verdicts: Vec<FileVerdict>,
    note: String,
}

impl Reviewed {
    /// The answer `decision` to the review of `pending`. `Once` (and
    /// `AlwaysPrefix`, which means nothing more for an edit) accepts all,
    /// `Deny` rejects all.
    pub fn new(pending: Pending, decision: Decision) -> Self {
        let files = &pending.proposal.files;
        let (verdicts, note) = match decision {
            Decision::Once | Decision::AlwaysPrefix => {
                (vec![FileVerdict::Accept; files.len()], String::new())
            }
            Decision::Deny { note } => (vec![FileVerdict::Reject; files.len()], note),
            Decision::Review(answer) => {
                let verdicts = files
                    .iter()
                    .enumerate()
                    .map(|(i, file)| normalise(file, answer.files.get(i)))
                    .collect();
                (verdicts, answer.note)
            }
        };
        Reviewed {
            pending,
            verdicts,
            note,
        }
    }

    /// Carries the answer out for `call` (the reviewed call) with the
    /// registry's tools, and returns the result the model sees.
    pub async fn apply(
        self,
        tools: &ToolRegistry,
        call: &ToolCall,
        ctx: &ToolContext,
    ) -> ToolOutcome {
        let tool = call.function.name.as_str();
        let files = &self.pending.proposal.files;
        if self.verdicts.iter().all(|v| *v == FileVerdict::Reject) {
            return self.rejected(tool);
        }
        if let Some(path) = self.changed_file().await {
            return self.stale(tool, &path);
        }
        if self.verdicts.iter().all(|v| *v == FileVerdict::Accept) {
            let mut outcome = tools.call(tool, &call.function.arguments, ctx).await;
            if let Some(note) = note_or(&self.note, None) {
                outcome.content.push_str("\n\n");
                outcome.content.push_str(&note);
            }
            return outcome;
        }
        let mut sections = Vec::new();
        let mut summaries = Vec::new();
        let mut ok = true;
        for (file, verdict) in files.iter().zip(&self.verdicts) {
            let text = match verdict {
                FileVerdict::Reject => {
                    sections.push(format!("`{}`: rejected; it is unchanged.", file.path));
                    continue;
                }
                FileVerdict::Accept => file.after.clone(),
                FileVerdict::Hunks(accepted) => apply(file.before_text(), &file.after, accepted),
                FileVerdict::Edited(text) => text.clone(),
            };
            let written = write(tools, ctx, &file.path, &text).await;
            if !written.ok {
                ok = false;
                sections.push(format!(
                    "{}\n{}",
                    words("write_failed", &[("tool", tool), ("path", &file.path)]),
                    written.content
                ));
                summaries.push(format!("{}: not written", file.path));
                continue;
            }
            let (section, summary) = match verdict {
                FileVerdict::Hunks(accepted) => {
                    let total = file.hunks().len();
                    let taken = (0..total)
                        .filter(|&i| accepted.get(i).copied().unwrap_or(false))
                        .count();
                    (
                        report::partial(tool, file, accepted, &text),
                        format!("{}: {taken} of {total} hunks applied", file.path),
                    )
                }
                FileVerdict::Edited(_) => (
                    report::edited(tool, file, &text),
                    format!("{}: applied as edited by the user", file.path),
                ),
                _ => (
                    format!("`{}`: applied as proposed.", file.path),
                    format!("{}: applied", file.path),
                ),
            };
            sections.push(format!("{section}\n\n{}", written.content));
            summaries.push(summary);
        }
        if let Some(note) = note_or(&self.note, None) {
            sections.push(note);
        }
        ToolOutcome {
            ok,
            content: truncate_output(&sections.join("\n\n"), MAX_OUTPUT_BYTES),
            summary: format!("reviewed: {}", summaries.join("; ")),
        }
    }

    /// The first file that no longer holds what the proposal was made
    /// from, if any.
    async fn changed_file(&self) -> Option<String> {
        let checks: Vec<(std::path::PathBuf, Option<String>, String)> = self
            .pending
            .targets
            .iter()
            .zip(&self.pending.proposal.files)
            .map(|(target, file)| (target.clone(), file.before.clone(), file.path.clone()))
            .collect();
        let found = tokio::task::spawn_blocking(move || {
            checks
                .into_iter()
                .find(|(target, before, _)| !current(target).is(before.as_deref()))
                .map(|(_, _, path)| path)
        })
        .await;
        // A check that could not run counts as a change: never clobber.
        found.unwrap_or_else(|_| Some(self.first_path()))
    }

    fn first_path(&self) -> String {
        self.pending
            .proposal
            .files
            .first()
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }

    fn rejected(&self, tool: &str) -> ToolOutcome {
        let mut content = words("rejected", &[("tool", tool), ("path", &self.paths())]);
        if let Some(note) = note_or(&self.note, Some("rejected_no_note")) {
            content.push(' ');
            content.push_str(&note);
        }
        ToolOutcome {
            ok: false,
            content,
            summary: "rejected by the user".into(),
        }
    }

    fn stale(&self, tool: &str, path: &str) -> ToolOutcome {
        let mut content = words("stale", &[("tool", tool), ("path", path)]);
        if let Some(note) = note_or(&self.note, None) {
            content.push(' ');
            content.push_str(&note);
        }
        ToolOutcome {
            ok: false,
            content,
            summary: format!("not applied: {path} changed during the review"),
        }
    }

    /// The proposal's paths, for messages about all of it.
    fn paths(&self) -> String {
        self.pending
            .proposal
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join("`, `")
    }
}

/// A verdict as it is carried out: hunk flags that take every hunk are an
/// acceptance and flags that take none a rejection; an edit back to the
/// proposal accepts it and one back to the existing file rejects it; a
/// missing verdict rejects (nothing the user did not see goes in).
fn normalise(file: &FileProposal, verdict: Option<&FileVerdict>) -> FileVerdict {
    match verdict {
        None | Some(FileVerdict::Reject) => FileVerdict::Reject,
        Some(FileVerdict::Accept) => FileVerdict::Accept,
        Some(FileVerdict::Hunks(flags)) => {
            let total = file.hunks().len();
            let flags: Vec<bool> = (0..total)
                .map(|i| flags.get(i).copied().unwrap_or(false))
                .collect();
            match flags.iter().filter(|&&f| f).count() {
                0 => FileVerdict::Reject,
                n if n == total => FileVerdict::Accept,
                _ => FileVerdict::Hunks(flags),
            }
        }
        Some(FileVerdict::Edited(text)) => {
            if *text == file.after {
                FileVerdict::Accept
            } else if file.before.as_deref() == Some(text.as_str()) {
                FileVerdict::Reject
            } else {
                FileVerdict::Edited(text.clone())
            }
        }
    }
}

/// Writes `text` to `path` with the registry's `write_file`, checkpointed
/// and checked like the model's own writes.
async fn write(tools: &ToolRegistry, ctx: &ToolContext, path: &str, text: &str) -> ToolOutcome {
    let mut arguments = Map::new();
    arguments.insert("path".into(), Value::String(path.to_string()));
    arguments.insert("content".into(), Value::String(text.to_string()));
    tools.call("write_file", &arguments, ctx).await
}
