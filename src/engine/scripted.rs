//! The scripted model: replays raw GLM output from a file, for tests and for
//! reproducing a session without a GPU.
//!
//! `--model script:PATH`, PATH a JSON file `{"completions": ["RAW", ...],
//! "seed": 7}`. The n-th model call streams the n-th string as if the model
//! had generated it after the generation prompt (so with thinking on it starts
//! inside `<think>`), cut into small chunks at seeded, varying boundaries so
//! that the parser sees tags split the way a real token stream splits them.
//! `"chunk_delay_ms"` paces the stream like a real model's decode speed (for
//! cancellation tests and UI streaming).
//!
//! A completion may also be an object `{"text": "RAW", "finish_reason":
//! "length"}` to replay a turn the engine ended for a reason of its own (a
//! token limit: `"length"` or `"context_limit"`); the model then reports that
//! [`FinishReason`] after the text, as a real engine does.
//! `"prompt_log": "FILE"` appends every prompt received to FILE, one JSON
//! string per line.
//! `"context_window": N` gives the model a context window of N tokens and
//! a stand-in tokenizer: a prompt counts one token per 4 bytes (rounded
//! up), reported in each turn's usage, so the context budget and
//! compaction can be tested without a real tokenizer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use super::{
    EngineError, FinishReason, RawChunk, RawCompletion, RawCompletionRequest, RawStream, Usage,
};

/// Chunk lengths, in characters, are drawn from this range: short enough that
/// most tags are split, long enough to look like multi-character tokens.
const MAX_CHUNK_CHARS: usize = 6;
const DEFAULT_SEED: u64 = 0x6c69_6e74;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    completions: Vec<Completion>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    chunk_delay_ms: u64,
    /// A file to which every prompt the model receives is appended as one
    /// JSON string per line, so a test of the real binary can check that
    /// each prompt extends the one before it.
    #[serde(default)]
    prompt_log: Option<PathBuf>,
    /// The context window, in the stand-in tokenizer's tokens.
    #[serde(default)]
    context_window: Option<u64>,
}

/// One scripted model call: raw text, and optionally why the engine stopped.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Completion {
    Text(String),
    Detailed(DetailedCompletion),
}

/// `{"text": "RAW", "finish_reason": "length"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedCompletion {
    text: String,
    #[serde(default)]
    finish_reason: Option<ScriptedFinish>,
}

/// The finish reasons a script may name (the engines' own spelling).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedFinish {
    Stop,
    ToolCalls,
    Length,
    ContextLimit,
}

impl From<ScriptedFinish> for FinishReason {
    fn from(value: ScriptedFinish) -> Self {
        match value {
            ScriptedFinish::Stop => FinishReason::Stop,
            ScriptedFinish::ToolCalls => FinishReason::ToolCalls,
            ScriptedFinish::Length => FinishReason::Length,
            ScriptedFinish::ContextLimit => FinishReason::ContextLimit,
        }
    }
}

impl From<String> for Completion {
    fn from(text: String) -> Self {
        Completion::Text(text)
    }
}

impl From<&str> for Completion {
    fn from(text: &str) -> Self {
        Completion::Text(text.to_string())
    }
}

impl Completion {
    /// A completion the engine cut for `reason`.
    pub fn finished(text: impl Into<String>, reason: FinishReason) -> Self {
        let finish = match reason {
            FinishReason::Stop => ScriptedFinish::Stop,
            FinishReason::ToolCalls => ScriptedFinish::ToolCalls,
            FinishReason::Length => ScriptedFinish::Length,
            FinishReason::ContextLimit => ScriptedFinish::ContextLimit,
        };
        Completion::Detailed(DetailedCompletion {
            text: text.into(),
            finish_reason: Some(finish),
        })
    }

    fn text(&self) -> &str {
        match self {
            Completion::Text(text) | Completion::Detailed(DetailedCompletion { text, .. }) => text,
        }
    }

    fn finish_reason(&self) -> Option<FinishReason> {
        match self {
            Completion::Text(_) => None,
            Completion::Detailed(detailed) => detailed.finish_reason.map(FinishReason::from),
        }
    }
}

/// Why a script could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read the model script {path}: {error}; check the path after `script:`")]
    Read { path: String, error: std::io::Error },
    #[error(
        "the model script {path} is not valid: {error}; it must be a JSON object {{\"completions\": [\"RAW\" or {{\"text\": \"RAW\", \"finish_reason\": \"length\"}}, ...]}}"
    )]
    Invalid {
        path: String,
        error: serde_json::Error,
    },
}

/// Replays a fixed list of raw completions, one per model call.
pub struct ScriptedModel {
    label: String,
    completions: Vec<Completion>,
    seed: u64,
    calls: AtomicUsize,
    prompts: Mutex<Vec<String>>,
    chunk_delay: Duration,
    prompt_log: Option<PathBuf>,
    context_window: Option<u64>,
}

impl ScriptedModel {
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ScriptError::Read {
            path: label.clone(),
            error,
        })?;
        let file: ScriptFile =
            serde_json::from_str(&text).map_err(|error| ScriptError::Invalid {
                path: label.clone(),
                error,
            })?;
        let mut model = Self::new(label, file.completions, file.seed.unwrap_or(DEFAULT_SEED))
            .with_chunk_delay(Duration::from_millis(file.chunk_delay_ms));
        model.prompt_log = file.prompt_log;
        model.context_window = file.context_window;
        Ok(model)
    }

    /// `completions` are raw strings or [`Completion`]s.
    pub fn new<C: Into<Completion>>(
        label: impl Into<String>,
        completions: Vec<C>,
        seed: u64,
    ) -> Self {
        ScriptedModel {
            label: label.into(),
            completions: completions.into_iter().map(Into::into).collect(),
            seed,
            calls: AtomicUsize::new(0),
            prompts: Mutex::new(Vec::new()),
            chunk_delay: Duration::ZERO,
            prompt_log: None,
            context_window: None,
        }
    }

    /// Gives the model a context window of `tokens` and counts prompts at
    /// one token per 4 bytes (see the module's documentation).
    pub fn with_context_window(mut self, tokens: u64) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// The stand-in tokenizer's count of `prompt`.
    pub fn count_tokens(prompt: &str) -> u64 {
        prompt.len().div_ceil(4) as u64
    }

    /// Waits this long before each chunk, like a model decoding tokens.
    pub fn with_chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// Every prompt this model has been sent, in order: what a real model
    /// would have been fed.
    pub fn prompts(&self) -> Vec<String> {
        match self.prompts.lock() {
            Ok(prompts) => prompts.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Appends `prompt` to the script's `prompt_log`, when it names one.
    fn log_prompt(&self, prompt: &str) -> Result<(), EngineError> {
        let Some(path) = &self.prompt_log else {
            return Ok(());
        };
        let line = serde_json::Value::String(prompt.to_string()).to_string();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| writeln!(file, "{line}"))
            .map_err(|error| {
                EngineError::Backend(format!(
                    "cannot write the prompt log {}: {error}; fix the script's \"prompt_log\" path",
                    path.display()
                ))
            })
    }

    fn record_prompt(&self, prompt: String) {
        match self.prompts.lock() {
            Ok(mut prompts) => prompts.push(prompt),
            Err(poisoned) => poisoned.into_inner().push(prompt),
        }
    }
}

/// Cuts `text` into chunks of 1..=MAX_CHUNK_CHARS characters.
pub fn seeded_chunks(text: &str, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut chunks = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let len = rng.gen_range(1..=MAX_CHUNK_CHARS);
        chunks.push(chars.by_ref().take(len).collect());
    }
    chunks
}

impl RawCompletion for ScriptedModel {
    fn describe(&self) -> String {
        format!("script:{}", self.label)
    }

    fn context_window(&self) -> Option<u64> {
        self.context_window
    }

    fn complete(&self, request: RawCompletionRequest) -> RawStream {
        let index = self.calls.fetch_add(1, Ordering::SeqCst);
        let prompt_tokens = self
            .context_window
            .map(|_| Self::count_tokens(&request.prompt));
        if let Err(error) = self.log_prompt(&request.prompt) {
            return stream::iter([Err(error)]).boxed();
        }
        self.record_prompt(request.prompt);
        let Some(completion) = self.completions.get(index) else {
            let error = EngineError::ScriptExhausted {
                path: self.label.clone(),
                call: index + 1,
                available: self.completions.len(),
            };
            return stream::iter([Err(error)]).boxed();
        };
        let finish = completion.finish_reason();
        let chunks = seeded_chunks(completion.text(), self.seed.wrapping_add(index as u64));
        // The script has no tokenizer: each streamed chunk stands for one
        // generated token, and the prompt's size is unknown unless the
        // script gives a context window.
        let usage = Usage {
            prompt_tokens,
            completion_tokens: Some(chunks.len() as u64),
        };
        let items = chunks
            .into_iter()
            .map(|chunk| Ok(RawChunk::Text(chunk)))
            .chain([Ok(RawChunk::Usage(usage))])
            .chain(finish.map(|reason| Ok(RawChunk::Finish(reason))));
        // Pause (or at least yield) between chunks so a consumer can be
        // cancelled mid-turn, as it can with a real engine.
        let delay = self.chunk_delay;
        stream::iter(items)
            .then(move |item| async move {
                if delay.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(delay).await;
                }
                item
            })
            .boxed()
    }
}
