//! Review before apply: an edit the agent proposes is held as a
//! [`ChangeProposal`] until the user decides, hunk by hunk, what of it
//! reaches their tree ([`ReviewAnswer`]); the model is then told exactly what
//! happened.
//!
//! This module is the agent-side half and knows no terminal: the hunk
//! arithmetic ([`hunks`]), what a proposal is and what an answer says,
//! making the proposal of a call without writing ([`propose`]), and
//! carrying the answer out ([`outcome`]). The approval gate
//! ([`crate::approval::Approvals::gate`]) asks for the review; the TUI's
//! review view (`crate::tui::review`) shows a proposal and builds the
//! answer.

pub mod hunks;
pub mod outcome;
pub mod propose;
mod report;
mod words;

pub use hunks::{Hunk, apply, hunks};
pub use outcome::Reviewed;
pub use propose::{Pending, Proposed, REVIEWED_TOOLS, propose};

/// A proposed change to one file, held for review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileProposal {
    /// The path as the model gave it, relative to the workspace.
    pub path: String,
    /// The file's current text; `None` when the proposal creates it.
    pub before: Option<String>,
    /// The text the model proposes.
    pub after: String,
}

impl FileProposal {
    /// The current text, empty for a new file.
    pub fn before_text(&self) -> &str {
        self.before.as_deref().unwrap_or("")
    }

    /// The proposal's hunks (context of three lines, as git groups them).
    pub fn hunks(&self) -> Vec<Hunk> {
        hunks(self.before_text(), &self.after)
    }
}

/// Everything one tool call proposes to change, file by file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangeProposal {
    pub files: Vec<FileProposal>,
}

/// The user's verdict on one file of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileVerdict {
    /// Apply the proposal as it is.
    Accept,
    /// Leave the file as it is.
    Reject,
    /// Apply only the hunks marked `true` (one flag per hunk of
    /// [`FileProposal::hunks`], in order).
    Hunks(Vec<bool>),
    /// Apply this text, which the user wrote (in `$VISUAL`/`$EDITOR`)
    /// starting from the proposal.
    Edited(String),
}

/// The user's answer to a review: one verdict per file of the proposal, in
/// order, and a note for the model (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewAnswer {
    pub files: Vec<FileVerdict>,
    pub note: String,
}
