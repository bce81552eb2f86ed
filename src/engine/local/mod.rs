//! The in-process engine: a model run by mistralrs inside glint.
//!
//! glint renders GLM's prompt itself and sends mistralrs raw completion
//! requests as token ids, so what the model sees is exactly the rendered
//! prompt (no second chat template), and the prompt's length is known and
//! checked against the context window before mistralrs sees it (a too-long
//! prompt would otherwise only close the response channel).

mod download;
mod memory;
mod options;
mod source;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use mistralrs::{
    Constraint, NormalRequest, Request, RequestMessage, Response, SamplingParams, StopTokens,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EngineError, RawChunk, RawCompletion, RawCompletionRequest, RawStream, Usage};
pub use options::{DeviceChoice, IsqChoice, LocalOptions, Sampling};
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

/// A loaded model.
pub struct LocalEngine {
    model: Arc<mistralrs::Model>,
    label: String,
    /// Most tokens (prompt + generated) one request may hold.
    max_context: usize,
    sampling: Sampling,
}

impl LocalEngine {
    /// Loads the model `options` name, reporting each stage to `progress`.
    pub async fn load(options: &LocalOptions, progress: LoadProgress) -> Result<Self, EngineError> {
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
        let device = options.device.resolve().map_err(EngineError::Backend)?;
        let on_cpu = device.is_cpu();
        let config = source.config().map_err(backend)?;
        if let (Some(dir), Some(config)) = (source.local_dir(), &config) {
            check_glm4_moe_lite(&dir, config, on_cpu).map_err(backend)?;
            // Refuse a too-large context before a long load, not after.
            let window = config
                .get("max_position_embeddings")
                .and_then(serde_json::Value::as_u64);
            check_context(options.max_context, window.map(|w| w as usize))?;
        }
        let fit = GpuFit::measure(&source, config.as_ref(), options, &device);
        let mut options = options.clone();
        if options.isq == IsqChoice::Auto
            && let Some(fit) = &fit
        {
            options.isq = fit.choose().map_err(EngineError::Backend)?;
        }
        if options.max_context.is_none() {
            options.max_context = fit.as_ref().and_then(|f| f.fitting_context(options.isq));
        }
        let options = &options;
        let stop_watching = CancellationToken::new();
        if let ModelSource::Hub(id) = &source {
            start_download_watch(id, started, progress.clone(), stop_watching.clone()).await;
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
        let built = options::build(&source, options, device).await;
        stop_watching.cancel();
        let model = built.map_err(|e| {
            let detail = e.to_string();
            match &fit {
                Some(fit) if memory::is_out_of_memory(&detail) => {
                    EngineError::Backend(fit.advice(options.isq))
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
        })
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

async fn tokenize(model: &mistralrs::Model, text: String) -> Result<Vec<u32>, EngineError> {
    model
        .tokenize(either::Either::Right(text), None, false, false, None)
        .await
        .map_err(|e| EngineError::Backend(format!("the tokenizer failed: {e}")))
}

/// Watches a Hub model arrive in the cache, unless it is there already.
async fn start_download_watch(
    id: &str,
    started: Instant,
    progress: LoadProgress,
    stop: CancellationToken,
) {
    let Some(cache) = source::hub_cache_dir() else {
        return;
    };
    let entry = download::cache_entry(&cache, id);
    let cached = std::fs::read_dir(entry.join("snapshots"))
        .is_ok_and(|mut snapshots| snapshots.next().is_some());
    if cached {
        return;
    }
    let total = download::total_size(id).await;
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

/// What a CUDA load needs and has, for `--isq auto` and out-of-memory advice.
struct GpuFit {
    need: memory::MemoryNeed,
    free: Option<u64>,
    kv_per_token: Option<u64>,
    /// The model's own context window.
    window: Option<u64>,
}

impl GpuFit {
    /// `None` off CUDA, or when the weights' size is unknown (a Hub model not
    /// downloaded yet).
    fn measure(
        source: &ModelSource,
        config: Option<&serde_json::Value>,
        options: &LocalOptions,
        device: &mistralrs::Device,
    ) -> Option<Self> {
        if !device.is_cuda() {
            return None;
        }
        let weight_bytes = source.local_size()?;
        let window = config
            .and_then(|c| c.get("max_position_embeddings"))
            .and_then(serde_json::Value::as_u64);
        let context = options.max_context.map(|n| n as u64).or(window);
        let kv_per_token = config.and_then(memory::kv_bytes_per_token);
        let kv_bytes = match (kv_per_token, context) {
            (Some(per_token), Some(context)) => per_token * context,
            _ => 0,
        };
        let ordinal = match options.device {
            DeviceChoice::Cuda(n) => n,
            _ => 0,
        };
        Some(GpuFit {
            need: memory::MemoryNeed {
                weight_bytes,
                kv_bytes,
            },
            free: memory::free_gpu_memory(ordinal),
            kv_per_token,
            window,
        })
    }

    /// The longest context whose KV cache fits beside the weights at `isq`,
    /// up to the model's window: the KV cache size when `--max-context` is
    /// not given (mistralrs's own default holds only 4,064 tokens).
    fn fitting_context(&self, isq: IsqChoice) -> Option<usize> {
        let free = self.free?;
        let per_token = self.kv_per_token?.max(1);
        let weights = memory::MemoryNeed {
            weight_bytes: self.need.weight_bytes,
            kv_bytes: 0,
        };
        let room = memory::room_beside_weights(weights, free, isq)?;
        let tokens = room / per_token;
        Some(self.window.map_or(tokens, |w| tokens.min(w)) as usize)
    }

    /// The level `--isq auto` loads at.
    fn choose(&self) -> Result<IsqChoice, String> {
        let Some(free) = self.free else {
            return Ok(IsqChoice::None);
        };
        memory::choose_isq(self.need, free).ok_or_else(|| self.advice(IsqChoice::Q4k))
    }

    fn advice(&self, tried: IsqChoice) -> String {
        memory::out_of_memory_advice(self.need, self.free, tried)
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
    match source {
        ModelSource::Hub(id) => format!(
            "cannot load {id} from Hugging Face ({detail}); when offline, pre-download it with `huggingface-cli download {id}` on a connected machine and copy the cache, or pass a local directory"
        ),
        _ => format!("cannot load {name} ({detail})"),
    }
}

impl RawCompletion for LocalEngine {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn complete(&self, request: RawCompletionRequest) -> RawStream {
        let (tx, rx) = mpsc::channel(64);
        let model = self.model.clone();
        let max_context = self.max_context;
        let sampling = self.sampling;
        tokio::spawn(async move {
            let result = async {
                let ids = tokenize(&model, request.prompt).await?;
                stream_completion(&model, ids, request.stop, max_context, sampling, &tx).await
            }
            .await;
            if let Err(error) = result {
                let _ = tx.send(Err(error)).await;
            }
        });
        tokio_stream_from(rx)
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Result<RawChunk, EngineError>>) -> RawStream {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Sends one raw completion request and forwards its chunks until the
/// sequence finishes or the consumer goes away (dropping mistralrs's
/// response channel cancels the sequence).
async fn stream_completion(
    model: &mistralrs::Model,
    ids: Vec<u32>,
    stop: Vec<String>,
    max_context: usize,
    sampling: Sampling,
    out: &mpsc::Sender<Result<RawChunk, EngineError>>,
) -> Result<(), EngineError> {
    let prompt_tokens = ids.len();
    if prompt_tokens >= max_context {
        return Err(EngineError::Backend(format!(
            "the prompt is {prompt_tokens} tokens but the context holds {max_context}; start a new session or raise --max-context"
        )));
    }
    let room = max_context - prompt_tokens;
    let mut params = if sampling.temperature <= 0.0 {
        SamplingParams::deterministic()
    } else {
        let mut params = SamplingParams::neutral();
        params.temperature = Some(sampling.temperature);
        params.top_p = Some(sampling.top_p);
        params
    };
    params.max_len = Some(sampling.max_tokens.map_or(room, |max| max.min(room)));
    params.stop_toks = Some(StopTokens::Seqs(stop));

    let (tx, mut rx) = mpsc::channel(64);
    let runner = model.inner();
    let request = Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::CompletionTokens(ids),
        sampling_params: params,
        response: tx,
        return_logprobs: false,
        is_streaming: true,
        id: runner.next_request_id(),
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors: None,
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

    let mut completion_tokens = 0u64;
    loop {
        let Some(response) = rx.recv().await else {
            return Err(EngineError::Backend(
                "the engine closed the response without finishing; see glint's log for its error"
                    .into(),
            ));
        };
        match response {
            Response::CompletionChunk(chunk) => {
                // mistralrs sends one chunk per generated token.
                completion_tokens += 1;
                let mut finished = false;
                for choice in chunk.choices {
                    finished |= choice.finish_reason.is_some();
                    if !choice.text.is_empty()
                        && out.send(Ok(RawChunk::Text(choice.text))).await.is_err()
                    {
                        return Ok(());
                    }
                }
                if finished {
                    let usage = Usage {
                        prompt_tokens: Some(prompt_tokens as u64),
                        completion_tokens: Some(completion_tokens),
                    };
                    let _ = out.send(Ok(RawChunk::Usage(usage))).await;
                    return Ok(());
                }
            }
            Response::CompletionModelError(message, _) | Response::ModelError(message, _) => {
                return Err(EngineError::Backend(format!("the model failed: {message}")));
            }
            Response::InternalError(error) | Response::ValidationError(error) => {
                return Err(EngineError::Backend(format!("the engine failed: {error}")));
            }
            _ => {
                return Err(EngineError::Backend(
                    "the engine sent an unexpected response to a completion request".into(),
                ));
            }
        }
    }
}
