//! Operations front ends send to the agent core.

use crate::approval::Decision;

/// What a front end asks of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Start a run with this user message, continuing the conversation.
    Submit { text: String },
    /// Answer the approval request for tool call `id`.
    Approve { id: String, decision: Decision },
    /// Compact the conversation now (`/compact`); during a run, before its
    /// next model turn.
    Compact,
    /// Pin a note: it joins the conversation before the next model turn
    /// and survives every compaction word for word (`/pin TEXT`).
    Pin { text: String },
    /// Cancel the run in progress (no-op when idle).
    Cancel,
    /// Cancel anything in progress and stop the core.
    Shutdown,
}
