//! `--model` values.

use std::path::PathBuf;
use std::sync::Arc;

use super::http::{HttpConfig, HttpModel, Provider};
use super::local::{
    DeviceChoice, IsqChoice, LoadProgress, LoadSettings, LocalEngine, LocalOptions, PrefillChunk,
    QuantizedCache, Sampling,
};
use super::paged_attn::{self, PagedAttnChoice};
use super::scripted::ScriptedModel;
use super::{GlmModel, Model};

/// Which engine and model `--model` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// `script:PATH`: replay raw completions from a JSON file.
    Script(PathBuf),
    /// `openai:NAME` or `openrouter:NAME`: an OpenAI-compatible server.
    Http { provider: Provider, name: String },
    /// A Hugging Face id, a local directory or a `.gguf` file, run in-process.
    Local(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelSpecError {
    #[error("--model is empty; pass a Hugging Face id, a local path, or script:FILE")]
    Empty,
    #[error("--model {0}: a path must follow `script:`, e.g. script:tests/scripts/answer.json")]
    EmptyScriptPath(String),
    #[error("--model {0}: name the model after the colon, e.g. openrouter:z-ai/glm-4.7-flash")]
    EmptyModelName(String),
}

impl ModelSpec {
    pub fn parse(value: &str) -> Result<Self, ModelSpecError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ModelSpecError::Empty);
        }
        if let Some(path) = value.strip_prefix("script:") {
            if path.is_empty() {
                return Err(ModelSpecError::EmptyScriptPath(value.to_string()));
            }
            return Ok(ModelSpec::Script(PathBuf::from(path)));
        }
        if let Some((prefix, name)) = value.split_once(':')
            && let Some(provider) = Provider::from_prefix(prefix)
        {
            if name.is_empty() {
                return Err(ModelSpecError::EmptyModelName(value.to_string()));
            }
            return Ok(ModelSpec::Http {
                provider,
                name: name.to_string(),
            });
        }
        Ok(ModelSpec::Local(value.to_string()))
    }
}

/// Why `--model` could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Spec(#[from] ModelSpecError),
    #[error(transparent)]
    Script(#[from] super::scripted::ScriptError),
    #[error(transparent)]
    Engine(#[from] super::EngineError),
}

/// What `--model` needs besides its own value.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// `--base-url`, for HTTP engines.
    pub base_url: Option<String>,
    pub isq: IsqChoice,
    pub device: DeviceChoice,
    pub max_context: Option<usize>,
    /// `--memory-limit` in bytes: the most device memory (GPU memory, or
    /// RAM on CPU) a local model may use; `None`: what is available.
    pub memory_limit: Option<u64>,
    /// Where a local `--isq` model's quantized weights are kept between
    /// starts (`--no-quantized-cache`: nowhere).
    pub quantized_cache: QuantizedCache,
    /// `--paged-attn`, for a local model.
    pub paged_attn: PagedAttnChoice,
    /// `--prefill-chunk`, for a local model.
    pub prefill_chunk: PrefillChunk,
    /// Sampling as given on the command line; unset values keep each
    /// engine's default (GLM's recommendation locally, the server's own).
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<usize>,
    /// How long an HTTP stream may send nothing mid-answer before the turn
    /// ends with an error (`http.idle_timeout_s`); `None`: the default.
    pub http_idle_timeout: Option<std::time::Duration>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            base_url: None,
            isq: IsqChoice::Auto,
            device: DeviceChoice::Auto,
            max_context: None,
            memory_limit: None,
            quantized_cache: QuantizedCache::default(),
            paged_attn: PagedAttnChoice::Auto,
            prefill_chunk: PrefillChunk::Auto,
            temperature: None,
            top_p: None,
            max_tokens: None,
            http_idle_timeout: None,
        }
    }
}

/// Opens (for a local model: loads) the model `spec` names, reporting load
/// stages to `progress`.
pub async fn open(
    spec: &ModelSpec,
    options: &OpenOptions,
    progress: LoadProgress,
) -> Result<Arc<dyn Model>, OpenError> {
    match spec {
        ModelSpec::Script(path) => {
            let script = ScriptedModel::load(path)?;
            Ok(Arc::new(GlmModel::new(script)))
        }
        ModelSpec::Http { provider, name } => {
            let mut config = HttpConfig::from_env(*provider, name, options.base_url.as_deref())?;
            config.temperature = options.temperature.map(|t| t as f32);
            config.top_p = options.top_p.map(|p| p as f32);
            config.max_tokens = options.max_tokens.map(|n| n.min(u32::MAX as usize) as u32);
            if let Some(idle) = options.http_idle_timeout {
                config.idle_timeout = idle;
            }
            config.context_window = options.max_context.map(|n| n as u64);
            let model = HttpModel::new(config)?;
            model.look_up_context_window().await;
            Ok(Arc::new(model))
        }
        ModelSpec::Local(name) => {
            paged_attn::check_early(options.paged_attn, options.device)
                .map_err(|e| super::EngineError::Backend(e.to_string()))?;
            let defaults = Sampling::default();
            let local = LocalOptions {
                model: name.clone(),
                isq: options.isq,
                device: options.device,
                max_context: options.max_context,
                sampling: Sampling {
                    temperature: options.temperature.unwrap_or(defaults.temperature),
                    top_p: options.top_p.unwrap_or(defaults.top_p),
                    max_tokens: options.max_tokens,
                },
                prefix_cache: true,
                paged_attn: options.paged_attn,
                precision: super::local::Precision::Auto,
                prefill_chunk: options.prefill_chunk,
            };
            let settings = LoadSettings {
                memory_limit: options.memory_limit,
                quantized_cache: options.quantized_cache.clone(),
            };
            let engine = LocalEngine::load_with(&local, &settings, progress).await?;
            Ok(Arc::new(GlmModel::new(engine)))
        }
    }
}
