//! Model engines behind one interface.
//!
//! An engine streams one assistant turn for a conversation and a tool list.
//! Two shapes fit behind [`Model`]:
//! - engines that take a prompt and return raw GLM text (the in-process
//!   mistralrs engine, the scripted model) implement [`RawCompletion`] and are
//!   wrapped in [`GlmModel`], which renders the prompt and parses the output
//!   with [`crate::glm`];
//! - engines that speak structured deltas (an OpenAI-compatible server)
//!   implement [`Model`] directly.

mod glm_model;
pub mod http;
pub mod local;
pub mod paged_attn;
pub mod scripted;
mod spec;

use std::pin::Pin;

use futures::Stream;
use serde::Serialize;

use crate::conversation::{Message, ToolSpec};
use crate::glm::ParsedToolCall;

pub use glm_model::{GlmModel, StallLimits};
pub use spec::{ModelSpec, ModelSpecError, OpenError, OpenOptions, open};

/// What the agent asks of a model for one turn.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// Whether the model reasons before answering (GLM's thinking mode).
    pub thinking: bool,
}

/// One piece of a streamed assistant turn.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    ReasoningDelta(String),
    TextDelta(String),
    /// A complete tool call; calls arrive whole, never in pieces.
    ToolCall(ParsedToolCall),
    /// Token accounting for the turn, sent once near its end.
    Usage(Usage),
    /// Provider-specific reasoning records (OpenRouter's `reasoning_details`)
    /// to keep on this turn's assistant message and send back verbatim.
    ReasoningDetails(Vec<serde_json::Value>),
    /// The turn's exact raw output (see `Message::Assistant::raw`), sent
    /// once after the last other event of a turn that completed; engines that
    /// do not produce GLM text never send it.
    RawTurn(String),
    /// Why generation stopped, sent at most once, after the turn's text and
    /// calls (before `RawTurn`). An engine that cannot tell sends nothing and
    /// the agent takes the turn as stopped normally.
    Finish(FinishReason),
}

/// Why an engine stopped generating a turn. The agent core acts on it: a
/// turn cut by a token limit never runs its half-written call, and the model
/// is told its output was cut.
///
/// Engines report it as soon as they know (a [`RawChunk::Finish`] from a
/// raw-text engine, a [`ModelEvent::Finish`] from a structured one):
/// - mistralrs (`src/engine/local`): a completion choice's `finish_reason`
///   through [`FinishReason::from_engine`] (`"length"` is [`FinishReason::Length`]);
/// - OpenAI-compatible servers (`src/engine/http`): the choice's
///   `finish_reason` through the same function;
/// - the scripted model: a completion written as
///   `{"text": "...", "finish_reason": "length"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn itself (a stop token, or the end of its text).
    Stop,
    /// The model ended its turn to have its tool calls run.
    ToolCalls,
    /// Generation reached the answer's token limit (`--max-tokens`).
    Length,
    /// The prompt and the answer filled the model's context window.
    ContextLimit,
}

impl FinishReason {
    /// Reads an engine's finish reason string (OpenAI's and mistralrs's
    /// spelling); `None` for one that says nothing glint acts on.
    pub fn from_engine(reason: &str) -> Option<Self> {
        match reason {
            "stop" | "eos" | "end_turn" => Some(FinishReason::Stop),
            "tool_calls" | "function_call" => Some(FinishReason::ToolCalls),
            "length" | "max_tokens" => Some(FinishReason::Length),
            "context_limit" | "model_length" | "context_length" => Some(FinishReason::ContextLimit),
            _ => None,
        }
    }

    /// Whether the output was cut by a limit rather than ended by the model.
    pub fn is_cut(self) -> bool {
        matches!(self, FinishReason::Length | FinishReason::ContextLimit)
    }
}

/// Token counts of one turn. A count is `None` when the engine cannot know it
/// (the scripted model has no tokenizer for prompts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

impl Usage {
    /// Adds another turn's counts; a total stays known only while every part is.
    pub fn accumulate(&mut self, other: Usage) {
        fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            Some(a? + b?)
        }
        self.prompt_tokens = add(self.prompt_tokens, other.prompt_tokens);
        self.completion_tokens = add(self.completion_tokens, other.completion_tokens);
    }
}

/// Why a model turn failed. Messages are one line and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(
        "the script {path} has no completion for model call {call} (it holds {available}); add one to its \"completions\" array"
    )]
    ScriptExhausted {
        path: String,
        call: usize,
        available: usize,
    },
    #[error("{0}")]
    Backend(String),
}

/// A stream of one turn's events; dropping it abandons the turn.
pub type ModelStream = Pin<Box<dyn Stream<Item = Result<ModelEvent, EngineError>> + Send>>;

/// A model the agent can drive.
pub trait Model: Send + Sync {
    /// A short human-readable name (for status lines and run events).
    fn describe(&self) -> String;

    /// Streams one assistant turn for `request`.
    fn stream_turn(&self, request: TurnRequest) -> ModelStream;

    /// The most tokens (prompt + answer) one turn may hold, when the engine
    /// knows it: front ends show how much of it the conversation uses.
    fn context_window(&self) -> Option<u64> {
        None
    }

    /// Why the context window is unknown, for engines that ought to know
    /// it (an HTTP server whose listing gave no length): the agent tells
    /// the user once that automatic compaction is off, and how to turn it
    /// on. `None` where the window is known or unknowable by design.
    fn context_window_notice(&self) -> Option<String> {
        None
    }
}

/// A raw completion request: the rendered prompt, and the texts that end
/// generation (GLM's stop tokens).
#[derive(Debug, Clone)]
pub struct RawCompletionRequest {
    pub prompt: String,
    pub stop: Vec<String>,
}

/// A piece of raw generated text, the turn's token counts, or why it ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RawChunk {
    Text(String),
    Usage(Usage),
    /// Why generation stopped (see [`FinishReason`]), sent at most once after
    /// the last text. Send it whenever the engine knows: without it a turn cut
    /// at the token limit looks finished.
    Finish(FinishReason),
}

pub type RawStream = Pin<Box<dyn Stream<Item = Result<RawChunk, EngineError>> + Send>>;

/// An engine that continues a prompt with raw text (the model's own tokens,
/// tags included), to be parsed by the GLM parser.
pub trait RawCompletion: Send + Sync {
    fn describe(&self) -> String;
    fn complete(&self, request: RawCompletionRequest) -> RawStream;

    /// The most tokens (prompt + answer) one completion may hold, when known.
    fn context_window(&self) -> Option<u64> {
        None
    }
}
