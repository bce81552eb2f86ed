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
//! were new.

use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use mistralrs::Tensor;

use crate::conversation::{Message, ToolCall};
use crate::engine::local::prefill::PrefillLog;
use crate::engine::local::{
    DeviceChoice, IsqChoice, LoadProgress, LocalEngine, LocalOptions, Sampling, StepHook,
};
use crate::engine::{EngineError, GlmModel, Model, ModelEvent, RawChunk, RawStream, TurnRequest};
use crate::glm;
pub use session::{LongSession, SessionReport, run as run_session};

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
}

impl TurnReport {
    pub fn greedy_agrees(&self) -> bool {
        self.first_divergence.is_none()
    }
}

/// What a request's decoding steps saw.
#[derive(Default)]
struct Probe {
    first_logits: Vec<f32>,
    /// The greedy choice at each step (the generated tokens).
    greedy: Vec<u32>,
}

fn probe_hook(probe: Arc<Mutex<Probe>>) -> StepHook {
    Arc::new(move |logits: &Tensor, _context: &[u32]| {
        let row = logits
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("cannot read the step's logits: {e}"))?;
        let mut probe = probe.lock().unwrap_or_else(PoisonError::into_inner);
        if probe.greedy.is_empty() {
            probe.first_logits = row.clone();
        }
        probe.greedy.push(argmax(&row));
        Ok(())
    })
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

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0usize;
    for (index, value) in row.iter().enumerate() {
        if *value > row[best] {
            best = index;
        }
    }
    best as u32
}

fn take(probe: &Arc<Mutex<Probe>>) -> Probe {
    std::mem::take(&mut *probe.lock().unwrap_or_else(PoisonError::into_inner))
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
        let warm_probe = Arc::new(Mutex::new(Probe::default()));
        self.cached
            .backend()
            .set_step_hook(Some(probe_hook(warm_probe.clone())));
        prefill_log.take();
        let (assistant, warm_text) = run_turn(&self.cached, request, &mut self.next_call).await?;
        let prefilled = prefill_log.take().last().map(|r| r.prefill_tokens);
        let warm = take(&warm_probe);
        let prompt_ids = self.cached.backend().last_prompt_ids();

        let cold_probe = Arc::new(Mutex::new(Probe::default()));
        self.cold
            .set_step_hook(Some(probe_hook(cold_probe.clone())));
        let stop = glm::STOP_TOKENS.iter().map(|s| s.to_string()).collect();
        prefill_log.take();
        let cold_text = collect_text(self.cold.complete_ids(prompt_ids.clone(), stop)).await?;
        let cold_prefilled = prefill_log.take().last().map(|r| r.prefill_tokens);
        let cold_run = take(&cold_probe);

        let max_abs_logit_diff = max_abs_diff(&warm.first_logits, &cold_run.first_logits);
        let mut first_divergence = warm
            .greedy
            .iter()
            .zip(&cold_run.greedy)
            .position(|(a, b)| a != b);
        // The raw record opens with the generation prompt's thinking tag.
        let warm_generated = warm_text.strip_prefix("<think>").unwrap_or(&warm_text);
        if first_divergence.is_none()
            && (warm.greedy.len() != cold_run.greedy.len() || warm_generated != cold_text)
        {
            first_divergence = Some(warm.greedy.len().min(cold_run.greedy.len()));
        }
        let reused = self
            .computed
            .iter()
            .map(|done| shared_prefix(done, &prompt_ids))
            .max()
            .unwrap_or(0);
        let report = TurnReport {
            turn,
            kind,
            prompt_tokens: prompt_ids.len(),
            new_tokens: prompt_ids.len() - reused,
            prefilled,
            cold_prefilled,
            max_abs_logit_diff,
            generated: warm.greedy.len(),
            first_divergence,
        };
        let mut computed = prompt_ids;
        computed.extend_from_slice(&warm.greedy[..warm.greedy.len().saturating_sub(1)]);
        self.computed.push(computed);
        Ok((assistant, report))
    }
}

fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
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

async fn collect_text(mut stream: RawStream) -> Result<String, EngineError> {
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        if let RawChunk::Text(piece) = chunk? {
            text.push_str(&piece);
        }
    }
    Ok(text)
}

/// The reports as a Markdown table.
pub fn table(reports: &[TurnReport]) -> String {
    let mut out = String::from(
        "| turn | prompt tokens | new tokens | prefilled | prefilled ÷ new | cold prefilled | max abs Δlogit | greedy agrees |\n|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in reports {
        let (prefilled, ratio) = match r.prefilled {
            Some(p) => (
                p.to_string(),
                format!("{:.2}", p as f64 / r.new_tokens.max(1) as f64),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        let agrees = match r.first_divergence {
            None => format!("yes ({} tokens)", r.generated),
            Some(step) => format!("no (from token {})", step + 1),
        };
        let cold = r
            .cold_prefilled
            .map_or_else(|| "n/a".to_string(), |p| p.to_string());
        let turn = match r.kind {
            TurnKind::Turn => r.turn.to_string(),
            TurnKind::Summary => format!("{} (compaction's summary turn)", r.turn),
            TurnKind::Compacted => format!("{} (after the compaction)", r.turn),
            TurnKind::Resumed => format!("{} (after the resume)", r.turn),
        };
        out.push_str(&format!(
            "| {turn} | {} | {} | {prefilled} | {ratio} | {cold} | {:.1e} | {agrees} |\n",
            r.prompt_tokens, r.new_tokens, r.max_abs_logit_diff
        ));
    }
    out
}

/// What the session as a whole shows: prefilled ÷ new, and what the
/// compaction and the resume cost.
pub fn summary(report: &SessionReport) -> String {
    let mut out = String::new();
    let turns = report.turns.len();
    match (report.prefilled(), report.ratio()) {
        (Some(prefilled), Some(ratio)) => out.push_str(&format!(
            "prefilled ÷ new over {turns} model calls: {prefilled} ÷ {} = {ratio:.3}\n",
            report.new_tokens()
        )),
        _ => out.push_str("prefilled: n/a (the engine reports no prefix-cache lookups)\n"),
    }
    let first = |kind| report.turns.iter().find(|r| r.kind == kind);
    if let (Some(summary), Some(after)) = (first(TurnKind::Summary), first(TurnKind::Compacted)) {
        out.push_str(&format!(
            "compaction before turn {}: its summary turn prefilled {} tokens (a {}-token prompt); the first compacted prompt ({} tokens) prefilled {}\n",
            after.turn,
            summary.prefilled.unwrap_or(0),
            summary.prompt_tokens,
            after.prompt_tokens,
            after.prefilled.unwrap_or(0),
        ));
    }
    if let (Some(resumed), Some(exact)) = (first(TurnKind::Resumed), report.resume_exact) {
        out.push_str(&format!(
            "resume before turn {}: the session log re-rendered the prompt byte for byte: {}; the fresh engine prefilled {} tokens (the whole {}-token prompt, once)\n",
            resumed.turn,
            if exact { "yes" } else { "NO" },
            resumed.prefilled.unwrap_or(0),
            resumed.prompt_tokens,
        ));
    }
    let agree = report.turns.iter().filter(|r| agrees(r)).count();
    out.push_str(&format!(
        "turns equal to a cold prefill (same greedy tokens, logits within 0.1): {agree} of {turns}\n"
    ));
    out
}

/// Whether a turn served from the cache equals the cold prefill.
fn agrees(r: &TurnReport) -> bool {
    r.greedy_agrees()
        && r.max_abs_logit_diff <= 0.1
        && r.cold_prefilled == Some(r.prompt_tokens as u64)
}

/// The most prefilled ÷ new a session may show: a cache that reuses all
/// it can scores 1.00.
pub const MAX_RATIO: f64 = 1.10;

/// `glint dev cache-check`: runs the check and prints its reports. Exit
/// status 0 when every turn agrees (logits within 0.1, same greedy tokens,
/// the cold engine prefilled the whole prompt), and with `--compact-at` or
/// `--resume-at` also prefilled ÷ new is at most [`MAX_RATIO`] and the
/// resume re-rendered exactly; 1 otherwise.
pub fn command(args: &crate::dev::command::CacheCheckArgs) -> anyhow::Result<u8> {
    use tracing_subscriber::layer::SubscriberExt;

    let log = PrefillLog::new();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.layer()))
        .map_err(|e| anyhow::anyhow!("cannot collect the engine's prefill events: {e}"))?;
    let options = CacheCheckOptions {
        model: args.model.clone(),
        device: args.device,
        isq: args.isq,
        turns: usize::try_from(args.turns)?,
        max_tokens: usize::try_from(args.max_tokens)?,
        max_context: args.max_context.map(usize::try_from).transpose()?,
        tools: !args.no_tools,
    };
    let long = LongSession {
        compact_at: args.compact_at.map(usize::try_from).transpose()?,
        resume_at: args.resume_at.map(usize::try_from).transpose()?,
    };
    for (flag, at) in [
        ("--compact-at", long.compact_at),
        ("--resume-at", long.resume_at),
    ] {
        if at.is_some_and(|turn| turn < 2 || turn > options.turns) {
            anyhow::bail!(
                "{flag} must name a turn from 2 to --turns ({})",
                options.turns
            );
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let progress: LoadProgress = Arc::new(|event| eprintln!("glint: {}", event.message));
    let report = runtime.block_on(session::run(&options, &long, &log, progress))?;
    if args.json {
        for turn in &report.turns {
            println!("{}", serde_json::to_string(turn)?);
        }
    } else {
        print!("{}", table(&report.turns));
    }
    let long_ok = long == LongSession::default()
        || (report.ratio().is_some_and(|r| r <= MAX_RATIO) && report.resume_exact != Some(false));
    if long != LongSession::default() {
        eprint!("{}", summary(&report));
    }
    let agree = report.turns.iter().all(agrees);
    Ok(if agree && long_ok { 0 } else { 1 })
}
