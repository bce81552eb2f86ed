//! `--model` values.

use std::path::PathBuf;

use super::http::{HttpConfig, HttpModel, Provider};

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
    #[error(
        "--model {0}: this build of glint has no {1} engine yet; use --model script:FILE to replay a scripted model"
    )]
    EngineNotBuilt(String, &'static str),
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

/// Opens the model `spec` names; `base_url` is `--base-url`, for HTTP engines.
pub fn open(
    spec: &ModelSpec,
    base_url: Option<&str>,
) -> Result<std::sync::Arc<dyn super::Model>, OpenError> {
    match spec {
        ModelSpec::Script(path) => {
            let script = super::scripted::ScriptedModel::load(path)?;
            Ok(std::sync::Arc::new(super::GlmModel::new(script)))
        }
        ModelSpec::Http { provider, name } => {
            let config = HttpConfig::from_env(*provider, name, base_url)?;
            Ok(std::sync::Arc::new(HttpModel::new(config)?))
        }
        ModelSpec::Local(name) => {
            Err(ModelSpecError::EngineNotBuilt(name.clone(), "local (mistralrs)").into())
        }
    }
}
