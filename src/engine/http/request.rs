//! A conversation as a Chat Completions request body.

use serde_json::{Map, Value, json};

use super::{HttpConfig, Provider};
use crate::conversation::{Message, ToolCall, ToolSpec};
use crate::engine::TurnRequest;

/// Where a past turn's reasoning goes on its assistant message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReasoningField {
    /// Not sent: OpenAI's own API rejects unknown message fields.
    Omit,
    /// `reasoning_content`, which vLLM and SGLang hand to the chat template,
    /// so preserved thinking works there.
    ReasoningContent,
    /// `reasoning`, OpenRouter's name, sent only where a turn has no
    /// `reasoning_details` (those carry the reasoning in full).
    Reasoning,
}

impl ReasoningField {
    pub fn for_config(config: &HttpConfig) -> Self {
        match config.provider {
            Provider::OpenRouter => ReasoningField::Reasoning,
            Provider::OpenAi if config.is_openai_api() => ReasoningField::Omit,
            Provider::OpenAi => ReasoningField::ReasoningContent,
        }
    }
}

/// The JSON body of one streaming request.
pub(super) fn body(config: &HttpConfig, request: &TurnRequest) -> Value {
    let field = ReasoningField::for_config(config);
    let mut body = Map::new();
    body.insert("model".into(), Value::String(config.model.clone()));
    body.insert(
        "messages".into(),
        Value::Array(request.messages.iter().map(|m| message(m, field)).collect()),
    );
    if !request.tools.is_empty() {
        body.insert(
            "tools".into(),
            Value::Array(request.tools.iter().map(tool).collect()),
        );
    }
    body.insert("stream".into(), Value::Bool(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(temperature) = config.temperature {
        body.insert("temperature".into(), number(temperature));
    }
    if let Some(top_p) = config.top_p {
        body.insert("top_p".into(), number(top_p));
    }
    if let Some(max_tokens) = config.max_tokens {
        body.insert("max_tokens".into(), Value::from(max_tokens));
    }
    if config.provider == Provider::OpenRouter {
        body.insert("reasoning".into(), json!({"enabled": request.thinking}));
    }
    if config.chat_template_kwargs {
        body.insert(
            "chat_template_kwargs".into(),
            json!({"enable_thinking": request.thinking, "clear_thinking": false}),
        );
    }
    Value::Object(body)
}

/// One conversation message in the OpenAI shape.
pub(super) fn message(message: &Message, field: ReasoningField) -> Value {
    match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Tool {
            tool_call_id,
            content,
        } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
        Message::Assistant {
            content,
            reasoning_content,
            tool_calls,
            reasoning_details,
            raw: _,
        } => {
            let mut out = Map::new();
            out.insert("role".into(), Value::String("assistant".into()));
            // OpenAI wants null rather than "" beside tool calls.
            let content = if content.is_empty() && !tool_calls.is_empty() {
                Value::Null
            } else {
                Value::String(content.clone())
            };
            out.insert("content".into(), content);
            if let Some(reasoning) = reasoning_content.as_ref().filter(|r| !r.is_empty()) {
                match field {
                    ReasoningField::ReasoningContent => {
                        out.insert("reasoning_content".into(), Value::String(reasoning.clone()));
                    }
                    ReasoningField::Reasoning if reasoning_details.is_none() => {
                        out.insert("reasoning".into(), Value::String(reasoning.clone()));
                    }
                    ReasoningField::Reasoning | ReasoningField::Omit => {}
                }
            }
            if !tool_calls.is_empty() {
                out.insert(
                    "tool_calls".into(),
                    Value::Array(tool_calls.iter().map(tool_call).collect()),
                );
            }
            // Exactly as stored: same values, same order, same key order.
            if let Some(details) = reasoning_details {
                out.insert("reasoning_details".into(), Value::Array(details.clone()));
            }
            Value::Object(out)
        }
    }
}

/// A recorded tool call, its arguments as the JSON string OpenAI expects.
fn tool_call(call: &ToolCall) -> Value {
    let arguments = Value::Object(call.function.arguments.clone()).to_string();
    json!({
        "id": call.id,
        "type": call.kind,
        "function": {"name": call.function.name, "arguments": arguments},
    })
}

/// A tool in the OpenAI envelope (specs are normally already in it).
fn tool(spec: &ToolSpec) -> Value {
    if spec.0.get("function").is_some() {
        spec.0.clone()
    } else {
        ToolSpec::from_function(spec.0.clone()).0
    }
}

/// A sampling parameter as the decimal the user wrote (0.7, not
/// 0.699999988079071, which is what the f32 widens to).
fn number(value: f32) -> Value {
    let widened = value.to_string().parse::<f64>().unwrap_or(f64::from(value));
    serde_json::Number::from_f64(widened)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_goes_where_the_server_reads_it() {
        let turn = Message::Assistant {
            content: "hi".into(),
            reasoning_content: Some("thought".into()),
            tool_calls: Vec::new(),
            reasoning_details: None,
            raw: None,
        };
        let sent = |field| message(&turn, field);
        assert_eq!(
            sent(ReasoningField::ReasoningContent)["reasoning_content"],
            "thought"
        );
        assert_eq!(sent(ReasoningField::Reasoning)["reasoning"], "thought");
        assert_eq!(
            sent(ReasoningField::Omit),
            json!({"role": "assistant", "content": "hi"})
        );
        let official = HttpConfig::new(Provider::OpenAi, "https://api.openai.com/v1", "m");
        assert_eq!(ReasoningField::for_config(&official), ReasoningField::Omit);
    }
}
