//! One raw completion request on the in-process engine: prompt ids in,
//! streamed text out.
//!
//! Two things happen here besides forwarding chunks:
//! - **Exact prompt extension at the token level.** Each agent turn's prompt
//!   is the previous prompt, the model's output, then new text. Tokenizing
//!   that whole text again could split the model's output differently from
//!   the ids the model generated (a model does not always produce the
//!   canonical split), and the engine's prefix cache would stop matching at
//!   the first difference. [`Continuation`] remembers the ids behind the last
//!   prompt and its output, so the next prompt reuses them and only its new
//!   text is tokenized.
//! - **Step hooks.** A logits processor observes every decoding step (the
//!   tokens so far, which is how the generated ids are known, and the step's
//!   logits, which tests compare between cached and cold prefills).
//! - **glint's own text.** What is streamed is glint's decoding of those ids
//!   with special tokens kept (see `decode`), not mistralrs's text.

use std::sync::{Arc, Mutex, PoisonError};

use mistralrs::{
    Constraint, CustomLogitsProcessor, NormalRequest, Request, RequestMessage, Response,
    SamplingParams, StopTokens, Tensor,
};
use tokio::sync::mpsc;

use super::super::{EngineError, FinishReason, RawChunk, Usage};
use super::decode::IncrementalDecoder;
use super::options::Sampling;
use super::prefill_chunks::{piece_ends, prefill_pieces};

/// Called at every decoding step of a request with the step's logits (F32,
/// one row over the vocabulary, after penalties) and the tokens so far
/// (prompt, then generated). An `Err` fails the step, as a broken model
/// would: tests use it to check that such a failure reaches the user.
pub type StepHook = Arc<dyn Fn(&Tensor, &[u32]) -> Result<(), String> + Send + Sync>;

/// The ids behind a prompt and the output generated after it.
#[derive(Debug, Clone, Default)]
pub(super) struct Continuation {
    /// The prompt's text followed by the output's text.
    text: String,
    ids: Vec<u32>,
}

impl Continuation {
    pub(super) fn new(text: String, ids: Vec<u32>) -> Self {
        Continuation { text, ids }
    }

    /// When `prompt` extends this text: the remembered ids and the text left
    /// to tokenize.
    pub(super) fn extend<'a>(&self, prompt: &'a str) -> Option<(Vec<u32>, &'a str)> {
        let rest = prompt.strip_prefix(self.text.as_str())?;
        (!self.ids.is_empty()).then(|| (self.ids.clone(), rest))
    }
}

/// Replaces a decoding step's logits (F32, one row over the vocabulary)
/// given the tokens so far; tests force chosen tokens through it. An `Err`
/// fails the step.
pub type LogitsOverride = Arc<dyn Fn(&Tensor, &[u32]) -> Result<Tensor, String> + Send + Sync>;

/// Records what a request's decoding steps saw, and runs the caller's hook.
struct StepRecorder {
    prompt_len: usize,
    /// Generated ids whose KV rows were computed: every token of the context
    /// past the prompt (the last sampled token is not in any context).
    generated: Mutex<Vec<u32>>,
    hook: Option<StepHook>,
    logits: Option<LogitsOverride>,
}

impl StepRecorder {
    /// The recorded ids from `from` on.
    fn generated_from(&self, from: usize) -> Vec<u32> {
        let generated = self
            .generated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generated.get(from..).unwrap_or_default().to_vec()
    }
}

impl CustomLogitsProcessor for StepRecorder {
    fn apply(&self, logits: &Tensor, context: &[u32]) -> mistralrs::Result<Tensor> {
        if let Some(generated) = context.get(self.prompt_len..) {
            let mut kept = self
                .generated
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Each step's context is the last one plus the token sampled
            // since: append only that tail, not the whole output again.
            if let Some(new) = generated.get(kept.len()..) {
                kept.extend_from_slice(new);
            }
        }
        if let Some(hook) = &self.hook {
            hook(logits, context).map_err(candle_core::Error::msg)?;
        }
        match &self.logits {
            Some(replace) => replace(logits, context).map_err(candle_core::Error::msg),
            None => Ok(logits.clone()),
        }
    }
}

/// What one request needs besides its prompt.
pub(super) struct RequestSettings {
    pub max_context: usize,
    pub sampling: Sampling,
    pub stop: Vec<String>,
    pub hook: Option<StepHook>,
    pub logits: Option<LogitsOverride>,
    /// Prompt tokens one forward pass may compute (see `prefill_chunks`);
    /// `None`: the whole prompt in one pass.
    pub prefill_chunk: Option<usize>,
    /// Leading prompt tokens the engine's prefix cache is taken to hold.
    pub cached_tokens: usize,
}

/// How a request ended, for the caller to remember.
pub(super) struct Finished {
    /// Generated ids whose KV rows the engine computed: all of the output.
    pub computed: Vec<u32>,
    /// The text streamed for them.
    pub text: String,
}

/// How many tokens a request may generate, and why it would stop there.
///
/// The last token a request samples is never in any step's context, so glint
/// never sees its id; mistralrs is therefore asked for one token more than
/// the answer may hold, and that extra token is discarded. Every token of the
/// answer is then known (and its KV row computed), so the text is exactly the
/// decoding of ids glint holds.
struct Budget {
    tokens: usize,
    /// [`FinishReason::Length`] when `--max-tokens` binds, else
    /// [`FinishReason::ContextLimit`].
    reason: FinishReason,
}

impl Budget {
    fn new(max_tokens: Option<usize>, room: usize) -> Self {
        // One slot of the room goes to the discarded extra token.
        let context_tokens = room.saturating_sub(1);
        match max_tokens {
            Some(max) if max <= context_tokens => Budget {
                tokens: max,
                reason: FinishReason::Length,
            },
            _ => Budget {
                tokens: context_tokens,
                reason: FinishReason::ContextLimit,
            },
        }
    }
}

/// Sends one raw completion request and streams glint's own decoding of the
/// generated ids until the sequence finishes or the consumer goes away.
/// Returning drops mistralrs's response channel, and the engine cancels a
/// sequence whose channel is gone at its next token: that is what frees a
/// cancelled turn's sequence.
///
/// A chunk from mistralrs says a token was sampled; the recorder has by then
/// seen every earlier one, so the text runs one token behind the engine and
/// catches up at the end. A stop token ends the sequence unseen and is not
/// part of the text (GLM's stop strings are single tokens, which mistralrs
/// stops on by id).
///
/// A prompt whose uncached part is longer than `settings.prefill_chunk` is
/// first prefilled in pieces (see `prefill_chunks`), after the length check,
/// so a prompt that cannot fit is refused before any work.
pub(super) async fn stream_completion(
    model: &Arc<mistralrs::Model>,
    ids: Vec<u32>,
    settings: RequestSettings,
    out: &mpsc::Sender<Result<RawChunk, EngineError>>,
) -> Result<Option<Finished>, EngineError> {
    let prompt_tokens = ids.len();
    let max_context = settings.max_context;
    // At least two tokens of room: an answer's token and the extra one.
    if prompt_tokens + 2 > max_context {
        return Err(EngineError::Backend(format!(
            "the prompt is {prompt_tokens} tokens but the context holds {max_context}, leaving no room for an answer; compact the conversation (/compact), start a new session, or raise --max-context"
        )));
    }
    if let Some(chunk) = settings.prefill_chunk {
        let ends = piece_ends(prompt_tokens, settings.cached_tokens, chunk);
        tokio::select! {
            _ = out.closed() => return Ok(None),
            done = prefill_pieces(model, &ids, &ends) => done?,
        }
    }
    let budget = Budget::new(settings.sampling.max_tokens, max_context - prompt_tokens);
    let sampling = settings.sampling;
    let mut params = if sampling.temperature <= 0.0 {
        SamplingParams::deterministic()
    } else {
        let mut params = SamplingParams::neutral();
        params.temperature = Some(sampling.temperature);
        params.top_p = Some(sampling.top_p);
        params
    };
    params.max_len = Some(budget.tokens + 1);
    params.stop_toks = Some(StopTokens::Seqs(settings.stop));

    let recorder = Arc::new(StepRecorder {
        prompt_len: prompt_tokens,
        generated: Mutex::new(Vec::new()),
        hook: settings.hook,
        logits: settings.logits,
    });
    let mut rx = submit(
        model,
        ids,
        params,
        true,
        Some(vec![recorder.clone() as Arc<dyn CustomLogitsProcessor>]),
    )
    .await?;

    let mut decoder = IncrementalDecoder::default();
    let mut completion_tokens = 0u64;
    // A response read while catching up (below) that is not a plain chunk.
    let mut held: Option<Response> = None;
    loop {
        let response = match held.take() {
            Some(response) => Some(response),
            None => tokio::select! {
                // A consumer that went away (a cancelled turn) ends the
                // request now, not at the next token.
                _ = out.closed() => return Ok(None),
                response = rx.recv() => response,
            },
        };
        let Some(response) = response else {
            return Err(EngineError::Backend(
                "the engine closed the response without finishing; see glint's log for its error"
                    .into(),
            ));
        };
        match response {
            Response::CompletionChunk(chunk) => {
                // mistralrs sends one chunk per generated token.
                completion_tokens += 1;
                let mut finish = chunk
                    .choices
                    .iter()
                    .find_map(|choice| choice.finish_reason.clone());
                // Catch up with the chunks already queued and decode them
                // at once. Each decode is a request the engine serves between
                // its steps, so decoding chunk by chunk falls behind it; the
                // queue would fill and block the engine mid-step, which then
                // never serves the decode: a deadlock.
                while finish.is_none() {
                    match rx.try_recv() {
                        Ok(Response::CompletionChunk(next)) => {
                            completion_tokens += 1;
                            finish = next
                                .choices
                                .iter()
                                .find_map(|choice| choice.finish_reason.clone());
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                decoder.push(&recorder.generated_from(decoder.len()));
                let text = match finish {
                    None => decoder.next_text(model).await?,
                    Some(_) => decoder.flush(model).await?,
                };
                if !text.is_empty() && out.send(Ok(RawChunk::Text(text))).await.is_err() {
                    return Ok(None);
                }
                let Some(finish) = finish else {
                    continue;
                };
                let reason = match finish.as_str() {
                    // The extra token was sampled: the answer filled its budget.
                    "length" => {
                        completion_tokens = decoder.len() as u64;
                        Some(budget.reason)
                    }
                    other => FinishReason::from_engine(other),
                };
                let usage = Usage {
                    prompt_tokens: Some(prompt_tokens as u64),
                    completion_tokens: Some(completion_tokens),
                };
                let _ = out.send(Ok(RawChunk::Usage(usage))).await;
                if let Some(reason) = reason {
                    let _ = out.send(Ok(RawChunk::Finish(reason))).await;
                }
                let computed = recorder.generated_from(0);
                return Ok(Some(Finished {
                    computed,
                    text: decoder.sent().to_string(),
                }));
            }
            other => return Err(response_error(other, "")),
        }
    }
}

/// Hands a raw-token completion request to the engine; the receiver gets
/// its responses (one per token when `streaming`, else one at the end).
pub(super) async fn submit(
    model: &Arc<mistralrs::Model>,
    ids: Vec<u32>,
    params: SamplingParams,
    streaming: bool,
    logits_processors: Option<Vec<Arc<dyn CustomLogitsProcessor>>>,
) -> Result<mpsc::Receiver<Response>, EngineError> {
    let (tx, rx) = mpsc::channel(64);
    let runner = model.inner();
    let request = Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::CompletionTokens(ids),
        sampling_params: params,
        response: tx,
        return_logprobs: false,
        is_streaming: streaming,
        id: runner.next_request_id(),
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors,
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    let sender = runner
        .get_sender(None)
        .map_err(|e| EngineError::Backend(format!("the engine is not running: {e}")))?;
    sender
        .send(request)
        .await
        .map_err(|_| EngineError::Backend("the engine stopped before the request".into()))?;
    Ok(rx)
}

/// The one-line error for a response that is not what a completion request
/// expects; `doing` (e.g. " while prefilling a long prompt in pieces") says
/// what the request was for.
pub(super) fn response_error(response: Response, doing: &str) -> EngineError {
    EngineError::Backend(match response {
        Response::CompletionModelError(message, _) | Response::ModelError(message, _) => format!(
            "the model failed{doing}: {}; see glint's log for details",
            first_line(&message)
        ),
        Response::InternalError(error) | Response::ValidationError(error) => format!(
            "the engine failed{doing}: {}; see glint's log for details",
            first_line(&error.to_string())
        ),
        _ => format!("the engine sent an unexpected response to a completion request{doing}"),
    })
}

/// mistralrs's errors may carry a backtrace on the lines after the message.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default().trim()
}
