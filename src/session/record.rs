//! The records of a session log, one JSON object per line, told apart by
//! `type`:
//!
//! - `session` (always the first line): the session's id, start time,
//!   workspace, model and settings;
//! - `message`: one message as it was appended to the conversation, in the
//!   conversation's own JSON shape ([`Message`]: system, user, assistant with
//!   `content`, `reasoning_content`, `tool_calls`, `reasoning_details` and
//!   `raw`, or a tool result); `task: true` marks the user message that
//!   started a run (what the user typed, as opposed to glint's own notices);
//!   a tool result's `outcome` says whether the call succeeded, with its
//!   one-line summary;
//! - `usage`: one model turn's token counts and why it ended;
//! - `checkpoint`: a change set the agent's tools made (see
//!   [`crate::checkpoint`]): the checkpoint session and id `glint undo`
//!   knows it by, and the files it touched;
//! - `run`: how a run (one user message's turns) ended;
//! - `resumed`: a later glint took the conversation up again from here,
//!   with its own model and settings;
//! - `model`: the app switched models mid-session;
//! - `compaction`: the conversation was compacted (see
//!   [`crate::agent::compact`]): why, the token counts before and after, the
//!   tool outputs elided, a line for each message the hand-off note
//!   replaced (and, marked, each message dropped whole when nothing else
//!   was enough), the note, and the whole conversation after it, from which a
//!   resume continues (the `message` records before it are history).
//!
//! Every field added later must be optional, so old logs keep loading.

use serde::{Deserialize, Serialize};

use crate::agent::compact::{CompactionReason, ElidedOutput};
use crate::checkpoint::FileChange;
use crate::conversation::Message;

/// The format version written in the header; a log with a higher one was
/// written by a newer glint.
pub const VERSION: u32 = 1;

/// One line of a session log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Session(Header),
    Message {
        message: Message,
        #[serde(default, skip_serializing_if = "is_false")]
        task: bool,
        /// For a tool result: how the call ended (a resume shows it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<CallOutcome>,
    },
    Usage {
        turn: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        completion_tokens: Option<u64>,
        /// The engine's finish reason (`stop`, `tool_calls`, `length`,
        /// `context_limit`), when it said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
    },
    Checkpoint(CheckpointRecord),
    Run {
        /// `completed`, `interrupted`, `max_turns`, `model_error` or
        /// `malformed_output`.
        status: String,
        turns: u32,
    },
    Resumed(Resumed),
    Model {
        model: String,
    },
    Compaction(CompactionRecord),
}

fn is_false(value: &bool) -> bool {
    !value
}

/// How a tool call ended, as the user saw it when it ran: whether it
/// succeeded (a failed, refused, denied or cancelled call did not) and its
/// one-line summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

/// The first line of a session log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub id: String,
    /// RFC 3339, local time.
    pub time: String,
    /// The workspace's canonical root.
    pub workspace: String,
    /// The `--model` value the session started with.
    pub model: String,
    #[serde(default)]
    pub settings: Settings,
}

/// A later glint taking the conversation up again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resumed {
    pub time: String,
    pub model: String,
    #[serde(default)]
    pub settings: Settings,
}

/// The settings a session ran with (what changes how the conversation
/// reads or what the agent may do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub thinking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_context: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    pub max_turns: u32,
    /// The approval policy (`suggest`, `auto-edit`, `full-auto`).
    pub approval: String,
    /// The shell sandbox (`workspace-write`, `off`).
    pub sandbox: String,
    pub network: bool,
}

/// A change set the agent made, as `glint checkpoints` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// The checkpoint store's session (its ref is
    /// `refs/glint/checkpoints/<checkpoint_session>`).
    pub checkpoint_session: String,
    pub id: u32,
    pub tool: String,
    pub summary: String,
    /// The workspace's tree before and after the call (git object ids).
    pub before: String,
    pub after: String,
    pub files: Vec<FileChange>,
}

/// A compaction of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionRecord {
    pub time: String,
    pub reason: CompactionReason,
    /// The prompt's tokens before (counted or estimated) and after
    /// (estimated).
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// Old tool outputs replaced by a stub.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elided: Vec<ElidedOutput>,
    /// One line for each message the hand-off note replaced, then one,
    /// starting with [`DROPPED_PREFIX`], for each message dropped whole
    /// when eliding and the note were not enough (see
    /// [`CompactionRecord::replaced`] and [`CompactionRecord::dropped`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summarised: Vec<String>,
    /// The hand-off note the model wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The summary turn's token counts (a compaction costs a turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_prompt_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_completion_tokens: Option<u64>,
    /// The conversation after the compaction, in full.
    pub messages: Vec<Message>,
}

/// Starts the `summarised` line of a message a compaction dropped whole
/// (kept in that list, so that logs stay readable by glints that do not
/// know of dropping: they show the line among the replaced messages).
pub const DROPPED_PREFIX: &str = "dropped whole: ";

impl CompactionRecord {
    /// The lines of the messages the hand-off note replaced.
    pub fn replaced(&self) -> impl Iterator<Item = &str> {
        self.summarised
            .iter()
            .filter(|line| !line.starts_with(DROPPED_PREFIX))
            .map(String::as_str)
    }

    /// The lines of the messages dropped whole, without the prefix.
    pub fn dropped(&self) -> impl Iterator<Item = &str> {
        self.summarised
            .iter()
            .filter_map(|line| line.strip_prefix(DROPPED_PREFIX))
    }
}

/// Now, as the records write it.
pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_record_nests_the_conversation_shape() {
        let record = Record::Message {
            message: Message::user("hi"),
            task: true,
            outcome: None,
        };
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(
            line,
            r#"{"type":"message","message":{"role":"user","content":"hi"},"task":true}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
    }

    #[test]
    fn unknown_settings_and_missing_ones_still_load() {
        let line = r#"{"type":"session","version":1,"id":"x","time":"t","workspace":"/w","model":"m","settings":{"thinking":true,"later":1}}"#;
        let Record::Session(header) = serde_json::from_str::<Record>(line).unwrap() else {
            panic!("not a header");
        };
        assert!(header.settings.thinking);
        assert_eq!(header.settings.max_turns, 0);
    }
}
