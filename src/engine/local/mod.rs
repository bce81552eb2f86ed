//! The in-process engine: a model run by mistralrs inside glint.
//!
//! glint renders GLM's prompt itself and sends mistralrs raw completion
//! requests as token ids, so what the model sees is exactly the rendered
//! prompt (no second chat template), and the prompt's length is known and
//! checked against the context window before mistralrs sees it (a too-long
//! prompt would otherwise only close the response channel).

mod cached_load;
mod decode;
mod download;
mod gguf;
mod memory;
mod options;
pub mod prefill;
mod prefill_chunks;
mod quantized_cache;
mod request;
mod source;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EngineError, RawChunk, RawCompletion, RawCompletionRequest, RawStream};
pub use gguf::check_gguf;
pub use options::{DeviceChoice, IsqChoice, LocalOptions, Precision, Sampling};
pub use prefill_chunks::{PrefillChunk, shared_prefix_len};
pub use quantized_cache::{QuantizedCache, QuantizedCacheUse};
use request::{Continuation, RequestSettings};
pub use request::{LogitsOverride, StepHook};
pub use source::{ModelSource, SourceError, check_glm4_moe_lite};

/// A stage of loading a model, for progress displays.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadEvent {
    /// `resolving`, `downloading`, `loading` or `ready`.
    pub stage: &'static str,
    pub message: String,
    /// Seconds since loading began.
    pub elapsed_s: f64,
    /// Bytes downloaded so far (`downloading`).
    pub bytes_done: Option<u64>,
    /// Bytes to download (`downloading`, when the Hub says) or to load
    /// (`loading` a local model).
    pub bytes_total: Option<u64>,
}

/// Where load events go; shared with the download watcher's task.
pub type LoadProgress = Arc<dyn Fn(LoadEvent) + Send + Sync>;

/// What a load may use besides [`LocalOptions`].
#[derive(Debug, Clone, Default)]
pub struct LoadSettings {
    /// The most device memory (GPU memory, or RAM on CPU) the model may
    /// use (`--memory-limit`); `None`: what is available.
    pub memory_limit: Option<u64>,
    /// Where quantized copies of `--isq` loads are kept (on by default).
    pub quantized_cache: QuantizedCache,
}

/// A loaded model.
pub struct LocalEngine {
    model: Arc<mistralrs::Model>,
    label: String,
    /// Most tokens (prompt + generated) one request may hold.
    max_context: usize,
    sampling: Sampling,
    /// The ids behind the last prompt and its output (see `request`).
    continuation: Arc<Mutex<Option<Continuation>>>,
    /// The ids of the last prompt sent, for diagnostics.
    last_prompt: Arc<Mutex<Vec<u32>>>,
    /// Prompt tokens one forward pass may compute; `None`: one pass.
    prefill_chunk: Option<usize>,
    /// The ids whose KV rows the last finished request left in the prefix
    /// cache (its prompt and computed output): where a long prompt's pieces
    /// start.
    in_cache: Arc<Mutex<Vec<u32>>>,
    step_hook: Mutex<Option<StepHook>>,
    logits_override: Mutex<Option<LogitsOverride>>,
    quantized_cache: QuantizedCacheUse,
}

impl LocalEngine {
    /// Loads the model `options` name, reporting each stage to `progress`.
    pub async fn load(options: &LocalOptions, progress: LoadProgress) -> Result<Self, EngineError> {
        Self::load_within(options, None, progress).await
    }

    /// Loads the model `options` name using at most `memory_limit` bytes of
    /// the device's memory (`--memory-limit`; `None`: what is available).
    /// A model that cannot fit is refused before it is downloaded or loaded.
    pub async fn load_within(
        options: &LocalOptions,
        memory_limit: Option<u64>,
        progress: LoadProgress,
    ) -> Result<Self, EngineError> {
        let settings = LoadSettings {
            memory_limit,
            ..LoadSettings::default()
        };
        Self::load_with(options, &settings, progress).await
    }

    /// Loads the model `options` name as `settings` allow. A model that
    /// cannot fit is refused before it is downloaded or loaded; an `--isq`
    /// load reads or writes its quantized copy (see `quantized_cache`).
    pub async fn load_with(
        options: &LocalOptions,
        settings: &LoadSettings,
        progress: LoadProgress,
    ) -> Result<Self, EngineError> {
        let memory_limit = settings.memory_limit;
        let started = Instant::now();
        let report = |stage: &'static str, message: String, bytes_total: Option<u64>| {
            progress(LoadEvent {
                stage,
                message,
                elapsed_s: started.elapsed().as_secs_f64(),
                bytes_done: None,
                bytes_total,
            })
        };
        report("resolving", format!("resolving {}", options.model), None);
        let source = ModelSource::parse(&options.model).map_err(backend)?;
        source.check_offline_cache().map_err(backend)?;
        if let ModelSource::Gguf(path) = &source {
            // mistralrs would only say "Critical failure loading model part 0!".
            check_gguf(path).map_err(EngineError::Backend)?;
        }
        let device = options.device.resolve().map_err(EngineError::Backend)?;
        // A combination that cannot run is refused in one line before any
        // download (later, inside the load, it would read as a load error).
        let paged = crate::engine::paged_attn::decide(
            options.paged_attn,
            crate::engine::paged_attn::DeviceKind::of(&device),
            crate::engine::paged_attn::no_mla_from_env(),
        )
        .map_err(|e| EngineError::Backend(e.to_string()))?;
        // A Hub model not downloaded yet: what the Hub says about it.
        let hub = match &source {
            ModelSource::Hub(id) if source.local_dir().is_none() && !source::hub_offline() => {
                Some(download::hub_facts(id).await)
            }
            _ => None,
        };
        let config = match source.config().map_err(backend)? {
            Some(config) => Some(config),
            None => hub.as_ref().and_then(|h| h.config.clone()),
        };
        if let (Some(dir), Some(config)) = (source.local_dir(), &config) {
            check_glm4_moe_lite(&dir, config).map_err(backend)?;
        }
        // Refuse a too-large context before a long download or load.
        let window = config
            .as_ref()
            .and_then(|c| c.get("max_position_embeddings"))
            .and_then(serde_json::Value::as_u64);
        check_context(options.max_context, window.map(|w| w as usize))?;
        let weights = source
            .local_weights()
            .or_else(|| hub.as_ref().and_then(|h| h.weights));
        let memory = weights.map(|weights| MemoryCheck {
            query: memory::FitQuery {
                weights,
                kv_values_per_token: config.as_ref().and_then(memory::kv_values_per_token),
                window,
                context: options.max_context.map(|n| n as u64),
                isq: options.isq,
            },
            budget: memory_budget(&device, options.device, options.precision, memory_limit),
        });
        let mut options = options.clone();
        if let Some(memory) = &memory {
            let fit = memory::plan(&memory.query, &memory.budget).map_err(|refusal| {
                EngineError::Backend(format!("cannot load {}: {refusal}", options.model))
            })?;
            options.isq = fit.isq;
            options.max_context = fit.context.map(|n| n as usize);
        }
        if device.is_cuda() && options.max_context.is_none() {
            // What mistralrs's PagedAttention cache holds by default: glint
            // must not let a request outgrow the cache, which mistralrs
            // would drop unanswered or preempt and re-prefill without end.
            options.max_context =
                Some(PAGED_DEFAULT_CONTEXT.min(window.unwrap_or(u64::MAX)) as usize);
        }
        let options = &options;
        let stop_watching = CancellationToken::new();
        if let (ModelSource::Hub(id), Some(hub)) = (&source, &hub) {
            start_download_watch(
                id,
                hub.total,
                started,
                progress.clone(),
                stop_watching.clone(),
            );
        }
        report(
            "loading",
            format!(
                "loading {} on {} (isq {})",
                options.model,
                options.device,
                options.isq.name()
            ),
            source.local_size(),
        );
        let note = |message: String| report("loading", message, None);
        let (built, quantized_cache) = cached_load::build(
            &source,
            options,
            device,
            &settings.quantized_cache,
            memory.as_ref(),
            &note,
        )
        .await;
        stop_watching.cancel();
        let model = built.map_err(|e| {
            let detail = e.to_string();
            match &memory {
                Some(memory) if memory::is_out_of_memory(&detail) => {
                    EngineError::Backend(memory.advice(options))
                }
                _ => EngineError::Backend(load_error(&options.model, &source, &detail)),
            }
        })?;
        let model_limit = model.max_sequence_length().ok().flatten();
        check_context(options.max_context, model_limit)?;
        let max_context = options
            .max_context
            .or(model_limit)
            .unwrap_or(options::DEFAULT_MAX_CONTEXT);
        report(
            "ready",
            format!("{} ready ({max_context}-token context)", options.model),
            None,
        );
        Ok(LocalEngine {
            model: Arc::new(model),
            label: options.model.clone(),
            max_context,
            sampling: options.sampling,
            continuation: Arc::new(Mutex::new(None)),
            last_prompt: Arc::new(Mutex::new(Vec::new())),
            prefill_chunk: options.prefill_chunk.resolve(paged, options.prefix_cache),
            in_cache: Arc::new(Mutex::new(Vec::new())),
            step_hook: Mutex::new(None),
            logits_override: Mutex::new(None),
            quantized_cache,
        })
    }

    /// What this load did with the quantized cache.
    pub fn quantized_cache_use(&self) -> &QuantizedCacheUse {
        &self.quantized_cache
    }

    /// The context window requests are checked against.
    pub fn max_context(&self) -> usize {
        self.max_context
    }

    /// Token ids of `text` as the model's tokenizer splits it, with no
    /// special tokens added (the rendered prompt already has GLM's).
    pub async fn tokenize(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        tokenize(&self.model, text.to_string()).await
    }
}

async fn tokenize(model: &Arc<mistralrs::Model>, text: String) -> Result<Vec<u32>, EngineError> {
    let model = Arc::clone(model);
    // In a task of its own, like a decode (see `decode`): mistralrs's engine
    // thread panics if the reply finds its receiver gone, which a turn
    // cancelled mid-call would otherwise cause.
    tokio::spawn(async move {
        model
            .tokenize(either::Either::Right(text), None, false, false, None)
            .await
    })
    .await
    .map_err(|e| EngineError::Backend(format!("the tokenizer task failed: {e}")))?
    .map_err(|e| EngineError::Backend(format!("the tokenizer failed: {e}")))
}

/// Watches a Hub model arrive in the cache; `total` is its size from the
/// Hub's listing.
fn start_download_watch(
    id: &str,
    total: Option<u64>,
    started: Instant,
    progress: LoadProgress,
    stop: CancellationToken,
) {
    let Some(cache) = source::hub_cache_dir() else {
        return;
    };
    let entry = download::cache_entry(&cache, id);
    let label = id.to_string();
    let report: Arc<dyn Fn(download::DownloadProgress) + Send + Sync> = Arc::new(move |p| {
        progress(LoadEvent {
            stage: "downloading",
            message: format!("downloading {label}"),
            elapsed_s: started.elapsed().as_secs_f64(),
            bytes_done: Some(p.done),
            bytes_total: p.total,
        })
    });
    tokio::spawn(download::watch(entry, total, report, stop));
}

/// Tokens mistralrs's PagedAttention KV cache holds when not told a size.
const PAGED_DEFAULT_CONTEXT: u64 = 4096;

/// What a load needs and may use, kept for out-of-memory advice.
struct MemoryCheck {
    query: memory::FitQuery,
    budget: memory::Budget,
}

impl MemoryCheck {
    /// Advice after a load that ran out of memory at `options`' level and
    /// context.
    fn advice(&self, options: &LocalOptions) -> String {
        let query = memory::FitQuery {
            context: options.max_context.map(|n| n as u64),
            ..self.query
        };
        format!(
            "cannot load {}: {}",
            options.model,
            memory::out_of_memory_advice(&query, &self.budget, options.isq)
        )
    }
}

/// The memory a model on `device` may use: free GPU memory (CUDA), available
/// RAM (CPU), or only the cap where neither can be measured (Metal).
fn memory_budget(
    device: &mistralrs::Device,
    choice: DeviceChoice,
    precision: Precision,
    limit: Option<u64>,
) -> memory::Budget {
    let gpu_kind = match precision {
        Precision::Auto => memory::MemoryKind::Gpu,
        Precision::F32 => memory::MemoryKind::GpuF32,
    };
    let (kind, available) = if device.is_cpu() {
        (memory::MemoryKind::Ram, memory::available_ram())
    } else if device.is_cuda() {
        let ordinal = match choice {
            DeviceChoice::Cuda(n) => n,
            _ => 0,
        };
        (gpu_kind, memory::free_gpu_memory(ordinal))
    } else {
        (gpu_kind, None)
    };
    memory::Budget {
        kind,
        available,
        limit,
    }
}

/// `--max-context` may not exceed the model's own window.
fn check_context(asked: Option<usize>, window: Option<usize>) -> Result<(), EngineError> {
    match (asked, window) {
        (Some(asked), Some(window)) if asked > window => Err(EngineError::Backend(format!(
            "--max-context {asked} is larger than the model's window of {window} tokens; use at most {window}"
        ))),
        _ => Ok(()),
    }
}

fn backend(error: SourceError) -> EngineError {
    EngineError::Backend(error.to_string())
}

/// A one-line load error that says what to do.
fn load_error(name: &str, source: &ModelSource, detail: &str) -> String {
    let detail = detail.lines().next().unwrap_or_default();
    if detail.contains("Critical failure loading model part") {
        // mistralrs's words for a weight file it could not read.
        let what = match source {
            ModelSource::Gguf(path) => path.display().to_string(),
            _ => format!("a weight file of {name}"),
        };
        return format!(
            "cannot load {name}: {what} is corrupt or incomplete (mistralrs: {detail}); download it again and compare its sha256 with the one its publisher lists"
        );
    }
    match source {
        ModelSource::Hub(id) => format!(
            "cannot load {id} from Hugging Face ({detail}); when offline, pre-download it with `huggingface-cli download {id}` on a connected machine and copy the cache, or pass a local directory"
        ),
        _ => format!("cannot load {name} ({detail})"),
    }
}

impl LocalEngine {
    /// Runs `hook` at every decoding step of the requests that follow (tests
    /// and benchmarks observe logits and contexts through it); `None` stops.
    pub fn set_step_hook(&self, hook: Option<StepHook>) {
        *self
            .step_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = hook;
    }

    /// Replaces every decoding step's logits in the requests that follow
    /// (tests force chosen tokens through it); `None` stops.
    pub fn set_logits_override(&self, logits: Option<LogitsOverride>) {
        *self
            .logits_override
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = logits;
    }

    /// The text of `ids` with special tokens kept: what the engine streams
    /// for generated ids.
    pub async fn detokenize(&self, ids: &[u32]) -> Result<String, EngineError> {
        decode::Detokenize::decode(&self.model, ids).await
    }

    /// The token ids of the last prompt sent by [`RawCompletion::complete`].
    pub fn last_prompt_ids(&self) -> Vec<u32> {
        self.last_prompt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the ids behind the last prompt and output, so the next prompt
    /// is tokenized whole (what a fresh engine does).
    pub fn forget_continuation(&self) {
        *self
            .continuation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Completes exactly these prompt ids, bypassing the tokenizer and the
    /// remembered continuation (to prefill the very ids another engine saw).
    pub fn complete_ids(&self, ids: Vec<u32>, stop: Vec<String>) -> RawStream {
        let (tx, rx) = mpsc::channel(64);
        let model = self.model.clone();
        let in_cache = self.in_cache.clone();
        let settings = self.settings(stop);
        tokio::spawn(async move {
            if let Err(error) = complete_through_cache(&model, &in_cache, ids, settings, &tx).await
            {
                let _ = tx.send(Err(error)).await;
            }
        });
        tokio_stream_from(rx)
    }

    /// A request's settings, before its prompt's ids are known (their
    /// cached part is counted once they are, by [`complete_through_cache`]).
    fn settings(&self, stop: Vec<String>) -> RequestSettings {
        RequestSettings {
            max_context: self.max_context,
            sampling: self.sampling,
            prefill_chunk: self.prefill_chunk,
            cached_tokens: 0,
            stop,
            hook: self
                .step_hook
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            logits: self
                .logits_override
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

impl RawCompletion for LocalEngine {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn context_window(&self) -> Option<u64> {
        Some(self.max_context as u64)
    }

    fn complete(&self, request: RawCompletionRequest) -> RawStream {
        let (tx, rx) = mpsc::channel(64);
        let model = self.model.clone();
        let continuation = self.continuation.clone();
        let last_prompt = self.last_prompt.clone();
        let in_cache = self.in_cache.clone();
        let settings = self.settings(request.stop);
        tokio::spawn(async move {
            let prompt = request.prompt;
            let result = async {
                // Taken, not copied: a request that fails or is cancelled
                // leaves nothing for the next prompt to extend.
                let remembered = continuation
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                let ids = match remembered.as_ref().and_then(|c| c.extend(&prompt)) {
                    Some((mut ids, rest)) => {
                        ids.extend(tokenize(&model, rest.to_string()).await?);
                        ids
                    }
                    None => tokenize(&model, prompt.clone()).await?,
                };
                last_prompt
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone_from(&ids);
                let finished =
                    complete_through_cache(&model, &in_cache, ids, settings, &tx).await?;
                if let Some((finished, held)) = finished {
                    remember(&continuation, prompt + &finished.text, held);
                }
                Ok(())
            }
            .await;
            if let Err(error) = result {
                let _ = tx.send(Err(error)).await;
            }
        });
        tokio_stream_from(rx)
    }
}

/// Keeps the ids of a finished request's prompt and computed output, and
/// their text (the prompt, then what was streamed), for the next prompt. The
/// output's text is glint's own decoding of exactly those ids, so text and
/// ids agree; the next prompt reuses them only if it starts with that text
/// (output the renderer did not write back verbatim is simply tokenized
/// again).
fn remember(continuation: &Mutex<Option<Continuation>>, text: String, ids: Vec<u32>) {
    *continuation.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(Continuation::new(text, ids));
}

/// Streams the completion of `ids` with `settings`, told first how many of
/// them the prefix cache holds (`in_cache`, the last finished request's ids);
/// a request that finishes becomes that record. Returns it with those ids,
/// its prompt's and its computed output's.
async fn complete_through_cache(
    model: &Arc<mistralrs::Model>,
    in_cache: &Mutex<Vec<u32>>,
    ids: Vec<u32>,
    mut settings: RequestSettings,
    out: &mpsc::Sender<Result<RawChunk, EngineError>>,
) -> Result<Option<(request::Finished, Vec<u32>)>, EngineError> {
    settings.cached_tokens = shared_prefix_len(
        &ids,
        &in_cache.lock().unwrap_or_else(PoisonError::into_inner),
    );
    let mut held = ids.clone();
    let Some(finished) = request::stream_completion(model, ids, settings, out).await? else {
        return Ok(None);
    };
    held.extend_from_slice(&finished.computed);
    in_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone_from(&held);
    Ok(Some((finished, held)))
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Result<RawChunk, EngineError>>) -> RawStream {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
