//! Server-sent events, and the assembly of one streamed Chat Completions turn
//! into [`ModelEvent`]s.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::retry::{Failure, stream_error_failure};
use crate::engine::{FinishReason, ModelEvent, Usage};
use crate::glm::ParsedToolCall;

/// The key under which a tool call's arguments are kept when the model wrote
/// them as something other than a JSON object. The call still reaches the
/// agent, whose argument check then tells the model that this field is
/// unknown, next to the arguments the tool expects, so it can retry; and the
/// turn's text and reasoning are not lost.
pub const INVALID_ARGUMENTS_KEY: &str = "_invalid_json_arguments";

/// Splits a byte stream into the `data` payloads of its events, whatever the
/// chunk boundaries (inside a line, inside a UTF-8 character, between `\r`
/// and `\n`).
#[derive(Debug, Default)]
pub(super) struct SseDecoder {
    buffer: Vec<u8>,
    /// How far `buffer` is known to hold no newline.
    scanned: usize,
    /// The data lines of the event being read.
    data: Option<String>,
}

impl SseDecoder {
    /// Takes the next bytes and returns the payloads of the events they end.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, Failure> {
        self.buffer.extend_from_slice(bytes);
        let mut payloads = Vec::new();
        let mut start = 0;
        let mut search = self.scanned;
        while let Some(offset) = self.buffer[search..].iter().position(|&b| b == b'\n') {
            let end = search + offset;
            let line = &self.buffer[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
            self.line(&line, &mut payloads)?;
            start = end + 1;
            search = start;
        }
        self.buffer.drain(..start);
        self.scanned = self.buffer.len();
        Ok(payloads)
    }

    /// Ends the stream: a last line without a newline, and an event without
    /// its closing blank line, still count.
    pub fn finish(&mut self) -> Result<Vec<String>, Failure> {
        let mut payloads = Vec::new();
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        let rest = rest.strip_suffix(b"\r").unwrap_or(&rest);
        if !rest.is_empty() {
            self.line(rest, &mut payloads)?;
        }
        payloads.extend(self.data.take());
        Ok(payloads)
    }

    fn line(&mut self, line: &[u8], payloads: &mut Vec<String>) -> Result<(), Failure> {
        if line.is_empty() {
            payloads.extend(self.data.take());
            return Ok(());
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| Failure::malformed("a stream line that is not UTF-8"))?;
        // A bare JSON line is not SSE, but some servers send their error
        // that way; reading it as data lets the error reach the user.
        let value = if line.starts_with('{') {
            line
        } else if line.starts_with(':') {
            return Ok(()); // a comment, e.g. OpenRouter's keep-alive
        } else {
            match line.split_once(':') {
                Some(("data", value)) => value.strip_prefix(' ').unwrap_or(value),
                Some((_, _)) => return Ok(()), // event, id, retry: nothing for chat
                None if line == "data" => "",
                None => return Ok(()),
            }
        };
        match &mut self.data {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => self.data = Some(value.to_string()),
        }
        Ok(())
    }
}

/// A tool call being streamed: id and name first, arguments in pieces.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Collects one turn from its chunks: deltas pass straight through, tool
/// calls, reasoning details and usage are kept for the end.
#[derive(Debug, Default)]
pub(super) struct TurnAssembler {
    calls: BTreeMap<u64, PartialCall>,
    details: Vec<Value>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
}

impl TurnAssembler {
    /// Whether `[DONE]` has arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes one event's data and returns the deltas it carries.
    pub fn on_data(&mut self, data: &str) -> Result<Vec<ModelEvent>, Failure> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            Failure::malformed(format!(
                "stream data that is not JSON ({e}): {}",
                preview(data)
            ))
        })?;
        let Value::Object(chunk) = chunk else {
            return Err(Failure::malformed(format!(
                "stream data that is not a JSON object: {}",
                preview(data)
            )));
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error_failure(error));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(Usage {
                prompt_tokens: usage.get("prompt_tokens").and_then(Value::as_u64),
                completion_tokens: usage.get("completion_tokens").and_then(Value::as_u64),
            });
        }
        let choices = match chunk.get("choices") {
            Some(Value::Array(choices)) => choices,
            None | Some(Value::Null) if chunk.contains_key("usage") => return Ok(Vec::new()),
            _ => {
                return Err(Failure::malformed(format!(
                    "a stream chunk without a `choices` list: {}",
                    preview(data)
                )));
            }
        };
        let first = choices
            .iter()
            .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
        let Some(choice) = first else {
            return Ok(Vec::new());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        match choice.get("delta") {
            Some(Value::Object(delta)) => self.on_delta(delta),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(Failure::malformed(format!(
                "a choice whose `delta` is not an object: {}",
                preview(data)
            ))),
        }
    }

    fn on_delta(&mut self, delta: &Map<String, Value>) -> Result<Vec<ModelEvent>, Failure> {
        let mut events = Vec::new();
        let text = |key: &str| {
            delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        // vLLM and SGLang say `reasoning_content`, OpenRouter `reasoning`;
        // a server sending both means the same text twice.
        let reasoning = text("reasoning_content").or_else(|| text("reasoning"));
        let details = match delta.get("reasoning_details") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        match reasoning {
            Some(reasoning) => events.push(ModelEvent::ReasoningDelta(reasoning.to_string())),
            // Details without the plain field still show as reasoning.
            None => events.extend(
                details
                    .iter()
                    .filter_map(detail_text)
                    .map(|t| ModelEvent::ReasoningDelta(t.to_string())),
            ),
        }
        for item in details {
            self.push_detail(item.clone());
        }
        if let Some(content) = text("content") {
            events.push(ModelEvent::TextDelta(content.to_string()));
        }
        match delta.get("tool_calls") {
            Some(Value::Array(calls)) => {
                for call in calls {
                    self.on_tool_call(call)?;
                }
            }
            None | Some(Value::Null) => {}
            Some(other) => {
                return Err(Failure::malformed(format!(
                    "`tool_calls` that is not a list: {}",
                    preview(&other.to_string())
                )));
            }
        }
        Ok(events)
    }

    fn on_tool_call(&mut self, call: &Value) -> Result<(), Failure> {
        let Value::Object(call) = call else {
            return Err(Failure::malformed(format!(
                "a tool call delta that is not an object: {}",
                preview(&call.to_string())
            )));
        };
        let id = call.get("id").and_then(Value::as_str).unwrap_or("");
        let function = call.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        // Without an index (some servers omit it), a new id starts a new call
        // and anything else continues the last one.
        let index = match call.get("index").and_then(Value::as_u64) {
            Some(index) => index,
            None => match self.calls.last_key_value() {
                Some((&last, partial)) if !id.is_empty() && partial.id != id => last + 1,
                Some((&last, _)) => last,
                None => 0,
            },
        };
        let partial = self.calls.entry(index).or_default();
        if partial.id.is_empty() {
            partial.id = id.to_string();
        }
        // Names arrive whole in the first delta; a server repeating it in
        // later deltas must not double it, one sending pieces is appended.
        if partial.name.is_empty() {
            partial.name = name.to_string();
        } else if !name.is_empty() && name != partial.name {
            partial.name.push_str(name);
        }
        partial.arguments.push_str(arguments);
        Ok(())
    }

    /// Keeps a reasoning detail, merging it into the previous one when both
    /// are pieces of the same streamed block: OpenRouter streams a block as
    /// many items with the same `type` and `index`, each carrying the next
    /// piece of its `text` (`reasoning.text`) or `summary`
    /// (`reasoning.summary`), with `signature` or `id` possibly only on the
    /// last. Merged, the list is what the non-streaming API returns and what
    /// OpenRouter's own SDK sends back: text concatenated, every other field
    /// taken from the first item that has it, key order that of the first
    /// piece. Encrypted and unknown items, and pieces of different blocks, are
    /// kept exactly as received.
    fn push_detail(&mut self, item: Value) {
        let merged = match (self.details.last_mut(), &item) {
            (Some(Value::Object(last)), Value::Object(piece)) => merge_detail(last, piece),
            _ => false,
        };
        if !merged {
            self.details.push(item);
        }
    }

    /// Ends the turn: the whole tool calls, the reasoning details and the
    /// usage. A stream that stops before `[DONE]` and before any
    /// `finish_reason` was cut off, and is an error.
    pub fn finish(&mut self) -> Result<Vec<ModelEvent>, Failure> {
        if !self.done && self.finish_reason.is_none() {
            return Err(Failure::passing(
                "the server closed the stream mid-answer (no finish_reason and no [DONE])",
                "try again",
            ));
        }
        let mut events: Vec<ModelEvent> = std::mem::take(&mut self.calls)
            .into_values()
            .filter(|call| !call.name.is_empty() || !call.arguments.trim().is_empty())
            .map(|call| {
                ModelEvent::ToolCall(ParsedToolCall {
                    id: (!call.id.is_empty()).then_some(call.id),
                    name: call.name,
                    arguments: parse_arguments(&call.arguments),
                })
            })
            .collect();
        if !self.details.is_empty() {
            events.push(ModelEvent::ReasoningDetails(std::mem::take(
                &mut self.details,
            )));
        }
        if let Some(usage) = self.usage.take() {
            events.push(ModelEvent::Usage(usage));
        }
        // After the calls: the agent decides what a cut turn's calls mean
        // with the whole turn in hand.
        if let Some(reason) = self
            .finish_reason
            .as_deref()
            .and_then(FinishReason::from_engine)
        {
            events.push(ModelEvent::Finish(reason));
        }
        Ok(events)
    }
}

/// The text a streamed reasoning detail shows, if any.
fn detail_text(item: &Value) -> Option<&str> {
    let key = text_key(item.as_object()?)?;
    item.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The field that holds a detail's streamed text, for the types whose pieces
/// are merged.
fn text_key(item: &Map<String, Value>) -> Option<&'static str> {
    match item.get("type")?.as_str()? {
        "reasoning.text" => Some("text"),
        "reasoning.summary" => Some("summary"),
        _ => None,
    }
}

/// Merges `piece` into `last` when both are pieces of one block; returns
/// whether it did.
fn merge_detail(last: &mut Map<String, Value>, piece: &Map<String, Value>) -> bool {
    let Some(key) = text_key(piece) else {
        return false;
    };
    if text_key(last) != Some(key)
        || last.get("type") != piece.get("type")
        || last.get("index") != piece.get("index")
    {
        return false;
    }
    for (field, value) in piece {
        if field == key {
            let addition = value.as_str().unwrap_or("");
            match last.get_mut(field) {
                Some(Value::String(text)) => text.push_str(addition),
                _ => {
                    last.insert(field.clone(), value.clone());
                }
            }
        } else if !value.is_null() && last.get(field).is_none_or(Value::is_null) {
            last.insert(field.clone(), value.clone());
        }
    }
    true
}

/// A tool call's arguments from the JSON text the model streamed. Empty
/// means none; a JSON string holding an object (double-encoded, as some
/// servers do) is unwrapped; anything else is kept under
/// [`INVALID_ARGUMENTS_KEY`].
fn parse_arguments(raw: &str) -> Map<String, Value> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Map::new();
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => Map::new(),
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(Value::Object(map)) => map,
            _ => invalid_arguments(raw),
        },
        _ => invalid_arguments(raw),
    }
}

fn invalid_arguments(raw: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(INVALID_ARGUMENTS_KEY.into(), Value::String(raw.to_string()));
    map
}

/// The start of a payload, for error messages.
fn preview(data: &str) -> String {
    const MAX: usize = 120;
    let line = data.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX {
        return line;
    }
    let cut: String = line.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_every_split_point() {
        let stream = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\ndata: one\ndata: two\n\nevent: x\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for split in 0..=bytes.len() {
            let mut decoder = SseDecoder::default();
            let mut payloads = decoder.feed(&bytes[..split]).unwrap();
            payloads.extend(decoder.feed(&bytes[split..]).unwrap());
            payloads.extend(decoder.finish().unwrap());
            assert_eq!(
                payloads,
                ["{\"a\":\"é\"}", "one\ntwo", "[DONE]"],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_last_event_without_blank_line_counts() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b"data: [DONE]").unwrap().is_empty());
        assert_eq!(decoder.finish().unwrap(), ["[DONE]"]);
    }

    #[test]
    fn arguments_are_parsed_or_kept_raw() {
        assert_eq!(parse_arguments(""), Map::new());
        assert_eq!(parse_arguments("{\"a\": 1}")["a"], 1);
        assert_eq!(parse_arguments("\"{\\\"a\\\": 2}\"")["a"], 2);
        assert_eq!(
            parse_arguments("{\"a\": ")[INVALID_ARGUMENTS_KEY],
            "{\"a\": "
        );
        assert_eq!(parse_arguments("[1]")[INVALID_ARGUMENTS_KEY], "[1]");
    }
}
