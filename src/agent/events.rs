//! Events the agent core emits. Front ends render them; `--json` prints each
//! as one line, so this enum *is* the documented JSONL schema (see README).

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::compact::{CompactionReason, ElidedOutput};
use crate::engine::{FinishReason, Usage};
use crate::review::ChangeProposal;
use crate::tools::update_plan::PlanItem;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The model answered without calling a tool.
    Completed,
    /// `--max-turns` turns ran and the model still wanted to call tools.
    MaxTurns,
    /// The engine failed, or the model's output kept being cut at the token
    /// limit; the run cannot continue.
    ModelError,
    /// The model's output stayed malformed (half a tool call, an empty call,
    /// stray markup, nothing at all) through every retry.
    MalformedOutput,
    /// The user cancelled the run.
    Interrupted,
}

/// One thing that happened in the agent core.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        model: String,
        workspace: String,
        task: String,
        max_turns: u32,
    },
    TurnStarted {
        turn: u32,
    },
    Reasoning {
        turn: u32,
        delta: String,
    },
    Text {
        turn: u32,
        delta: String,
    },
    ToolCallStarted {
        turn: u32,
        id: String,
        /// The tool the model called; for an MCP tool (`mcp__NAME__TOOL`)
        /// followed by `server` and `server_tool` (see [`name_and_server`]).
        #[serde(flatten, serialize_with = "name_and_server")]
        name: String,
        arguments: Map<String, Value>,
    },
    ToolCallFinished {
        turn: u32,
        id: String,
        /// As in `tool_call_started`, with `server` and `server_tool`.
        #[serde(flatten, serialize_with = "name_and_server")]
        name: String,
        ok: bool,
        /// One line for progress displays.
        summary: String,
        /// The full result the model sees.
        output: String,
    },
    TurnFinished {
        turn: u32,
        tool_calls: usize,
        usage: Usage,
        /// Why the model stopped: `stop`, `tool_calls`, or a cut (`length`,
        /// `context_limit`), after which the turn's unfinished call was not run.
        finish_reason: FinishReason,
    },
    RunFinished {
        status: RunStatus,
        turns: u32,
        /// The final answer (the text of the last turn) when completed.
        answer: Option<String>,
        error: Option<String>,
        usage: Usage,
    },
    /// A tool call waits for the user's approval (the approval policy asks
    /// for it); answer with `Op::Approve { id, .. }`. Cancelling the run
    /// while it waits denies it.
    ApprovalRequested {
        /// The tool call's id (as in `tool_call_started`).
        id: String,
        /// The tool's name, as `name` in `tool_call_started`; for an MCP
        /// tool followed by `server` and `server_tool`.
        #[serde(flatten, serialize_with = "tool_and_server")]
        tool: String,
        /// What to approve: the shell command, or a diff of the edit.
        summary: String,
        /// The directory a shell command would run in.
        cwd: String,
        /// For a shell command, the prefix "always allow" would allow for
        /// the session (e.g. `cargo test`); none when it cannot be offered.
        prefix: Option<String>,
    },
    /// An edit the model proposed waits for review (the `suggest` policy):
    /// the user accepts or rejects it hunk by hunk, may edit it, and answers
    /// with `Op::Approve { id, decision: Decision::Review(..) }` (or
    /// `Decision::Once` to apply it all, `Decision::Deny` to reject it all).
    ReviewRequested {
        /// The tool call's id (as in `tool_call_started`).
        id: String,
        tool: String,
        /// What the call would change, file by file.
        proposal: ChangeProposal,
    },
    /// The model recorded its plan (a successful `update_plan` call): the
    /// whole plan, in order, which replaces the previous one.
    PlanUpdated {
        /// Why the plan changed, when the model said.
        explanation: Option<String>,
        plan: Vec<PlanItem>,
    },
    /// The conversation is being compacted: the next prompt would have
    /// reached `compaction.threshold` of the context window, or the user
    /// asked (`/compact`). A summary turn of the model may follow before
    /// `compacted`.
    CompactionStarted {
        reason: CompactionReason,
        /// The prompt's tokens now (counted by the engine where it can,
        /// else estimated).
        tokens: u64,
    },
    /// The conversation was compacted. Old tool outputs were replaced by a
    /// stub naming the call (`elided`), and, when that was not enough or
    /// the user asked, older turns by the model's hand-off note
    /// (`summarised` messages, `summary`). Pinned notes, the plan, the
    /// user's latest request and the last turns are kept word for word.
    Compacted {
        reason: CompactionReason,
        tokens_before: u64,
        /// Estimated; the next turn's usage has the engine's count.
        tokens_after: u64,
        elided: Vec<ElidedOutput>,
        summarised: usize,
        summary: Option<String>,
    },
    /// Something the user should know that does not stop the run: an
    /// operation the core could not take (a submit while busy), a repeated
    /// call refused, output cut at the token limit, malformed output retried.
    Warning {
        message: String,
    },
}

/// `"name": NAME`, and for a call of an MCP tool also `"server"` (the
/// server's configured name) and `"server_tool"` (the tool's own name on
/// that server), so a reader needs no parsing of `mcp__NAME__TOOL` (whose
/// parts may be cleaned or shortened).
fn name_and_server<S: Serializer>(name: &str, serializer: S) -> Result<S::Ok, S::Error> {
    with_server("name", name, serializer)
}

/// [`name_and_server`] for a field called `tool`.
fn tool_and_server<S: Serializer>(tool: &str, serializer: S) -> Result<S::Ok, S::Error> {
    with_server("tool", tool, serializer)
}

fn with_server<S: Serializer>(key: &str, name: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let origin = crate::mcp::McpManager::origin_of(name);
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry(key, name)?;
    if let Some(origin) = origin {
        map.serialize_entry("server", &origin.server)?;
        map.serialize_entry("server_tool", &origin.tool)?;
    }
    map.end()
}
