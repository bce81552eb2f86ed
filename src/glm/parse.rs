//! Streaming parser for what GLM-4.7-Flash generates after the generation
//! prompt: reasoning, visible text, and `<tool_call>` blocks.
//!
//! The parser is a small state machine over a buffer that only ever holds a
//! possible tag prefix (plus an open tool call), so each chunk is handled in
//! time proportional to its length, and text is emitted as soon as it cannot
//! be the start of a tag. Decisions depend only on the text, never on where
//! the chunks were cut, so any chunking yields the same merged events.
//!
//! A string value is written raw, so it may contain `</arg_value>` itself:
//! only an `</arg_value>` followed (after optional whitespace) by
//! `<arg_key>`, `</tool_call>`, a stop token or the end of output ends a
//! value. The buffer holds such a tag and what follows it until that
//! decides.

use serde::Serialize;
use serde_json::{Map, Value};

use super::pyjson::{is_py_space, py_strip};
use crate::conversation::{ArgumentType, ToolSpec};

/// Strings that end the model's turn; everything after them is ignored.
pub const STOP_TOKENS: [&str; 3] = ["<|endoftext|>", "<|user|>", "<|observation|>"];
/// Token ids of [`STOP_TOKENS`], in the same order, for engines that stop on
/// ids before the text is decoded.
pub const STOP_TOKEN_IDS: [u32; 3] = [154820, 154827, 154829];

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";
const CALL_OPEN: &str = "<tool_call>";
const CALL_CLOSE: &str = "</tool_call>";
const KEY_OPEN: &str = "<arg_key>";
const KEY_CLOSE: &str = "</arg_key>";
const VALUE_OPEN: &str = "<arg_value>";
const VALUE_CLOSE: &str = "</arg_value>";
const STOP_0: &str = STOP_TOKENS[0];
const STOP_1: &str = STOP_TOKENS[1];
const STOP_2: &str = STOP_TOKENS[2];

/// One piece of parsed output, in the order the model produced it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseEvent {
    ReasoningDelta(String),
    TextDelta(String),
    ToolCall(ParsedToolCall),
}

/// A complete tool call, arguments in the order the model wrote them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedToolCall {
    /// The id a server gave the call (OpenAI-compatible engines), kept so
    /// the result goes back under the same id; GLM text carries none, and
    /// the agent then numbers the call itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub arguments: Map<String, Value>,
}

/// A whole turn, assembled from events. Its `reasoning` and `content` are the
/// stripped sections, i.e. exactly what the renderer writes back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedTurn {
    pub reasoning: String,
    pub content: String,
    pub tool_calls: Vec<ParsedToolCall>,
}

impl ParsedTurn {
    pub fn push(&mut self, event: ParseEvent) {
        match event {
            ParseEvent::ReasoningDelta(text) => self.reasoning.push_str(&text),
            ParseEvent::TextDelta(text) => self.content.push_str(&text),
            ParseEvent::ToolCall(call) => self.tool_calls.push(call),
        }
    }

    pub fn from_events(events: impl IntoIterator<Item = ParseEvent>) -> Self {
        let mut turn = ParsedTurn::default();
        for event in events {
            turn.push(event);
        }
        turn
    }
}

/// Parses a complete output in one go (feed everything, then finish).
pub fn parse_complete(raw: &str, tools: &[ToolSpec], starts_in_reasoning: bool) -> ParsedTurn {
    let mut parser = StreamParser::new(tools, starts_in_reasoning);
    let mut turn = ParsedTurn::from_events(parser.feed(raw));
    for event in parser.finish() {
        turn.push(event);
    }
    turn
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reasoning,
    /// `fresh`: nothing but whitespace since the text section began after
    /// reasoning (or at the start of output), so a leading `<think>` or
    /// `</think>` is still a tag rather than text.
    Text {
        fresh: bool,
    },
    Call(CallPart),
    /// Output ended (stop token or `finish`); input is ignored.
    Done,
}

/// Where inside `<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallPart {
    Name,
    /// After `</arg_value>`: another `<arg_key>` or `</tool_call>`.
    Between,
    Key,
    /// After `</arg_key>`: expecting `<arg_value>`.
    AfterKey,
    Value,
}

/// Streams a section with Python `strip()` semantics: leading whitespace is
/// dropped, a whitespace run is held until non-whitespace follows, and
/// whatever is held when the section ends is dropped.
#[derive(Debug, Default)]
struct Trimmer {
    started: bool,
    held: String,
}

impl Trimmer {
    /// Returns the text that can be emitted now.
    fn push(&mut self, text: &str) -> String {
        let text = if self.started {
            text
        } else {
            text.trim_start_matches(is_py_space)
        };
        let body = text.trim_end_matches(is_py_space).len();
        if body == 0 {
            self.held.push_str(text);
            return String::new();
        }
        self.started = true;
        let mut ready = std::mem::take(&mut self.held);
        ready.push_str(&text[..body]);
        self.held.push_str(&text[body..]);
        ready
    }

    fn end(&mut self) {
        self.started = false;
        self.held.clear();
    }
}

/// A tool call being read. `raw` keeps every byte since `<tool_call>` so an
/// unclosed call can be handed back as text.
#[derive(Debug, Default)]
struct OpenCall {
    raw: String,
    name: String,
    key: String,
    value: String,
    args: Vec<(String, String)>,
}

/// Incremental parser of one model turn. Feed it decoded text as it arrives.
#[derive(Debug)]
pub struct StreamParser {
    tools: Vec<ToolSpec>,
    state: State,
    /// Unprocessed input: at most a possible tag prefix between calls.
    pending: String,
    reasoning: Trimmer,
    text: Trimmer,
    call: OpenCall,
    stop_seen: bool,
}

impl StreamParser {
    /// `tools` give each argument's schema type; `starts_in_reasoning` is
    /// true when the prompt ended in `<think>` (thinking on).
    pub fn new(tools: &[ToolSpec], starts_in_reasoning: bool) -> Self {
        StreamParser {
            tools: tools.to_vec(),
            state: if starts_in_reasoning {
                State::Reasoning
            } else {
                State::Text { fresh: true }
            },
            pending: String::new(),
            reasoning: Trimmer::default(),
            text: Trimmer::default(),
            call: OpenCall::default(),
            stop_seen: false,
        }
    }

    pub fn feed(&mut self, chunk: &str) -> Vec<ParseEvent> {
        let mut out = Vec::new();
        if self.state != State::Done {
            self.pending.push_str(chunk);
            self.advance(false, &mut out);
        }
        out
    }

    /// End of output: flush what was held back. An unclosed `<tool_call>` is
    /// not a call: its raw text is emitted as a TextDelta so nothing is lost.
    pub fn finish(&mut self) -> Vec<ParseEvent> {
        let mut out = Vec::new();
        if self.state != State::Done {
            self.advance(true, &mut out);
        }
        out
    }

    /// True once a stop token (`<|endoftext|>`, `<|user|>`, `<|observation|>`)
    /// was seen; everything after it is ignored.
    pub fn stopped(&self) -> bool {
        self.stop_seen
    }

    fn advance(&mut self, at_end: bool, out: &mut Vec<ParseEvent>) {
        loop {
            match self.state {
                State::Done => {
                    self.pending.clear();
                    return;
                }
                State::Text { fresh: true } => {
                    if !self.leading_think(at_end) {
                        return;
                    }
                    continue;
                }
                _ => {}
            }
            let tags = self.tags();
            if let Some((pos, tag)) = find_earliest(&self.pending, tags) {
                if tag == VALUE_CLOSE {
                    match value_close_ends_value(&self.pending[pos + tag.len()..], at_end) {
                        Some(true) => {}
                        Some(false) => {
                            // A literal `</arg_value>` inside the value.
                            let text = self.take_front(pos + tag.len());
                            self.content(&text, out);
                            continue;
                        }
                        None => {
                            // Undecided: hold the tag and what follows it.
                            let before = self.take_front(pos);
                            self.content(&before, out);
                            return;
                        }
                    }
                }
                let before = self.take_front(pos);
                self.content(&before, out);
                self.take_front(tag.len());
                self.on_tag(tag, out);
                continue;
            }
            let ready = if at_end {
                self.pending.len()
            } else {
                holdback_start(&self.pending, tags)
            };
            let ready = self.take_front(ready);
            self.content(&ready, out);
            if at_end {
                self.end_of_output(out);
            }
            return;
        }
    }

    /// Handles a `<think>`/`</think>` at the start of a fresh text section
    /// (the model re-opening thinking, or a stray close). Returns false when
    /// more input is needed to decide.
    fn leading_think(&mut self, at_end: bool) -> bool {
        let start = self.pending.len() - self.pending.trim_start_matches(is_py_space).len();
        let rest = &self.pending[start..];
        if rest.starts_with(THINK_OPEN) {
            self.take_front(start + THINK_OPEN.len());
            self.state = State::Reasoning;
            return true;
        }
        if rest.starts_with(THINK_CLOSE) {
            self.take_front(start + THINK_CLOSE.len());
            return true;
        }
        if !at_end && (THINK_OPEN.starts_with(rest) || THINK_CLOSE.starts_with(rest)) {
            // Undecided. The whitespace can go: a section's leading
            // whitespace is dropped whichever section follows.
            self.take_front(start);
            return false;
        }
        self.state = State::Text { fresh: false };
        true
    }

    /// The tags that mean something in the current state; anything else is
    /// content.
    fn tags(&self) -> &'static [&'static str] {
        match self.state {
            State::Reasoning => &[THINK_CLOSE, STOP_0, STOP_1, STOP_2],
            State::Text { .. } => &[CALL_OPEN, STOP_0, STOP_1, STOP_2],
            State::Call(CallPart::Name | CallPart::Between) => {
                &[KEY_OPEN, CALL_CLOSE, STOP_0, STOP_1, STOP_2]
            }
            State::Call(CallPart::Key) => &[KEY_CLOSE, STOP_0, STOP_1, STOP_2],
            State::Call(CallPart::AfterKey) => &[VALUE_OPEN, CALL_CLOSE, STOP_0, STOP_1, STOP_2],
            State::Call(CallPart::Value) => &[VALUE_CLOSE, STOP_0, STOP_1, STOP_2],
            State::Done => &[],
        }
    }

    fn take_front(&mut self, len: usize) -> String {
        let rest = self.pending.split_off(len);
        std::mem::replace(&mut self.pending, rest)
    }

    fn content(&mut self, text: &str, out: &mut Vec<ParseEvent>) {
        if text.is_empty() {
            return;
        }
        match self.state {
            State::Reasoning => {
                let ready = self.reasoning.push(text);
                emit(out, ready, true);
            }
            State::Text { .. } => {
                let ready = self.text.push(text);
                emit(out, ready, false);
            }
            State::Call(part) => {
                self.call.raw.push_str(text);
                match part {
                    CallPart::Name => self.call.name.push_str(text),
                    CallPart::Key => self.call.key.push_str(text),
                    CallPart::Value => self.call.value.push_str(text),
                    // Stray text between tags (GLM-4.5 puts newlines there).
                    CallPart::Between | CallPart::AfterKey => {}
                }
            }
            State::Done => {}
        }
    }

    fn on_tag(&mut self, tag: &'static str, out: &mut Vec<ParseEvent>) {
        if STOP_TOKENS.contains(&tag) {
            self.stop_seen = true;
            self.end_of_output(out);
            return;
        }
        match self.state {
            State::Reasoning => {
                self.reasoning.end();
                self.state = State::Text { fresh: true };
            }
            State::Text { .. } => {
                // The text section is only interrupted here: if the call
                // turns out not to be one, its raw text continues it.
                self.call = OpenCall {
                    raw: CALL_OPEN.to_string(),
                    ..OpenCall::default()
                };
                self.state = State::Call(CallPart::Name);
            }
            State::Call(part) => {
                self.call.raw.push_str(tag);
                match tag {
                    KEY_OPEN => {
                        self.call.key.clear();
                        self.state = State::Call(CallPart::Key);
                    }
                    KEY_CLOSE => self.state = State::Call(CallPart::AfterKey),
                    VALUE_OPEN => {
                        self.call.value.clear();
                        self.state = State::Call(CallPart::Value);
                    }
                    VALUE_CLOSE => {
                        let key = std::mem::take(&mut self.call.key);
                        let value = std::mem::take(&mut self.call.value);
                        self.call.args.push((key, value));
                        self.state = State::Call(CallPart::Between);
                    }
                    CALL_CLOSE => {
                        if part == CallPart::AfterKey {
                            // A key without a value: keep it, empty.
                            let key = std::mem::take(&mut self.call.key);
                            self.call.args.push((key, String::new()));
                        }
                        self.close_call(out);
                    }
                    _ => {}
                }
            }
            State::Done => {}
        }
    }

    fn close_call(&mut self, out: &mut Vec<ParseEvent>) {
        let call = std::mem::take(&mut self.call);
        self.state = State::Text { fresh: false };
        let name = py_strip(&call.name).to_string();
        if name.is_empty() {
            // `<tool_call></tool_call>` names nothing to run: keep it as text.
            let ready = self.text.push(&call.raw);
            emit(out, ready, false);
            return;
        }
        // A real call ends the text section; text after it starts a new one.
        self.text.end();
        let spec = self.tools.iter().find(|tool| tool.name() == Some(&name));
        let mut arguments = Map::new();
        for (key, raw) in call.args {
            let key = py_strip(&key).to_string();
            let value = typed_value(spec, &key, raw);
            arguments.insert(key, value);
        }
        out.push(ParseEvent::ToolCall(ParsedToolCall {
            id: None,
            name,
            arguments,
        }));
    }

    fn end_of_output(&mut self, out: &mut Vec<ParseEvent>) {
        match self.state {
            State::Reasoning => self.reasoning.end(),
            State::Text { .. } => self.text.end(),
            State::Call(_) => {
                // An unclosed call is not a call; hand its text back.
                let raw = std::mem::take(&mut self.call.raw);
                let ready = self.text.push(&raw);
                emit(out, ready, false);
                self.text.end();
            }
            State::Done => {}
        }
        self.call = OpenCall::default();
        self.pending.clear();
        self.state = State::Done;
    }
}

/// Types an argument by the tool's schema: strings stay raw (exact bytes
/// matter for code edits); other types are parsed as JSON, falling back to
/// the raw text so a malformed value still reaches the tool (which can
/// report it) instead of vanishing.
fn typed_value(spec: Option<&ToolSpec>, key: &str, raw: String) -> Value {
    match spec.and_then(|tool| tool.argument_type(key)) {
        None | Some(ArgumentType::String) => Value::String(raw),
        Some(ArgumentType::Other) => match serde_json::from_str(raw.trim()) {
            Ok(value) => value,
            Err(_) => Value::String(raw),
        },
    }
}

/// Appends a delta, merging it into the previous event of the same kind so
/// one feed yields at most one delta per run of text.
fn emit(out: &mut Vec<ParseEvent>, text: String, reasoning: bool) {
    if text.is_empty() {
        return;
    }
    match (out.last_mut(), reasoning) {
        (Some(ParseEvent::ReasoningDelta(prev)), true)
        | (Some(ParseEvent::TextDelta(prev)), false) => prev.push_str(&text),
        (_, true) => out.push(ParseEvent::ReasoningDelta(text)),
        (_, false) => out.push(ParseEvent::TextDelta(text)),
    }
}

/// Whether a `</arg_value>` followed by `rest` closes the value: it does
/// when, after optional whitespace, `<arg_key>`, `</tool_call>` or a stop
/// token follows (or the output ends); any other text means the tag was part
/// of the value. `None` while `rest` cannot tell yet (whitespace only, or a
/// prefix of one of those tags, and more output may come).
fn value_close_ends_value(rest: &str, at_end: bool) -> Option<bool> {
    let rest = rest.trim_start_matches(is_py_space);
    const FOLLOWERS: [&str; 5] = [KEY_OPEN, CALL_CLOSE, STOP_0, STOP_1, STOP_2];
    if FOLLOWERS.iter().any(|tag| rest.starts_with(tag)) {
        return Some(true);
    }
    if at_end {
        return Some(rest.is_empty() || FOLLOWERS.iter().any(|tag| tag.starts_with(rest)));
    }
    if FOLLOWERS.iter().any(|tag| tag.starts_with(rest)) {
        return None;
    }
    Some(false)
}

/// The first tag occurring in `text`, with its byte position.
fn find_earliest(text: &str, tags: &[&'static str]) -> Option<(usize, &'static str)> {
    tags.iter()
        .filter_map(|tag| text.find(tag).map(|pos| (pos, *tag)))
        .min_by_key(|(pos, _)| *pos)
}

/// Where the tail that could still become one of `tags` begins (`text.len()`
/// when there is none). Every tag starts with `<`, an ASCII byte, so each
/// candidate position is a char boundary.
fn holdback_start(text: &str, tags: &[&str]) -> usize {
    let longest = tags.iter().map(|tag| tag.len()).max().unwrap_or(0);
    let from = text.len().saturating_sub(longest.saturating_sub(1));
    text.bytes()
        .enumerate()
        .skip(from)
        .filter(|(_, byte)| *byte == b'<')
        .map(|(pos, _)| pos)
        .find(|&pos| {
            let tail = &text[pos..];
            tags.iter()
                .any(|tag| tag.len() > tail.len() && tag.starts_with(tail))
        })
        .unwrap_or(text.len())
}
