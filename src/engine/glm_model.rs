//! Adapts a raw-text engine to [`Model`]: glint renders GLM's prompt itself and
//! parses the raw output itself, so tool-call history, preserved thinking and
//! the `<arg_key>` call syntax are exactly what the model was trained on,
//! whatever the engine's own chat support does.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use futures::stream;

use super::{
    EngineError, FinishReason, Model, ModelEvent, ModelStream, RawChunk, RawCompletion,
    RawCompletionRequest, RawStream, TurnRequest,
};
use crate::glm::{self, ParseEvent, RenderOptions, StreamParser};

/// A [`RawCompletion`] engine driven through GLM's prompt format.
pub struct GlmModel<B> {
    backend: B,
    /// Preserved thinking keeps every past turn's reasoning in the prompt, so
    /// each prompt extends the previous one and the prefix cache covers it.
    preserved_thinking: bool,
    stall: StallLimits,
}

/// How long a turn may go without a raw chunk before it fails: an engine
/// that errs without closing its stream, or retries a failing step forever,
/// must not leave the user waiting on a turn that will never end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLimits {
    /// Until the first chunk: the prompt's prefill happens here, which for a
    /// long prompt on a slow device takes minutes.
    pub first_chunk: Duration,
    /// Between later chunks (each is about one decoding step).
    pub between_chunks: Duration,
}

impl Default for StallLimits {
    fn default() -> Self {
        StallLimits {
            first_chunk: Duration::from_secs(600),
            between_chunks: Duration::from_secs(120),
        }
    }
}

impl<B: RawCompletion> GlmModel<B> {
    pub fn new(backend: B) -> Self {
        GlmModel {
            backend,
            preserved_thinking: true,
            stall: StallLimits::default(),
        }
    }

    pub fn with_stall_limits(mut self, stall: StallLimits) -> Self {
        self.stall = stall;
        self
    }

    pub fn with_preserved_thinking(mut self, preserved: bool) -> Self {
        self.preserved_thinking = preserved;
        self
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The exact prompt this model sends for `request`.
    pub fn render(&self, request: &TurnRequest) -> String {
        let options = RenderOptions {
            enable_thinking: request.thinking,
            preserved_thinking: self.preserved_thinking,
            add_generation_prompt: true,
        };
        glm::render_prompt(&request.messages, &request.tools, &options)
    }
}

impl<B: RawCompletion> Model for GlmModel<B> {
    fn describe(&self) -> String {
        self.backend.describe()
    }

    fn context_window(&self) -> Option<u64> {
        self.backend.context_window()
    }

    fn stream_turn(&self, request: TurnRequest) -> ModelStream {
        let prompt = self.render(&request);
        // What follows the final `<|assistant|>` (the thinking tag) opens the
        // turn's raw record; the generated text completes it.
        let opening = prompt_after_last_assistant(&prompt);
        let raw = self.backend.complete(RawCompletionRequest {
            prompt,
            stop: glm::STOP_TOKENS.iter().map(|s| s.to_string()).collect(),
        });
        let parser = StreamParser::new(&request.tools, request.thinking);
        parse_raw_stream(raw, parser, opening, self.stall)
    }
}

/// Runs raw chunks through the GLM parser, yielding parsed events as soon as
/// each chunk resolves them.
fn parse_raw_stream(
    raw: RawStream,
    parser: StreamParser,
    opening: String,
    stall: StallLimits,
) -> ModelStream {
    struct State {
        raw: RawStream,
        stall: StallLimits,
        chunks: usize,
        parser: StreamParser,
        /// The turn's raw record so far: the opening, then every chunk.
        record: String,
        ready: VecDeque<Result<ModelEvent, EngineError>>,
        finished: bool,
        /// The engine's finish reason, passed on after the parser's last
        /// events so the agent sees it with the whole turn in hand.
        finish: Option<FinishReason>,
    }

    let state = State {
        raw,
        stall,
        chunks: 0,
        parser,
        record: opening,
        ready: VecDeque::new(),
        finished: false,
        finish: None,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            if state.finished {
                return None;
            }
            let limit = if state.chunks == 0 {
                state.stall.first_chunk
            } else {
                state.stall.between_chunks
            };
            let next = match tokio::time::timeout(limit, state.raw.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // Dropping the raw stream cancels the request in the
                    // engine (the local engine frees its sequence).
                    state.raw = stream::empty().boxed();
                    state.finished = true;
                    return Some((Err(stalled(limit, state.chunks)), state));
                }
            };
            state.chunks += 1;
            match next {
                Some(Ok(RawChunk::Text(text))) => {
                    state.record.push_str(&text);
                    let events = state.parser.feed(&text);
                    state.ready.extend(events.into_iter().map(convert).map(Ok));
                }
                Some(Ok(RawChunk::Usage(usage))) => {
                    state.ready.push_back(Ok(ModelEvent::Usage(usage)));
                }
                Some(Ok(RawChunk::Finish(reason))) => state.finish = Some(reason),
                Some(Err(error)) => {
                    state.ready.push_back(Err(error));
                    state.finished = true;
                }
                None => {
                    let events = state.parser.finish();
                    state.ready.extend(events.into_iter().map(convert).map(Ok));
                    if let Some(reason) = state.finish.take() {
                        state.ready.push_back(Ok(ModelEvent::Finish(reason)));
                    }
                    let record = std::mem::take(&mut state.record);
                    state.ready.push_back(Ok(ModelEvent::RawTurn(record)));
                    state.finished = true;
                }
            }
        }
    })
    .boxed()
}

fn stalled(limit: Duration, chunks: usize) -> EngineError {
    let what = if chunks == 0 {
        "no output at all"
    } else {
        "no further output"
    };
    EngineError::Backend(format!(
        "the engine produced {what} for {} s and the turn was stopped; see glint's log for the engine's own error, then retry (a shorter prompt or a fresh session may help)",
        limit.as_secs()
    ))
}

/// The text after the prompt's last `<|assistant|>` (empty without one).
fn prompt_after_last_assistant(prompt: &str) -> String {
    const ASSISTANT: &str = "<|assistant|>";
    prompt
        .rfind(ASSISTANT)
        .map(|at| prompt[at + ASSISTANT.len()..].to_string())
        .unwrap_or_default()
}

fn convert(event: ParseEvent) -> ModelEvent {
    match event {
        ParseEvent::ReasoningDelta(text) => ModelEvent::ReasoningDelta(text),
        ParseEvent::TextDelta(text) => ModelEvent::TextDelta(text),
        ParseEvent::ToolCall(call) => ModelEvent::ToolCall(call),
    }
}
