//! Adapts a raw-text engine to [`Model`]: glint renders GLM's prompt itself and
//! parses the raw output itself, so tool-call history, preserved thinking and
//! the `<arg_key>` call syntax are exactly what the model was trained on,
//! whatever the engine's own chat support does.

use std::collections::VecDeque;

use futures::StreamExt;
use futures::stream;

use super::{
    EngineError, Model, ModelEvent, ModelStream, RawChunk, RawCompletion, RawCompletionRequest,
    RawStream, TurnRequest,
};
use crate::glm::{self, ParseEvent, RenderOptions, StreamParser};

/// A [`RawCompletion`] engine driven through GLM's prompt format.
pub struct GlmModel<B> {
    backend: B,
    /// Preserved thinking keeps every past turn's reasoning in the prompt, so
    /// each prompt extends the previous one and the prefix cache covers it.
    preserved_thinking: bool,
}

impl<B: RawCompletion> GlmModel<B> {
    pub fn new(backend: B) -> Self {
        GlmModel {
            backend,
            preserved_thinking: true,
        }
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

    fn stream_turn(&self, request: TurnRequest) -> ModelStream {
        let prompt = self.render(&request);
        let raw = self.backend.complete(RawCompletionRequest {
            prompt,
            stop: glm::STOP_TOKENS.iter().map(|s| s.to_string()).collect(),
        });
        let parser = StreamParser::new(&request.tools, request.thinking);
        parse_raw_stream(raw, parser)
    }
}

/// Runs raw chunks through the GLM parser, yielding parsed events as soon as
/// each chunk resolves them.
fn parse_raw_stream(raw: RawStream, parser: StreamParser) -> ModelStream {
    struct State {
        raw: RawStream,
        parser: StreamParser,
        ready: VecDeque<Result<ModelEvent, EngineError>>,
        finished: bool,
    }

    let state = State {
        raw,
        parser,
        ready: VecDeque::new(),
        finished: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            if state.finished {
                return None;
            }
            match state.raw.next().await {
                Some(Ok(RawChunk::Text(text))) => {
                    let events = state.parser.feed(&text);
                    state.ready.extend(events.into_iter().map(convert).map(Ok));
                }
                Some(Ok(RawChunk::Usage(usage))) => {
                    state.ready.push_back(Ok(ModelEvent::Usage(usage)));
                }
                Some(Err(error)) => {
                    state.ready.push_back(Err(error));
                    state.finished = true;
                }
                None => {
                    let events = state.parser.finish();
                    state.ready.extend(events.into_iter().map(convert).map(Ok));
                    state.finished = true;
                }
            }
        }
    })
    .boxed()
}

fn convert(event: ParseEvent) -> ModelEvent {
    match event {
        ParseEvent::ReasoningDelta(text) => ModelEvent::ReasoningDelta(text),
        ParseEvent::TextDelta(text) => ModelEvent::TextDelta(text),
        ParseEvent::ToolCall(call) => ModelEvent::ToolCall(call),
    }
}
