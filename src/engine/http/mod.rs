//! The OpenAI-compatible HTTP engine: Chat Completions with streaming, for
//! OpenRouter and for OpenAI-compatible servers (vLLM, SGLang, llama.cpp,
//! OpenAI itself).
//!
//! Each turn is one `POST {base_url}/chat/completions` with `stream: true`.
//! Text and reasoning deltas are passed on as they arrive; tool calls,
//! OpenRouter's `reasoning_details` and token usage at the end of the stream.
//! Failures before anything was passed on (HTTP 408/429/5xx, a dropped
//! connection, a timeout) are retried with exponential backoff, honouring
//! `Retry-After`; once a delta has been passed on a failure ends the turn,
//! since the agent has already shown part of the answer.
//!
//! The API key is sent as a bearer token and kept out of every error message
//! and `Debug` output.

mod request;
mod retry;
mod stream;
mod turn;
mod window;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{EngineError, Model, ModelStream, TurnRequest};

pub use stream::INVALID_ARGUMENTS_KEY;
pub use window::listed_window;

/// OpenRouter's API root.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// OpenAI's API root, the default for `openai:` when no other is given.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Time allowed for connecting and for the first byte of the answer.
/// Generous, because a local server may have a long prompt to prefill.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest silence allowed between two pieces of a streamed answer.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_MAX_RETRIES: u32 = 4;
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);

/// Which kind of server `--model PROVIDER:NAME` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Any OpenAI-compatible server: `openai:NAME`.
    OpenAi,
    /// OpenRouter: `openrouter:NAME`.
    OpenRouter,
}

impl Provider {
    /// The provider a `--model` prefix names (`openai`, `openrouter`).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "openai" => Some(Provider::OpenAi),
            "openrouter" => Some(Provider::OpenRouter),
            _ => None,
        }
    }

    /// The `--model` prefix of this provider.
    pub fn prefix(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::OpenRouter => "openrouter",
        }
    }

    /// The environment variable holding the API key.
    pub fn api_key_var(self) -> &'static str {
        match self {
            Provider::OpenAi => "OPENAI_API_KEY",
            Provider::OpenRouter => "OPENROUTER_API_KEY",
        }
    }
}

/// Everything the engine needs to reach a model.
#[derive(Clone)]
pub struct HttpConfig {
    pub provider: Provider,
    /// The API root, e.g. `http://localhost:8000/v1`, without a trailing `/`;
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; never printed.
    pub api_key: Option<String>,
    /// Send `{"chat_template_kwargs": {"enable_thinking": <thinking>,
    /// "clear_thinking": false}}`, which vLLM and SGLang pass to the chat
    /// template (GLM's and Qwen's templates read them).
    pub chat_template_kwargs: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Sent as `max_tokens`, the name every compatible server accepts.
    pub max_tokens: Option<u32>,
    /// Time allowed for connecting and for the first byte of the answer.
    pub request_timeout: Duration,
    /// Longest gap allowed between two chunks of the stream.
    pub idle_timeout: Duration,
    /// Further attempts after the first fails with a passing fault.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles with each one.
    pub retry_base_delay: Duration,
    /// The model's context window (`--max-context`); `None`: read from the
    /// server's model listing (see [`HttpModel::look_up_context_window`]).
    pub context_window: Option<u64>,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("chat_template_kwargs", &self.chat_template_kwargs)
            .field("temperature", &self.temperature)
            .field("top_p", &self.top_p)
            .field("max_tokens", &self.max_tokens)
            .field("request_timeout", &self.request_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("context_window", &self.context_window)
            .finish()
    }
}

impl HttpConfig {
    /// A configuration with default timeouts and retries and no key;
    /// `chat_template_kwargs` is on for servers other than OpenAI's and
    /// OpenRouter (where the field would be rejected or meaningless).
    pub fn new(provider: Provider, base_url: &str, model: &str) -> Self {
        let mut config = HttpConfig {
            provider,
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key: None,
            chat_template_kwargs: false,
            temperature: None,
            top_p: None,
            max_tokens: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_base_delay: DEFAULT_RETRY_BASE_DELAY,
            context_window: None,
        };
        config.chat_template_kwargs = provider == Provider::OpenAi && !config.is_openai_api();
        config
    }

    /// The configuration for `--model PROVIDER:MODEL [--base-url URL]`,
    /// reading keys and `OPENAI_BASE_URL` from the environment.
    ///
    /// - `openrouter`: base `base_url` or [`OPENROUTER_BASE_URL`]; the key
    ///   `OPENROUTER_API_KEY` is required.
    /// - `openai`: base `base_url`, else `OPENAI_BASE_URL`, else
    ///   [`OPENAI_BASE_URL`] (which then needs `OPENAI_API_KEY`); the key is
    ///   optional, since local servers rarely want one.
    pub fn from_env(
        provider: Provider,
        model: &str,
        base_url: Option<&str>,
    ) -> Result<Self, EngineError> {
        Self::from_vars(provider, model, base_url, |name| std::env::var(name).ok())
    }

    /// [`HttpConfig::from_env`] reading variables through `var` instead.
    pub fn from_vars(
        provider: Provider,
        model: &str,
        base_url: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EngineError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let model = model.trim();
        if model.is_empty() {
            return Err(EngineError::Backend(format!(
                "--model {}: a model name must follow `{}:`, e.g. {}",
                provider.prefix(),
                provider.prefix(),
                match provider {
                    Provider::OpenAi => "openai:zai-org/GLM-4.7-Flash",
                    Provider::OpenRouter => "openrouter:z-ai/glm-4.7",
                }
            )));
        }
        let base_url = base_url
            .map(str::to_string)
            .filter(|b| !b.trim().is_empty());
        let key_var = provider.api_key_var();
        let key = var(key_var).map(|k| k.trim().to_string());
        let base_url = match provider {
            Provider::OpenRouter => {
                if key.is_none() {
                    return Err(EngineError::Backend(format!(
                        "{key_var} is not set; create a key at https://openrouter.ai/keys and export {key_var}=..."
                    )));
                }
                base_url.unwrap_or_else(|| OPENROUTER_BASE_URL.to_string())
            }
            Provider::OpenAi => match base_url.or_else(|| var("OPENAI_BASE_URL")) {
                Some(base) => base,
                None if key.is_some() => OPENAI_BASE_URL.to_string(),
                None => {
                    return Err(EngineError::Backend(format!(
                        "--model openai:{model} needs --base-url URL (or OPENAI_BASE_URL), e.g. http://localhost:8000/v1 for a local vLLM server, or {key_var} to use api.openai.com"
                    )));
                }
            },
        };
        let base = base_url.trim();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(EngineError::Backend(format!(
                "--base-url {base}: it must start with http:// or https://, e.g. http://localhost:8000/v1"
            )));
        }
        let mut config = HttpConfig::new(provider, base, model);
        config.api_key = key;
        Ok(config)
    }

    /// Whether this is OpenAI's own API, which rejects the extra fields
    /// compatible servers accept.
    pub fn is_openai_api(&self) -> bool {
        self.base_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .is_some_and(|host| host.eq_ignore_ascii_case("api.openai.com"))
    }

    /// The URL each turn is posted to.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

/// A model behind an OpenAI-compatible Chat Completions endpoint.
#[derive(Clone)]
pub struct HttpModel {
    inner: Arc<turn::Shared>,
    /// The server's model listing, once read: the window, or why it is
    /// unknown.
    listed_window: Arc<OnceLock<Result<u64, String>>>,
}

impl fmt::Debug for HttpModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpModel")
            .field("config", &self.inner.config)
            .field("listed_window", &self.listed_window.get())
            .finish_non_exhaustive()
    }
}

impl HttpModel {
    pub fn new(config: HttpConfig) -> Result<Self, EngineError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("glint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                EngineError::Backend(format!(
                    "cannot set up the HTTP client: {}; this is a bug or a broken TLS setup",
                    retry::error_chain(&e)
                ))
            })?;
        Ok(HttpModel {
            inner: Arc::new(turn::Shared { config, client }),
            listed_window: Arc::new(OnceLock::new()),
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Reads the model's context window from the server's model listing
    /// (`GET {base_url}/models`), unless the configuration gives it; done
    /// once, when the model is opened. A listing that cannot be read or
    /// gives no length leaves the window unknown, and
    /// [`Model::context_window_notice`] says why.
    pub async fn look_up_context_window(&self) {
        if self.inner.config.context_window.is_some() || self.listed_window.get().is_some() {
            return;
        }
        let found = window::look_up(&self.inner).await;
        // A concurrent lookup may have set it first; both read the same.
        let _ = self.listed_window.set(found);
    }
}

impl Model for HttpModel {
    fn describe(&self) -> String {
        let config = &self.inner.config;
        format!("{}:{}", config.provider.prefix(), config.model)
    }

    fn stream_turn(&self, request: TurnRequest) -> ModelStream {
        turn::stream(self.inner.clone(), &request)
    }

    fn context_window(&self) -> Option<u64> {
        self.inner
            .config
            .context_window
            .or_else(|| self.listed_window.get()?.as_ref().ok().copied())
    }

    fn context_window_notice(&self) -> Option<String> {
        if self.context_window().is_some() {
            return None;
        }
        let why = match self.listed_window.get() {
            Some(Err(why)) => why.clone(),
            _ => "the server's model listing was not read".to_string(),
        };
        Some(format!(
            "automatic compaction is off: the context window of {} is unknown ({why}); pass --max-context TOKENS (the server's context length) to turn it on",
            self.describe()
        ))
    }
}
