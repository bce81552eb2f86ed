//! The conversation every engine is driven with.
//!
//! The JSON shape is the OpenAI-style one used by the reference renders in
//! `../shared/glm/golden/*.json` (`role`, `content`, `reasoning_content`,
//! `tool_calls[].function.{name, arguments}`, `tool_call_id`), except that tool
//! call arguments are a JSON object rather than a string: GLM writes them as
//! key/value pairs, and keeping them as an object preserves key order and value
//! types for an exact re-render.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        /// Visible text of the turn.
        #[serde(default)]
        content: String,
        /// The turn's reasoning, kept complete so that preserved thinking can
        /// pass it back to the model unmodified.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        /// OpenRouter's `reasoning_details` for this turn, exactly as received:
        /// they must go back unmodified and in order on this same message.
        /// Not part of GLM's prompt format (the renderer ignores them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning_details: Option<Vec<Value>>,
        /// The model's exact output for this turn, when a raw-text engine
        /// produced it: everything after the turn's `<|assistant|>`, i.e. the
        /// generation prompt's thinking tag and the generated text up to (not
        /// including) the stop token. The GLM renderer writes it back verbatim,
        /// so the next prompt extends this turn's prompt byte for byte (the
        /// template's re-render strips whitespace, re-prints values and closes
        /// unclosed reasoning) and the engine's prefix cache covers the turn.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw: Option<String>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message::System {
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Message::User {
            content: content.into(),
        }
    }

    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message::Tool {
            tool_call_id: tool_call_id.into(),
            content: content.into(),
        }
    }
}

/// A tool call as recorded in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_string()
}

impl ToolCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: Map<String, Value>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            kind: function_kind(),
            function: FunctionCall {
                name: name.into(),
                arguments,
            },
        }
    }
}

/// The function a tool call names, with its arguments in the order the model
/// wrote them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: Map<String, Value>,
}

/// A tool as the model sees it: `{"type": "function", "function": {"name",
/// "description", "parameters"}}`. Kept as raw JSON (key order preserved) so
/// the prompt shows exactly what `tools/NAME.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ToolSpec(pub Value);

impl ToolSpec {
    /// Wraps a function description (`{"name", "description", "parameters"}`)
    /// in the OpenAI tool envelope.
    pub fn from_function(function: Value) -> Self {
        let mut outer = Map::new();
        outer.insert("type".into(), Value::String("function".into()));
        outer.insert("function".into(), function);
        ToolSpec(Value::Object(outer))
    }

    /// The function object, whether or not the spec carries the envelope.
    pub fn function(&self) -> &Value {
        self.0.get("function").unwrap_or(&self.0)
    }

    pub fn name(&self) -> Option<&str> {
        self.function().get("name").and_then(Value::as_str)
    }

    /// The JSON Schema `type` of one argument, when the schema declares it.
    /// A union of types (`["string", "null"]`) counts as string when it
    /// includes string, since a raw value is then always acceptable.
    pub fn argument_type(&self, key: &str) -> Option<ArgumentType> {
        let ty = self
            .function()
            .get("parameters")?
            .get("properties")?
            .get(key)?
            .get("type")?;
        match ty {
            Value::String(s) => Some(ArgumentType::from_name(s)),
            Value::Array(items) => {
                if items.iter().any(|t| t.as_str() == Some("string")) {
                    Some(ArgumentType::String)
                } else {
                    Some(ArgumentType::Other)
                }
            }
            _ => None,
        }
    }
}

/// Whether an argument's value is taken as raw text or parsed as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentType {
    String,
    Other,
}

impl ArgumentType {
    fn from_name(name: &str) -> Self {
        if name == "string" {
            ArgumentType::String
        } else {
            ArgumentType::Other
        }
    }
}
