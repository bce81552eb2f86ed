//! GLM-4.7-Flash's prompt and output format (see `../shared/glm/FORMAT.md`).
//!
//! Two halves that must agree with each other and with the model:
//! - [`render_prompt`] turns a conversation into the exact prompt bytes the
//!   official chat template produces, so engine prefix caches stay valid and
//!   the model sees what it was trained on;
//! - [`StreamParser`] turns the model's raw output back into reasoning, text
//!   and tool calls, trimmed the way the renderer writes them, so a parsed
//!   turn re-renders to what the model actually said.

mod parse;
mod pyjson;
mod render;

pub use parse::{
    ParseEvent, ParsedToolCall, ParsedTurn, STOP_TOKEN_IDS, STOP_TOKENS, StreamParser,
    parse_complete,
};
pub use pyjson::{py_strip, python_float_repr, python_json};
pub use render::{RenderOptions, RenderRequest, TemplateFlags, render_prompt};
