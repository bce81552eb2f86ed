//! `glint dev cache-check`: is a turn served from the prefix cache the same
//! as a cold prefill of the same prompt?
//!
//! Two engines load the same model, one with mistralrs's prefix cache and one
//! without. A session of agent turns runs on the cached engine exactly as the
//! agent runs it (glint's renderer, the model's raw output written back
//! verbatim, then a tool result or a user message), so each prompt extends
//! the previous one. The cold engine prefills each turn's prompt ids from
//! scratch. Per turn the check reports the largest difference between the two
//! first-step logit rows, whether greedy decoding chose the same tokens, and
//! how many tokens the cached engine actually prefilled against how many
//! were new, and each side's time to first token. Probe turns on token ids
//! follow the session (see `probes`): one new token, a prompt ending on a
//! PagedAttention block boundary, and the noise of a split prefill.

use std::time::Instant;

use futures::StreamExt;

use crate::conversation::{Message, ToolCall};
use crate::dev::steps::{self, StepLog, StepRecorder, Watch};
use crate::engine::local::prefill::PrefillLog;
use crate::engine::local::{
    DeviceChoice, IsqChoice, LoadProgress, LocalEngine, LocalOptions, Precision, PrefillChunk,
    Sampling, shared_prefix_len,
};
use crate::engine::paged_attn::PagedAttnChoice;
use crate::engine::{EngineError, GlmModel, Model, ModelEvent, TurnRequest};
use crate::glm;
pub use report::{MAX_RATIO, agrees, command, summary, table};
pub use session::{LongSession, SessionReport, run as run_session};

mod probes;
mod report;
mod session;

/// What to check.
#[derive(Debug, Clone)]
pub struct CacheCheckOptions {
    /// A local model directory, `.gguf` file or Hugging Face id.
    pub model: String,
    pub device: DeviceChoice,
    pub isq: IsqChoice,
    /// Agent turns in the session.
    pub turns: usize,
    /// Tokens generated per turn.
    pub max_tokens: usize,
    pub max_context: Option<usize>,
    /// Render glint's tool definitions into the prompt (as the agent does);
    /// without them the prompt is short, so each turn's new tokens weigh more.
    pub tools: bool,
    pub paged_attn: PagedAttnChoice,
    pub precision: Precision,
    /// `--prefill-chunk` of the cached engine (the cold one has no prefix
    /// cache, so it prefills in one pass).
    pub prefill_chunk: PrefillChunk,
    /// After the session, run the probe turns (one new token, a block
    /// boundary, the split-prefill noise rows).
    pub probes: bool,
    /// How many split-prefill noise rows the probes end with (at least 1).
    pub noise_probes: usize,
}

/// One turn's comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TurnReport {
    pub turn: usize,
    pub kind: TurnKind,
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV rows the cached engine had not computed in an
    /// earlier turn: the new text, plus the last output token (sampled but
    /// never run through the model); after a compaction, what follows the
    /// part it kept; after a resume (a fresh engine), the whole prompt.
    pub new_tokens: usize,
    /// Tokens the cached engine prefilled, from the patched engine's lookup
    /// events; `None` when the engine reports none (an unpatched mistralrs).
    pub prefilled: Option<u64>,
    /// Tokens the uncached engine prefilled: the whole prompt, or the
    /// comparison proves nothing.
    pub cold_prefilled: Option<u64>,
    /// Largest |Δ| between the cached and the cold first-step logits; NaN
    /// when a row is missing or the rows differ in length (no evidence).
    pub max_abs_logit_diff: f32,
    /// Tokens the cached engine generated.
    pub generated: usize,
    /// The first step at which the two greedy choices differ (`None`: they
    /// agree on every step, and the texts are equal).
    pub first_divergence: Option<usize>,
    /// Milliseconds from the cached engine's request (rendering and
    /// tokenizing an agent turn included) to its first sampling step.
    pub ttft_ms: Option<f64>,
    /// The same for the cold engine's prefill of the same ids.
    pub cold_ttft_ms: Option<f64>,
}

/// What a turn of the session was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnKind {
    /// An agent turn extending the last prompt.
    Turn,
    /// A compaction's summary turn: the conversation so far and the
    /// request for a hand-off note (it extends the last prompt too).
    Summary,
    /// The first turn on the compacted conversation.
    Compacted,
    /// The first turn after a resume: a fresh engine (a new glint) on the
    /// conversation read back from the session log.
    Resumed,
    /// A probe: the last turn's computed tokens and its last sampled token,
    /// which is the one new token.
    SingleToken,
    /// A probe: a prompt ending exactly on a PagedAttention block boundary,
    /// with at least two new tokens.
    BlockBoundary,
    /// The noise row: a fresh prompt prefilled in two pieces (its first
    /// half, then the whole from the cache) against one cold prefill.
    SplitPrefill,
}

impl TurnReport {
    pub fn greedy_agrees(&self) -> bool {
        self.first_divergence.is_none()
    }
}

impl TurnKind {
    /// Whether the row is a probe run after the session rather than one of
    /// its turns.
    pub fn is_probe(self) -> bool {
        matches!(
            self,
            TurnKind::SingleToken | TurnKind::BlockBoundary | TurnKind::SplitPrefill
        )
    }
}

/// The largest |a - b| over two whole logit rows; NaN when either is empty
/// or they differ in length or hold a non-finite value, so that a missing
/// row can never read as agreement.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.is_empty() || a.len() != b.len() {
        return f32::NAN;
    }
    a.iter()
        .zip(b)
        .try_fold(0.0f32, |max, (x, y)| {
            let d = (x - y).abs();
            d.is_finite().then_some(max.max(d))
        })
        .unwrap_or(f32::NAN)
}

fn millis(log: &StepLog, started: Instant) -> Option<f64> {
    log.ttft(started).map(|d| d.as_secs_f64() * 1000.0)
}

/// Runs the session; `prefill_log` must be collecting the engine's events
/// (a layer of the installed `tracing` subscriber).
pub async fn run(
    options: &CacheCheckOptions,
    prefill_log: &PrefillLog,
    progress: LoadProgress,
) -> Result<Vec<TurnReport>, EngineError> {
    let report = session::run(options, &LongSession::default(), prefill_log, progress).await?;
    Ok(report.turns)
}

/// The cached engine and the cold one, and what the cached one computed.
struct Engines {
    cached: GlmModel<LocalEngine>,
    cold: LocalEngine,
    /// Token sequences whose KV rows the cached engine computed (each
    /// prompt and its output but the last token, which is sampled and
    /// never run): a prompt's new tokens are what none of them starts with.
    computed: Vec<Vec<u32>>,
    /// The last token the cached engine sampled (never run through it).
    last_sampled: Option<u32>,
    next_call: usize,
}

impl Engines {
    async fn load(
        options: &CacheCheckOptions,
        progress: LoadProgress,
    ) -> Result<Self, EngineError> {
        Ok(Engines {
            cached: Self::load_cached(options, progress.clone()).await?,
            cold: LocalEngine::load(&engine_options(options, false), progress).await?,
            computed: Vec::new(),
            last_sampled: None,
            next_call: 1,
        })
    }

    async fn load_cached(
        options: &CacheCheckOptions,
        progress: LoadProgress,
    ) -> Result<GlmModel<LocalEngine>, EngineError> {
        Ok(GlmModel::new(
            LocalEngine::load(&engine_options(options, true), progress).await?,
        ))
    }

    /// Runs one agent turn on the cached engine, prefills its prompt cold,
    /// and compares the two. Returns the assistant message as the agent
    /// records it.
    async fn turn(
        &mut self,
        turn: usize,
        kind: TurnKind,
        request: TurnRequest,
        prefill_log: &PrefillLog,
    ) -> Result<(Message, TurnReport), EngineError> {
        let recorder = StepRecorder::new(Watch::Logits);
        self.cached.backend().set_step_hook(Some(recorder.hook()));
        prefill_log.take();
        let started = Instant::now();
        let ran = run_turn(&self.cached, request, &mut self.next_call).await;
        self.cached.backend().set_step_hook(None);
        let (assistant, warm_text) = ran?;
        let log = recorder.take();
        let warm = Side {
            prefilled: prefill_log.take().last().map(|r| r.prefill_tokens),
            ttft_ms: millis(&log, started),
            log,
            // The raw record opens with the generation prompt's thinking tag.
            text: warm_text
                .strip_prefix("<think>")
                .unwrap_or(&warm_text)
                .to_string(),
        };
        let prompt_ids = self.cached.backend().last_prompt_ids();
        let report = self
            .compare(turn, kind, prompt_ids, warm, prefill_log)
            .await?;
        Ok((assistant, report))
    }

    /// Runs exactly `ids` on the cached engine (a probe turn), prefills them
    /// cold, and compares the two.
    async fn ids_turn(
        &mut self,
        turn: usize,
        kind: TurnKind,
        ids: Vec<u32>,
        prefill_log: &PrefillLog,
    ) -> Result<TurnReport, EngineError> {
        let warm = Side::run(self.cached.backend(), ids.clone(), prefill_log).await?;
        self.compare(turn, kind, ids, warm, prefill_log).await
    }

    /// Runs `ids` on the cached engine only, remembering what it computed
    /// (the first piece of a split prefill).
    async fn prefill_only(
        &mut self,
        ids: Vec<u32>,
        prefill_log: &PrefillLog,
    ) -> Result<(), EngineError> {
        let side = Side::run(self.cached.backend(), ids.clone(), prefill_log).await?;
        self.remember(ids, &side.log.greedy);
        Ok(())
    }

    /// Prefills `prompt_ids` on the cold engine and compares it with the
    /// cached engine's run of them.
    async fn compare(
        &mut self,
        turn: usize,
        kind: TurnKind,
        prompt_ids: Vec<u32>,
        warm: Side,
        prefill_log: &PrefillLog,
    ) -> Result<TurnReport, EngineError> {
        let cold = Side::run(&self.cold, prompt_ids.clone(), prefill_log).await?;
        let max_abs_logit_diff = max_abs_diff(&warm.log.first_row, &cold.log.first_row);
        let (warm_greedy, cold_greedy) = (&warm.log.greedy, &cold.log.greedy);
        let mut first_divergence = warm_greedy
            .iter()
            .zip(cold_greedy)
            .position(|(a, b)| a != b);
        if first_divergence.is_none()
            && (warm_greedy.len() != cold_greedy.len() || warm.text != cold.text)
        {
            first_divergence = Some(warm_greedy.len().min(cold_greedy.len()));
        }
        let reused = self
            .computed
            .iter()
            .map(|done| shared_prefix_len(done, &prompt_ids))
            .max()
            .unwrap_or(0);
        let report = TurnReport {
            turn,
            kind,
            prompt_tokens: prompt_ids.len(),
            new_tokens: prompt_ids.len() - reused,
            prefilled: warm.prefilled,
            cold_prefilled: cold.prefilled,
            max_abs_logit_diff,
            generated: warm_greedy.len(),
            first_divergence,
            ttft_ms: warm.ttft_ms,
            cold_ttft_ms: cold.ttft_ms,
        };
        self.remember(prompt_ids, warm_greedy);
        Ok(report)
    }

    /// Notes the KV rows a cached run computed: its prompt and every
    /// generated token but the last sampled one. That last token is kept
    /// for the single-token probe.
    fn remember(&mut self, prompt_ids: Vec<u32>, greedy: &[u32]) {
        let mut computed = prompt_ids;
        computed.extend_from_slice(&greedy[..greedy.len().saturating_sub(1)]);
        self.computed.push(computed);
        self.last_sampled = greedy.last().copied();
    }
}

/// One engine's run of a prompt.
struct Side {
    log: StepLog,
    text: String,
    prefilled: Option<u64>,
    ttft_ms: Option<f64>,
}

impl Side {
    /// Runs exactly `ids` on `engine` with GLM's stop tokens.
    async fn run(
        engine: &LocalEngine,
        ids: Vec<u32>,
        prefill_log: &PrefillLog,
    ) -> Result<Side, EngineError> {
        let stop = glm::STOP_TOKENS.iter().map(|s| s.to_string()).collect();
        prefill_log.take();
        let (log, text, started) = steps::run_ids(engine, ids, Watch::Logits, None, stop).await?;
        Ok(Side {
            prefilled: prefill_log.take().last().map(|r| r.prefill_tokens),
            ttft_ms: millis(&log, started),
            log,
            text,
        })
    }
}

fn engine_options(options: &CacheCheckOptions, prefix_cache: bool) -> LocalOptions {
    LocalOptions {
        model: options.model.clone(),
        isq: options.isq,
        device: options.device,
        max_context: options.max_context,
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: Some(options.max_tokens),
        },
        prefix_cache,
        paged_attn: options.paged_attn,
        precision: options.precision,
        prefill_chunk: options.prefill_chunk,
    }
}

/// One agent turn, recorded as the agent records it.
async fn run_turn(
    model: &GlmModel<LocalEngine>,
    request: TurnRequest,
    next_call: &mut usize,
) -> Result<(Message, String), EngineError> {
    let mut stream = model.stream_turn(request);
    let (mut reasoning, mut content, mut raw) = (String::new(), String::new(), None);
    let mut tool_calls = Vec::new();
    while let Some(event) = stream.next().await {
        match event? {
            ModelEvent::ReasoningDelta(delta) => reasoning.push_str(&delta),
            ModelEvent::TextDelta(delta) => content.push_str(&delta),
            ModelEvent::ToolCall(call) => {
                tool_calls.push(ToolCall::new(
                    format!("call_{next_call}"),
                    call.name,
                    call.arguments,
                ));
                *next_call += 1;
            }
            ModelEvent::RawTurn(record) => raw = Some(record),
            ModelEvent::Usage(_) | ModelEvent::ReasoningDetails(_) | ModelEvent::Finish(_) => {}
        }
    }
    let Some(raw) = raw else {
        return Err(EngineError::Backend(
            "the turn ended without its raw output".into(),
        ));
    };
    let text = raw.clone();
    let message = Message::Assistant {
        content,
        reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        tool_calls,
        reasoning_details: None,
        raw: Some(raw),
    };
    Ok((message, text))
}
