//! `--model` values.

use std::path::PathBuf;

/// Which engine and model `--model` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// `script:PATH`: replay raw completions from a JSON file.
    Script(PathBuf),
    /// `openai:NAME` or `openrouter:NAME`: an OpenAI-compatible server.
    Http { provider: String, name: String },
    /// A Hugging Face id, a local directory or a `.gguf` file, run in-process.
    Local(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelSpecError {
    #[error("--model is empty; pass a Hugging Face id, a local path, or script:FILE")]
    Empty,
    #[error("--model {0}: a path must follow `script:`, e.g. script:tests/scripts/answer.json")]
    EmptyScriptPath(String),
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
        for provider in ["openai", "openrouter"] {
            if let Some(name) = value
                .strip_prefix(provider)
                .and_then(|r| r.strip_prefix(':'))
            {
                return Ok(ModelSpec::Http {
                    provider: provider.to_string(),
                    name: name.to_string(),
                });
            }
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
}

/// Opens the model `spec` names.
pub fn open(spec: &ModelSpec) -> Result<std::sync::Arc<dyn super::Model>, OpenError> {
    match spec {
        ModelSpec::Script(path) => {
            let script = super::scripted::ScriptedModel::load(path)?;
            Ok(std::sync::Arc::new(super::GlmModel::new(script)))
        }
        ModelSpec::Http { provider, name } => Err(ModelSpecError::EngineNotBuilt(
            format!("{provider}:{name}"),
            "OpenAI-compatible HTTP",
        )
        .into()),
        ModelSpec::Local(name) => {
            Err(ModelSpecError::EngineNotBuilt(name.clone(), "local (mistralrs)").into())
        }
    }
}
