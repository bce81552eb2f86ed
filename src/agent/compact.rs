//! Compaction: what becomes of a conversation that outgrows the model's
//! context window. Everything here is a pure function of the messages; the
//! run's side (when to compact, the summary turn, events and the session
//! log) is in `run/compaction.rs`.
//!
//! A compaction keeps the system prompt, the notes the user pinned, the
//! latest plan, the user's latest request and the last few model turns
//! word for word. The rest goes in two stages:
//! 1. old tool outputs are replaced by a one-line stub naming the call, so
//!    the model knows what it saw and how to see it again (often enough:
//!    tool outputs are most of a long agent session);
//! 2. if that is not enough, the model writes a hand-off note
//!    (`prompts/compact.md`) from the older turns, which replaces them;
//! 3. if even that is too big (or the summary turn would not fit the
//!    window), the oldest turns are dropped whole until it fits
//!    ([`drop_turns`]): what the model loses is then recorded, not summarised.
//!
//! The system prompt stays first and unchanged, so the prompt after a
//! compaction still shares the system prompt and tool list with the
//! prompts before it: the prefix cache keeps that part, and from the next
//! turn on each prompt extends the last exactly again.

pub mod budget;
pub mod drop_turns;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::conversation::{Message, ToolCall};
use crate::tools::update_plan::{Plan, latest_plan};
use crate::tools::{Tool, UpdatePlan};

pub use budget::Budget;
pub use drop_turns::{Dropped, drop_oldest_turns};

const COMPACT_PROMPTS: &str = include_str!("../../prompts/compact.md");

/// Default for `compaction.threshold`: compact when the next prompt would
/// fill this much of the context window (percent).
pub const DEFAULT_THRESHOLD_PERCENT: u8 = 85;
/// Default for `compaction.keep_turns`.
pub const DEFAULT_KEEP_TURNS: usize = 3;
/// A tool output shorter than this stays: its stub would save nothing.
const ELIDE_MIN_BYTES: usize = 400;
/// The hand-off note's length the model is asked for.
const NOTE_WORDS: usize = 400;

/// When to compact and what to keep (config keys `compaction.threshold`
/// and `compaction.keep_turns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionSettings {
    /// Compact before a turn whose prompt would hold this percentage of the
    /// context window or more.
    pub threshold_percent: u8,
    /// Model turns (each with its tool results) kept word for word; at
    /// least 1.
    pub keep_turns: usize,
}

impl Default for CompactionSettings {
    fn default() -> Self {
        CompactionSettings {
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
            keep_turns: DEFAULT_KEEP_TURNS,
        }
    }
}

impl CompactionSettings {
    /// The prompt size that triggers a compaction.
    pub fn threshold(&self, window: u64) -> u64 {
        window * u64::from(self.threshold_percent) / 100
    }

    /// What a compaction aims for: half the threshold, so that the next
    /// compaction is many turns away rather than one.
    pub fn target(&self, window: u64) -> u64 {
        self.threshold(window) / 2
    }
}

/// Why a compaction happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionReason {
    /// The next prompt would have reached the threshold.
    Threshold,
    /// The user asked (`/compact`).
    Requested,
}

/// An old tool output that a compaction replaced by a stub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElidedOutput {
    /// The tool call's id.
    pub id: String,
    /// The call in one line: the tool and its key argument.
    pub call: String,
    pub lines: usize,
    pub bytes: usize,
}

/// Where a conversation divides for a compaction: `messages[..head]` are
/// the system prompt, `messages[head..tail]` the older part, and
/// `messages[tail..]` the last turns, kept word for word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub head: usize,
    pub tail: usize,
}

impl Split {
    /// Splits off the last `keep_turns` model turns, each with the user
    /// messages just before it (the request that prompted it).
    pub fn new(messages: &[Message], keep_turns: usize) -> Split {
        let head = messages
            .iter()
            .take_while(|m| matches!(m, Message::System { .. }))
            .count();
        let turns: Vec<usize> = messages
            .iter()
            .enumerate()
            .skip(head)
            .filter(|(_, m)| matches!(m, Message::Assistant { .. }))
            .map(|(index, _)| index)
            .collect();
        let keep = keep_turns.max(1);
        let mut tail = if turns.len() > keep {
            turns[turns.len() - keep]
        } else {
            head
        };
        while tail > head && matches!(messages[tail - 1], Message::User { .. }) {
            tail -= 1;
        }
        Split { head, tail }
    }

    /// Whether there is anything older than the kept turns.
    pub fn has_older(&self) -> bool {
        self.tail > self.head
    }
}

/// Stage 1: the conversation with every tool output in the older part
/// replaced by a stub (outputs too short to matter, and stubs, stay).
pub fn elide(messages: &[Message], split: Split) -> (Vec<Message>, Vec<ElidedOutput>) {
    let mut out = messages.to_vec();
    let mut elided = Vec::new();
    for message in &mut out[split.head..split.tail] {
        let Message::Tool {
            tool_call_id,
            content,
        } = message
        else {
            continue;
        };
        if content.len() < ELIDE_MIN_BYTES {
            continue;
        }
        let call = describe_call(find_call(messages, tool_call_id));
        let lines = content.lines().count();
        let size = match lines {
            1 => format!("1 line, {} bytes", content.len()),
            n => format!("{n} lines"),
        };
        elided.push(ElidedOutput {
            id: tool_call_id.clone(),
            call: call.clone(),
            lines,
            bytes: content.len(),
        });
        *content = section("elided", &[("call", call), ("size", size)]);
    }
    (out, elided)
}

/// The instruction that asks the model for the hand-off note, appended to
/// the conversation for one turn without tool calls.
pub fn summary_instruction(used: u64, window: Option<u64>, keep_turns: usize) -> Message {
    let window = window.map_or_else(|| "an unknown number of".to_string(), |w| w.to_string());
    Message::user(section(
        "summarise",
        &[
            ("used", used.to_string()),
            ("window", window),
            ("kept", keep_turns.max(1).to_string()),
            ("words", NOTE_WORDS.to_string()),
        ],
    ))
}

/// Stage 2's result: the compacted conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    pub messages: Vec<Message>,
    /// Where the user's latest request is now.
    pub latest_task: Option<usize>,
    /// One line for each message the note replaced.
    pub summarised: Vec<String>,
}

/// Stage 2: the system prompt, the pinned notes (and MCP tool
/// announcements, without which the model would not know those tools), the
/// hand-off note `note`, the user's latest request, the plan (as the
/// model's own `update_plan` call when the kept turns do not hold it) and
/// the kept turns. `call_id` names a restated plan call.
pub fn assemble(
    messages: &[Message],
    split: Split,
    latest_task: Option<usize>,
    plan: Option<&Plan>,
    note: &str,
    call_id: impl FnOnce() -> String,
) -> Assembled {
    let mut out = messages[..split.head].to_vec();
    let mut summarised = Vec::new();
    let mut outputs = 0usize;
    for (index, message) in messages
        .iter()
        .enumerate()
        .take(split.tail)
        .skip(split.head)
    {
        if kept_through_compaction(message) {
            out.push(message.clone());
        } else if Some(index) != latest_task {
            summarised.push(describe(messages, message));
            outputs += usize::from(matches!(message, Message::Tool { .. }));
        }
    }
    out.push(Message::user(section(
        "handoff",
        &[
            ("replaced", summarised.len().to_string()),
            ("outputs", outputs.to_string()),
            ("summary", note.to_string()),
        ],
    )));
    let mut new_task = None;
    if let Some(index) = latest_task.filter(|&i| i >= split.head && i < split.tail) {
        new_task = Some(out.len());
        out.push(messages[index].clone());
    }
    let tail = &messages[split.tail..];
    if let Some(plan) = plan
        && latest_plan(tail).as_ref() != Some(plan)
    {
        out.extend(restated_plan(plan, call_id()));
    }
    if let Some(index) = latest_task.filter(|&i| i >= split.tail) {
        new_task = Some(out.len() + index - split.tail);
    }
    out.extend_from_slice(tail);
    Assembled {
        messages: out,
        latest_task: new_task,
        summarised,
    }
}

/// The model's `update_plan` call for `plan` and the tool's answer: how
/// the plan stays in a compacted conversation, where the model reads it as
/// its own and [`latest_plan`] finds it again after a resume.
fn restated_plan(plan: &Plan, id: String) -> [Message; 2] {
    let mut arguments = Map::new();
    arguments.insert(
        "plan".into(),
        serde_json::to_value(&plan.plan).unwrap_or(Value::Array(Vec::new())),
    );
    if let Some(explanation) = &plan.explanation {
        arguments.insert("explanation".into(), Value::String(explanation.clone()));
    }
    [
        Message::Assistant {
            content: String::new(),
            reasoning_content: None,
            tool_calls: vec![ToolCall::new(id.clone(), UpdatePlan::NAME, arguments)],
            reasoning_details: None,
            raw: None,
        },
        // What the tool itself answers for this plan.
        Message::tool_result(id, format!("Plan updated: {}.", plan.progress())),
    ]
}

/// What the user is told of a compaction, in one line.
pub fn compacted_line(
    reason: CompactionReason,
    tokens_before: u64,
    tokens_after: u64,
    elided: usize,
    summarised: usize,
) -> String {
    let why = match reason {
        CompactionReason::Threshold => "it neared the context window",
        CompactionReason::Requested => "as asked",
    };
    let mut line = format!(
        "compacted the conversation ({why}): {tokens_before} → about {tokens_after} tokens"
    );
    if elided > 0 {
        line.push_str(&format!("; {elided} old tool outputs elided"));
    }
    if summarised > 0 {
        line.push_str(&format!(
            "; {summarised} older messages replaced by a hand-off note"
        ));
    }
    line
}

/// The message that pins `text`.
pub fn pin_message(text: &str) -> Message {
    Message::user(section("pinned", &[("text", text.to_string())]))
}

/// The pinned notes in `messages`, in order.
pub fn pinned_notes(messages: &[Message]) -> Vec<String> {
    let prefix = pin_prefix();
    messages
        .iter()
        .filter_map(|m| match m {
            Message::User { content } => content.strip_prefix(&prefix).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// The user's latest request: the last user message glint did not write.
/// (The run knows it exactly; this finds it in a conversation taken over
/// from elsewhere, after a resume.)
pub fn find_latest_task(messages: &[Message]) -> Option<usize> {
    messages.iter().rposition(|m| match m {
        Message::User { content } => !written_by_glint(content),
        _ => false,
    })
}

/// User messages a compaction keeps wherever they are: pinned notes, and
/// MCP tool announcements (the prompt's tool list never changes, so tools
/// added later are only known from these).
fn kept_through_compaction(message: &Message) -> bool {
    match message {
        Message::User { content } => {
            content.starts_with(&pin_prefix())
                || content.starts_with("[glint] New tools from MCP servers")
                || content.starts_with("[glint] These MCP tools are no longer available")
        }
        _ => false,
    }
}

/// glint's own notices to the model (guards, pins, hand-off notes, MCP
/// announcements), as opposed to what the user typed.
fn written_by_glint(content: &str) -> bool {
    content.starts_with("glint:")
        || content.starts_with("glint compacted")
        || kept_through_compaction(&Message::user(content))
}

fn pin_prefix() -> String {
    let text = section("pinned", &[]);
    match text.find("{text}") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The assistant call with id `id`, if the conversation has it.
fn find_call<'a>(messages: &'a [Message], id: &str) -> Option<&'a ToolCall> {
    messages.iter().find_map(|m| match m {
        Message::Assistant { tool_calls, .. } => tool_calls.iter().find(|c| c.id == id),
        _ => None,
    })
}

/// `read_file src/x.rs`: a call's tool and key argument, in one line.
fn describe_call(call: Option<&ToolCall>) -> String {
    let Some(call) = call else {
        return "a tool call".to_string();
    };
    let arguments = &call.function.arguments;
    let key = [
        "path", "command", "pattern", "query", "symbol", "url", "name",
    ]
    .iter()
    .find_map(|key| arguments.get(*key).and_then(Value::as_str))
    .or_else(|| arguments.values().find_map(Value::as_str));
    match key {
        Some(value) => format!("{} {}", call.function.name, one_line(value, 80)),
        None => call.function.name.clone(),
    }
}

/// One line about a message a compaction summarised, for `/compacted`.
fn describe(messages: &[Message], message: &Message) -> String {
    match message {
        Message::System { content } => format!("system: {}", one_line(content, 80)),
        Message::User { content } => format!("user: {}", one_line(content, 100)),
        Message::Assistant {
            content,
            tool_calls,
            ..
        } => {
            let mut line = String::from("assistant");
            if !content.trim().is_empty() {
                line.push_str(&format!(": {}", one_line(content, 80)));
            }
            if !tool_calls.is_empty() {
                let calls: Vec<String> = tool_calls
                    .iter()
                    .map(|call| describe_call(Some(call)))
                    .collect();
                line.push_str(&format!(" (called {})", calls.join(", ")));
            }
            line
        }
        Message::Tool {
            tool_call_id,
            content,
        } => format!(
            "result of {}: {} lines",
            describe_call(find_call(messages, tool_call_id)),
            content.lines().count()
        ),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    format!("{cut}…")
}

/// The `## name` section of `prompts/compact.md`, trimmed, with each
/// `{key}` replaced by its value.
fn section(name: &str, values: &[(&str, String)]) -> String {
    let mut text = COMPACT_PROMPTS
        .split("\n## ")
        .skip(1)
        .find_map(|section| {
            let (title, body) = section.split_once('\n')?;
            (title.trim() == name).then(|| body.trim().to_string())
        })
        // A missing section is a bug this module's tests catch; the model
        // still gets a usable message.
        .unwrap_or_else(|| format!("glint: {name}"));
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests;
