//! Approval policies: which tool calls run at once and which wait for the
//! user, so the user decides what reaches their tree.
//!
//! The agent core asks [`Approvals::gate`] before every tool call. A call
//! that needs the user emits [`crate::agent::Event::ApprovalRequested`] and
//! waits for [`crate::agent::Op::Approve`]; where nobody can answer
//! (headless), it is refused with a tool result that says how to allow it.

mod command;
mod gate;
mod readonly;
mod summary;

use std::fmt;

use crate::review::ReviewAnswer;

pub use command::{Simple, Unsupported, Word, parse};
pub use gate::{Approvals, Gated};
pub use readonly::{is_allowed, is_read_only, suggested_prefix};

/// What needs the user's approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApprovalPolicy {
    /// Every edit (write_file, edit_file, git_commit) and every shell
    /// command.
    Suggest,
    /// Shell commands outside the read-only allowlist; edits apply.
    AutoEdit,
    /// Nothing: every call runs (the shell stays sandboxed).
    #[default]
    FullAuto,
}

impl ApprovalPolicy {
    /// The name as `--approval` and the config file spell it.
    pub fn name(self) -> &'static str {
        match self {
            ApprovalPolicy::Suggest => "suggest",
            ApprovalPolicy::AutoEdit => "auto-edit",
            ApprovalPolicy::FullAuto => "full-auto",
        }
    }

    /// One line on what the policy asks about, for `/approvals`.
    pub fn describe(self) -> &'static str {
        match self {
            ApprovalPolicy::Suggest => "every edit and every shell command waits for approval",
            ApprovalPolicy::AutoEdit => {
                "edits apply; shell commands outside the read-only allowlist wait for approval"
            }
            ApprovalPolicy::FullAuto => {
                "everything runs without asking (the shell stays sandboxed)"
            }
        }
    }

    pub const ALL: [ApprovalPolicy; 3] = [
        ApprovalPolicy::Suggest,
        ApprovalPolicy::AutoEdit,
        ApprovalPolicy::FullAuto,
    ];

    /// The policy called `name`, as `--approval` spells it.
    pub fn from_name(name: &str) -> Option<ApprovalPolicy> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The user's answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run this call.
    Once,
    /// Run it, and from now on run shell commands starting with the
    /// request's `prefix` without asking (this session). For edits, the
    /// same as [`Decision::Once`].
    AlwaysPrefix,
    /// Do not run it; `note` (may be empty) goes to the model.
    Deny { note: String },
    /// The user's review of an edit (answering `ReviewRequested`): what to
    /// apply of it, hunk by hunk, and a note for the model.
    Review(ReviewAnswer),
}

/// Tools whose calls change files (reviewed under `suggest`).
pub const EDIT_TOOLS: &[&str] = &["write_file", "edit_file", "git_commit"];

/// The tool that runs shell commands.
pub const SHELL_TOOL: &str = "shell";
