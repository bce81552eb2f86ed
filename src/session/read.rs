//! Loading a session log back: the conversation to continue, and what
//! listing shows.
//!
//! glint writes one whole line per record, so a crash can only leave the
//! last line incomplete: a last line that does not parse is skipped with a
//! warning, and the writer cuts it off before appending (see
//! [`Loaded::valid_len`]). A bad line anywhere else means the file was
//! changed by something else, and guessing would resume a different
//! conversation than the user had, so it is an error naming the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::SessionError;
use super::record::{CallOutcome, CheckpointRecord, CompactionRecord, Header, Record, VERSION};
use crate::conversation::Message;

/// A session log, read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub header: Header,
    /// The conversation, in order: every `message` record (after a
    /// compaction, the conversation it recorded, then the later messages).
    pub messages: Vec<Message>,
    /// What the user sent to start each run, in order.
    pub tasks: Vec<String>,
    /// Model turns (assistant messages).
    pub turns: usize,
    pub checkpoints: Vec<CheckpointRecord>,
    /// The compactions, oldest first.
    pub compactions: Vec<CompactionRecord>,
    /// How each tool call ended, by call id (logs written before glint
    /// recorded it have none).
    pub outcomes: HashMap<String, CallOutcome>,
    /// One line each about what was skipped.
    pub warnings: Vec<String>,
    /// Bytes up to the end of the last good record: a writer appending to
    /// the log first cuts the file here (dropping a half-written line).
    pub valid_len: u64,
    /// Whether the last good record ends with its newline (a writer adds
    /// one first when not).
    pub ends_with_newline: bool,
}

impl Loaded {
    /// The first thing the user asked in this session.
    pub fn first_task(&self) -> Option<&str> {
        self.tasks.first().map(String::as_str)
    }

    /// Results for the tool calls of the last assistant message that have
    /// none: glint stopped while they ran (a crash, a kill), and a
    /// conversation with unanswered calls cannot be continued (an
    /// OpenAI-style server rejects it). The caller appends these to the
    /// conversation and the log.
    pub fn missing_results(&self) -> Vec<Message> {
        let Some(last_assistant) = self
            .messages
            .iter()
            .rposition(|m| matches!(m, Message::Assistant { .. }))
        else {
            return Vec::new();
        };
        let Message::Assistant { tool_calls, .. } = &self.messages[last_assistant] else {
            return Vec::new();
        };
        let answered: Vec<&str> = self.messages[last_assistant + 1..]
            .iter()
            .filter_map(|m| match m {
                Message::Tool { tool_call_id, .. } => Some(tool_call_id.as_str()),
                _ => None,
            })
            .collect();
        tool_calls
            .iter()
            .filter(|call| !answered.contains(&call.id.as_str()))
            .map(|call| {
                Message::tool_result(
                    call.id.clone(),
                    "glint stopped before this call finished; its result is unknown. Check its effect before relying on it.",
                )
            })
            .collect()
    }
}

/// Reads the session log at `path`.
pub fn load(path: &Path) -> Result<Loaded, SessionError> {
    let bytes = std::fs::read(path).map_err(|error| SessionError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(path, &bytes)
}

/// Reads a session log's bytes (`path` names it in messages).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Loaded, SessionError> {
    // Each line with its 1-based number and where it ends (past its newline).
    let mut lines = Vec::new();
    let mut start = 0usize;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i + 1);
        lines.push((lines.len() + 1, start, end));
        start = end;
    }
    let last_content = lines
        .iter()
        .rposition(|&(_, s, e)| !bytes[s..e].trim_ascii().is_empty());

    let mut header: Option<Header> = None;
    let mut loaded_messages = Vec::new();
    let mut tasks = Vec::new();
    let mut turns = 0usize;
    let mut checkpoints = Vec::new();
    let mut compactions = Vec::new();
    let mut outcomes = HashMap::new();
    let mut warnings = Vec::new();
    let mut valid_len = 0u64;
    let mut ends_with_newline = true;

    for (index, &(number, s, e)) in lines.iter().enumerate() {
        let text = &bytes[s..e];
        if text.trim_ascii().is_empty() {
            continue;
        }
        let record = match serde_json::from_slice::<Record>(text) {
            Ok(record) => record,
            Err(error) if Some(index) == last_content => {
                warnings.push(format!(
                    "session log {}: skipped its last line (line {number}), which is incomplete or corrupt ({error}); glint probably stopped while writing it",
                    path.display()
                ));
                break;
            }
            Err(error) => {
                return Err(SessionError::Corrupt {
                    path: path.to_path_buf(),
                    line: number,
                    reason: error.to_string(),
                });
            }
        };
        valid_len = e as u64;
        ends_with_newline = text.ends_with(b"\n");
        match record {
            Record::Session(h) => {
                if header.is_some() {
                    return Err(SessionError::Corrupt {
                        path: path.to_path_buf(),
                        line: number,
                        reason: "a second session header".into(),
                    });
                }
                if h.version > VERSION {
                    return Err(SessionError::NewerFormat {
                        path: path.to_path_buf(),
                        version: h.version,
                    });
                }
                header = Some(h);
                continue;
            }
            _ if header.is_none() => {
                return Err(SessionError::NoHeader {
                    path: path.to_path_buf(),
                });
            }
            Record::Message {
                message,
                task,
                outcome,
            } => {
                if task && let Message::User { content } = &message {
                    tasks.push(content.clone());
                }
                if let (Message::Tool { tool_call_id, .. }, Some(outcome)) = (&message, outcome) {
                    outcomes.insert(tool_call_id.clone(), outcome);
                }
                if matches!(message, Message::Assistant { .. }) {
                    turns += 1;
                }
                loaded_messages.push(message);
            }
            Record::Checkpoint(checkpoint) => checkpoints.push(checkpoint),
            Record::Compaction(compaction) => {
                loaded_messages.clone_from(&compaction.messages);
                compactions.push(compaction);
            }
            Record::Usage { .. }
            | Record::Run { .. }
            | Record::Resumed(_)
            | Record::Model { .. } => {}
        }
    }
    let header = header.ok_or_else(|| SessionError::NoHeader {
        path: path.to_path_buf(),
    })?;
    Ok(Loaded {
        path: path.to_path_buf(),
        header,
        messages: loaded_messages,
        tasks,
        turns,
        checkpoints,
        compactions,
        outcomes,
        warnings,
        valid_len,
        ends_with_newline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::ToolCall;

    const HEADER: &str =
        r#"{"type":"session","version":1,"id":"s1","time":"t","workspace":"/w","model":"m"}"#;

    fn parse_str(text: &str) -> Result<Loaded, SessionError> {
        parse(Path::new("s1.jsonl"), text.as_bytes())
    }

    #[test]
    fn reads_messages_tasks_and_turns() {
        let text = format!(
            "{HEADER}\n{}\n{}\n{}\n",
            r#"{"type":"message","message":{"role":"system","content":"sys"}}"#,
            r#"{"type":"message","message":{"role":"user","content":"do it"},"task":true}"#,
            r#"{"type":"message","message":{"role":"assistant","content":"done","raw":"<think>x</think>done"}}"#,
        );
        let loaded = parse_str(&text).unwrap();
        assert_eq!(loaded.messages.len(), 3);
        assert_eq!(loaded.first_task(), Some("do it"));
        assert_eq!(loaded.turns, 1);
        assert!(loaded.warnings.is_empty());
        assert_eq!(loaded.valid_len, text.len() as u64);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_cut_off() {
        let good = format!(
            "{HEADER}\n{}\n",
            r#"{"type":"message","message":{"role":"user","content":"a"},"task":true}"#
        );
        let text = format!("{good}{{\"type\":\"message\",\"mess");
        let loaded = parse_str(&text).unwrap();
        assert_eq!(loaded.messages, vec![Message::user("a")]);
        assert_eq!(loaded.valid_len, good.len() as u64);
        assert!(loaded.ends_with_newline);
        assert!(
            loaded.warnings[0].contains("line 3"),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept() {
        let text = format!(
            "{HEADER}\n{}",
            r#"{"type":"run","status":"completed","turns":1}"#
        );
        let loaded = parse_str(&text).unwrap();
        assert!(loaded.warnings.is_empty());
        assert!(!loaded.ends_with_newline);
        assert_eq!(loaded.valid_len, text.len() as u64);
    }

    #[test]
    fn a_bad_middle_line_is_an_error_naming_it() {
        let text = format!(
            "{HEADER}\nnot json\n{}\n",
            r#"{"type":"run","status":"completed","turns":1}"#
        );
        let error = parse_str(&text).unwrap_err().to_string();
        assert!(
            error.contains("s1.jsonl") && error.contains("line 2"),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn no_header_is_an_error() {
        let error = parse_str(r#"{"type":"run","status":"completed","turns":1}"#).unwrap_err();
        assert!(matches!(error, SessionError::NoHeader { .. }), "{error}");
    }

    #[test]
    fn unanswered_calls_of_the_last_turn_get_results() {
        let mut args = serde_json::Map::new();
        args.insert("path".into(), "a".into());
        let assistant = Message::Assistant {
            content: String::new(),
            reasoning_content: None,
            tool_calls: vec![
                ToolCall::new("call_1", "read_file", args.clone()),
                ToolCall::new("call_2", "read_file", args),
            ],
            reasoning_details: None,
            raw: None,
        };
        let mut loaded = parse_str(&format!("{HEADER}\n")).unwrap();
        loaded.messages = vec![
            Message::user("x"),
            assistant,
            Message::tool_result("call_1", "ok"),
        ];
        let missing = loaded.missing_results();
        assert_eq!(missing.len(), 1);
        assert!(
            matches!(&missing[0], Message::Tool { tool_call_id, .. } if tool_call_id == "call_2")
        );
    }
}
