//! The prompt renderer: GLM-4.7-Flash's Jinja chat template, in Rust.
//!
//! The template is small and fixed, so a hand-written port is cheaper and
//! easier to reason about than running a Jinja engine on every turn. The
//! golden renders (`tests/fixtures/glm-golden`, produced by the official
//! template) pin it down byte for byte.

use serde::{Deserialize, Serialize};

use super::pyjson::{py_strip, python_json};
use crate::conversation::{Message, ToolCall, ToolSpec};

const BEGIN: &str = "[gMASK]<sop>";

/// Everything the template writes before the tool list, verbatim.
const TOOLS_PREAMBLE: &str = "<|system|>\n# Tools\n\nYou may call one or more functions to assist \
with the user query.\n\nYou are provided with function signatures within <tools></tools> XML \
tags:\n<tools>\n";

/// Everything the template writes after the tool list, verbatim.
const TOOLS_POSTAMBLE: &str = "</tools>\n\nFor each function call, output the function name and \
arguments within the following XML format:\n<tool_call>{function-name}<arg_key>{arg-key-1}\
</arg_key><arg_value>{arg-value-1}</arg_value><arg_key>{arg-key-2}</arg_key><arg_value>\
{arg-value-2}</arg_value>...</tool_call>";

/// How a conversation is turned into a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// The generation prompt opens reasoning (`<think>`) instead of closing
    /// it (`</think>`).
    pub enable_thinking: bool,
    /// Keep every past assistant turn's reasoning (template flag
    /// `clear_thinking = false`). Without it, reasoning before the last user
    /// message is replaced by a bare `</think>`, which changes earlier turns
    /// and so defeats an engine's prefix cache.
    pub preserved_thinking: bool,
    /// End with `<|assistant|>` and the thinking tag, ready for generation.
    pub add_generation_prompt: bool,
}

impl Default for RenderOptions {
    /// glint keeps reasoning across turns: Z.ai recommends preserved thinking
    /// for multi-turn agentic work, and it keeps each prompt an exact
    /// extension of the previous one.
    fn default() -> Self {
        RenderOptions {
            enable_thinking: true,
            preserved_thinking: true,
            add_generation_prompt: true,
        }
    }
}

impl RenderOptions {
    /// Whether the prompt ends inside reasoning (`<|assistant|><think>`), i.e.
    /// the `starts_in_reasoning` to give the output parser.
    pub fn starts_in_reasoning(&self) -> bool {
        self.add_generation_prompt && self.enable_thinking
    }
}

/// The template's keyword arguments (`chat_template_kwargs`), each optional
/// as in Jinja, where an absent flag falls back to a default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateFlags {
    /// Absent means true (the golden files always set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_generation_prompt: Option<bool>,
    /// Absent means true: the template only closes thinking when the flag is
    /// defined and false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_thinking: Option<bool>,
    /// Absent means true (interleaved thinking, the template's default):
    /// reasoning is preserved only when the flag is explicitly false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_thinking: Option<bool>,
}

impl TemplateFlags {
    /// The options these flags select, applying the template's defaults.
    pub fn options(&self) -> RenderOptions {
        RenderOptions {
            enable_thinking: self.enable_thinking.unwrap_or(true),
            preserved_thinking: self.clear_thinking == Some(false),
            add_generation_prompt: self.add_generation_prompt.unwrap_or(true),
        }
    }
}

impl From<RenderOptions> for TemplateFlags {
    /// Every flag set explicitly, e.g. for an OpenAI-compatible server's
    /// `chat_template_kwargs`, so its template renders what we would.
    fn from(options: RenderOptions) -> Self {
        TemplateFlags {
            add_generation_prompt: Some(options.add_generation_prompt),
            enable_thinking: Some(options.enable_thinking),
            clear_thinking: Some(!options.preserved_thinking),
        }
    }
}

/// A conversation in the golden files' shape:
/// `{"flags": {...template kwargs...}, "tools": [...], "messages": [...]}`.
/// Other keys (`name`, `expected_prompt`) are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RenderRequest {
    #[serde(default)]
    pub flags: TemplateFlags,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    pub messages: Vec<Message>,
}

impl RenderRequest {
    pub fn options(&self) -> RenderOptions {
        self.flags.options()
    }

    pub fn render(&self) -> String {
        render_prompt(&self.messages, &self.tools, &self.options())
    }
}

/// Renders a conversation exactly as GLM-4.7-Flash's chat template does.
pub fn render_prompt(messages: &[Message], tools: &[ToolSpec], options: &RenderOptions) -> String {
    let mut out = String::from(BEGIN);
    if !tools.is_empty() {
        out.push_str(TOOLS_PREAMBLE);
        for tool in tools {
            out.push_str(&python_json(&tool.0));
            out.push('\n');
        }
        out.push_str(TOOLS_POSTAMBLE);
    }
    // Interleaved thinking keeps reasoning only after the last user message;
    // with no user message at all (index -1 in the template) that is every
    // assistant turn.
    let last_user = messages
        .iter()
        .rposition(|m| matches!(m, Message::User { .. }));
    for (index, message) in messages.iter().enumerate() {
        match message {
            Message::System { content } => {
                out.push_str("<|system|>");
                out.push_str(content);
            }
            Message::User { content } => {
                out.push_str("<|user|>");
                out.push_str(content);
            }
            Message::Assistant {
                content,
                reasoning_content,
                tool_calls,
                raw,
                ..
            } => {
                let keep_reasoning =
                    options.preserved_thinking || last_user.is_none_or(|user| index > user);
                // The model's own output goes back exactly as generated while
                // its reasoning is kept; the template's re-render is only a
                // close copy of it, and would break the prompt's extension.
                if let (Some(raw), true) = (raw, keep_reasoning) {
                    out.push_str("<|assistant|>");
                    out.push_str(raw);
                    continue;
                }
                render_assistant(
                    &mut out,
                    content,
                    reasoning_content.as_deref(),
                    tool_calls,
                    keep_reasoning,
                );
            }
            Message::Tool { content, .. } => {
                // One `<|observation|>` opens a run of consecutive results.
                let follows_tool = index > 0 && matches!(messages[index - 1], Message::Tool { .. });
                if !follows_tool {
                    out.push_str("<|observation|>");
                }
                out.push_str("<tool_response>");
                out.push_str(content);
                out.push_str("</tool_response>");
            }
        }
    }
    if options.add_generation_prompt {
        out.push_str("<|assistant|>");
        out.push_str(if options.enable_thinking {
            "<think>"
        } else {
            "</think>"
        });
    }
    out
}

fn render_assistant(
    out: &mut String,
    content: &str,
    reasoning_content: Option<&str>,
    tool_calls: &[ToolCall],
    keep_reasoning: bool,
) {
    let (reasoning, content) = match reasoning_content {
        Some(reasoning) => (reasoning, content),
        None => split_inline_reasoning(content),
    };
    out.push_str("<|assistant|>");
    // The template tests the unstripped reasoning for truthiness, then writes
    // it stripped: whitespace-only reasoning gives `<think></think>`.
    if keep_reasoning && !reasoning.is_empty() {
        out.push_str("<think>");
        out.push_str(py_strip(reasoning));
        out.push_str("</think>");
    } else {
        out.push_str("</think>");
    }
    out.push_str(py_strip(content));
    for call in tool_calls {
        out.push_str("<tool_call>");
        out.push_str(&call.function.name);
        for (key, value) in &call.function.arguments {
            out.push_str("<arg_key>");
            out.push_str(key);
            out.push_str("</arg_key><arg_value>");
            match value {
                serde_json::Value::String(raw) => out.push_str(raw),
                other => out.push_str(&python_json(other)),
            }
            out.push_str("</arg_value>");
        }
        out.push_str("</tool_call>");
    }
}

/// A message without `reasoning_content` may carry its reasoning inline
/// (`<think>...</think>text`, as some clients send it back); the template
/// splits it out with exactly these string operations:
/// reasoning = `content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')`,
/// content = `content.split('</think>')[-1].lstrip('\n')`.
fn split_inline_reasoning(content: &str) -> (&str, &str) {
    const CLOSE: &str = "</think>";
    if !content.contains(CLOSE) {
        return ("", content);
    }
    let before = content.split(CLOSE).next().unwrap_or("");
    let after = content.rsplit(CLOSE).next().unwrap_or("");
    let reasoning = before
        .trim_end_matches('\n')
        .rsplit("<think>")
        .next()
        .unwrap_or("")
        .trim_start_matches('\n');
    (reasoning, after.trim_start_matches('\n'))
}
