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
}

/// A raw completion request: the rendered prompt, and the texts that end
/// generation (GLM's stop tokens).
#[derive(Debug, Clone)]
pub struct RawCompletionRequest {
    pub prompt: String,
    pub stop: Vec<String>,
}

/// A piece of raw generated text, or the turn's token counts.
#[derive(Debug, Clone, PartialEq)]
pub enum RawChunk {
    Text(String),
    Usage(Usage),
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
