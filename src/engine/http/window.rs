//! The model's context window over HTTP, which compaction works against.
//!
//! A server does not report the window with each turn (only the prompt's
//! tokens), so it is known from `--max-context` when given, else from the
//! server's model listing, `GET {base_url}/models`, read once when the
//! model is opened. Servers name it differently:
//! - vLLM and SGLang: `max_model_len` (the window the server was started
//!   with, `--max-model-len`);
//! - OpenRouter: `context_length` (and `top_provider.context_length`);
//! - llama.cpp forks that report the running context: `meta.n_ctx`
//!   (upstream llama.cpp reports only `meta.n_ctx_train`, the training
//!   length, which can exceed the server's `--ctx-size`: not used);
//! - others (LM Studio, proxies): `context_window`, `max_context_length`.
//!
//! mistral.rs's server and OpenAI's API list no length: then the window
//! stays unknown, and the agent says once that automatic compaction is
//! off until `--max-context` is set.

use std::time::Duration;

use serde_json::Value;

use super::retry;
use super::turn::Shared;

/// How long the listing may take: it is read before the first turn, and a
/// server that does not answer it must not hold glint up for long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The fields that hold a listed model's context window, most specific
/// first (a path into the model's entry).
const WINDOW_FIELDS: [&[&str]; 6] = [
    &["max_model_len"],
    &["context_length"],
    &["context_window"],
    &["max_context_length"],
    &["meta", "n_ctx"],
    &["top_provider", "context_length"],
];

/// Reads the context window of the configured model from the server's
/// listing; the error says in a few words why it is unknown.
pub(super) async fn look_up(shared: &Shared) -> Result<u64, String> {
    let config = &shared.config;
    let url = format!("{}/models", config.base_url);
    let mut request = shared.client.get(&url).timeout(LOOKUP_TIMEOUT);
    if let Some(key) = &config.api_key {
        request = request.bearer_auth(key);
    }
    let redact = |text: String| match &config.api_key {
        Some(key) if !key.is_empty() => text.replace(key.as_str(), "<redacted>"),
        _ => text,
    };
    let response = request
        .send()
        .await
        .map_err(|error| redact(format!("GET {url} failed: {}", retry::error_chain(&error))))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered HTTP {}", status.as_u16()));
    }
    let body = response.bytes().await.map_err(|error| {
        redact(format!(
            "reading GET {url} failed: {}",
            retry::error_chain(&error)
        ))
    })?;
    let listing: Value = serde_json::from_slice(&body)
        .map_err(|_| format!("GET {url} did not answer with a JSON model list"))?;
    listed_window(&listing, &config.model)
        .ok_or_else(|| format!("{url} gives no context length for {}", config.model))
}

/// The context window a model listing (`{"data": [{"id": ...}, ...]}`)
/// gives for `model`. A server that lists one model serves it whatever
/// name a request uses (llama.cpp), so a single entry counts as `model`.
pub fn listed_window(listing: &Value, model: &str) -> Option<u64> {
    let data = listing.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|entry| entry.get("id").and_then(Value::as_str) == Some(model))
        .or(match data.as_slice() {
            [only] => Some(only),
            _ => None,
        })?;
    WINDOW_FIELDS.iter().find_map(|path| {
        let value = path.iter().try_fold(entry, |value, key| value.get(*key))?;
        value.as_u64().filter(|&tokens| tokens > 0)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_servers_field_is_read() {
        let vllm = json!({"object": "list", "data": [
            {"id": "other", "object": "model", "max_model_len": 4096},
            {"id": "zai-org/GLM-4.7-Flash", "object": "model", "owned_by": "vllm",
             "root": "zai-org/GLM-4.7-Flash", "max_model_len": 65536}]});
        assert_eq!(listed_window(&vllm, "zai-org/GLM-4.7-Flash"), Some(65536));
        let openrouter = json!({"data": [{"id": "z-ai/glm-4.7", "context_length": 202752,
            "top_provider": {"context_length": 131072, "max_completion_tokens": 4096}}]});
        assert_eq!(listed_window(&openrouter, "z-ai/glm-4.7"), Some(202752));
        let only_provider =
            json!({"data": [{"id": "m", "top_provider": {"context_length": 8192}}]});
        assert_eq!(listed_window(&only_provider, "m"), Some(8192));
        let llama_fork = json!({"data": [{"id": "glm.gguf",
            "meta": {"n_ctx": 32768, "n_ctx_train": 131072}}]});
        assert_eq!(
            listed_window(&llama_fork, "whatever"),
            Some(32768),
            "one model: it"
        );
    }

    #[test]
    fn a_listing_without_a_length_for_the_model_gives_none() {
        let upstream_llama = json!({"data": [{"id": "glm.gguf", "meta": {"n_ctx_train": 131072}}]});
        assert_eq!(listed_window(&upstream_llama, "glm.gguf"), None);
        let openai = json!({"data": [{"id": "gpt-4o", "owned_by": "system"},
                                     {"id": "gpt-4.1", "owned_by": "system"}]});
        assert_eq!(listed_window(&openai, "gpt-4o"), None);
        let two =
            json!({"data": [{"id": "a", "max_model_len": 1}, {"id": "b", "max_model_len": 2}]});
        assert_eq!(
            listed_window(&two, "c"),
            None,
            "another model's length is not used"
        );
        assert_eq!(
            listed_window(&json!({"data": [{"id": "m", "max_model_len": 0}]}), "m"),
            None
        );
        assert_eq!(listed_window(&json!({"error": "no"}), "m"), None);
    }
}
