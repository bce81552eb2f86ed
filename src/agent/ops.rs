//! Operations front ends send to the agent core.

use crate::approval::Decision;

/// What a front end asks of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Start a run with this user message, continuing the conversation.
    Submit { text: String },
    /// Answer the approval request for tool call `id`.
    Approve { id: String, decision: Decision },
    /// Cancel the run in progress (no-op when idle).
    Cancel,
    /// Cancel anything in progress and stop the core.
    Shutdown,
}
