//! Download progress for Hugging Face models.
//!
//! mistralrs fetches weights through hf-hub and draws its own progress bars;
//! it has no progress callback. glint instead watches the files grow in the
//! Hugging Face cache and asks the Hub once for the total size, so front ends
//! can show bytes done of bytes total.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::memory::Weights;

/// How often the cache is measured while a download runs.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Bytes of a model in the Hub cache so far, and its total when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    pub done: u64,
    pub total: Option<u64>,
}

/// The Hub endpoint: `$HF_ENDPOINT`, as hf-hub reads it, else the public Hub.
fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
        .trim_end_matches('/')
        .to_string()
}

/// What the Hub says about a model before any of it is downloaded: enough
/// to refuse a load that cannot fit before fetching gigabytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubFacts {
    /// Bytes of the files a load fetches, for download progress.
    pub total: Option<u64>,
    /// The safetensors weights: bytes from the file listing, parameters
    /// from the model's metadata (else counted as bf16).
    pub weights: Option<Weights>,
    /// The model's `config.json`.
    pub config: Option<Value>,
}

/// Asks the Hub for the file listing, the model's metadata and its
/// `config.json`, together; what cannot be had (offline, private without a
/// token, a slow answer) is `None`.
pub async fn hub_facts(model_id: &str) -> HubFacts {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    else {
        return HubFacts::default();
    };
    let base = endpoint();
    let (listing, info, config) = tokio::join!(
        get_json(
            &client,
            format!("{base}/api/models/{model_id}/tree/main?recursive=true")
        ),
        get_json(&client, format!("{base}/api/models/{model_id}")),
        get_json(
            &client,
            format!("{base}/{model_id}/resolve/main/config.json")
        ),
    );
    let files: Vec<(&str, u64)> = listing
        .as_ref()
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|entry| entry.get("type").and_then(Value::as_str) == Some("file"))
                .filter_map(|entry| {
                    let path = entry.get("path").and_then(Value::as_str)?;
                    let size = entry.get("size").and_then(Value::as_u64)?;
                    Some((path, size))
                })
                .filter(|(path, _)| is_model_file(path))
                .collect()
        })
        .unwrap_or_default();
    let total = listing
        .is_some()
        .then(|| files.iter().map(|(_, size)| size).sum());
    let weight_bytes: u64 = files
        .iter()
        .filter(|(path, _)| path.ends_with(".safetensors"))
        .map(|(_, size)| size)
        .sum();
    let params = info
        .as_ref()
        .and_then(|i| i.pointer("/safetensors/total"))
        .and_then(Value::as_u64);
    let weights = (weight_bytes > 0).then(|| Weights {
        file_bytes: weight_bytes,
        params: Some(params.unwrap_or(weight_bytes / 2)),
    });
    HubFacts {
        total,
        weights,
        config,
    }
}

async fn get_json(client: &reqwest::Client, url: String) -> Option<Value> {
    let mut request = client.get(url);
    if let Ok(token) = std::env::var("HF_TOKEN") {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()
}

/// The files a model load fetches: weights, configs and tokenizer files.
fn is_model_file(path: &str) -> bool {
    path.ends_with(".safetensors") || path.ends_with(".json") || path.ends_with(".model")
}

/// Total size of the regular files under `dir` (a missing one is empty).
pub fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => directory_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The cache directory of `model_id` under the hub cache `cache`.
pub fn cache_entry(cache: &Path, model_id: &str) -> PathBuf {
    cache.join(format!("models--{}", model_id.replace('/', "--")))
}

/// Reports the size of `entry`'s blobs every [`POLL_INTERVAL`] until `stop`
/// fires, calling `report` only when it changed.
pub async fn watch(
    entry: PathBuf,
    total: Option<u64>,
    report: Arc<dyn Fn(DownloadProgress) + Send + Sync>,
    stop: CancellationToken,
) {
    let blobs = entry.join("blobs");
    let mut last = None;
    loop {
        let done = directory_size(&blobs);
        if last != Some(done) {
            report(DownloadProgress { done, total });
            last = Some(done);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn model_files_are_weights_configs_and_tokenizers() {
        assert!(is_model_file("model-00001-of-00048.safetensors"));
        assert!(is_model_file("tokenizer.json"));
        assert!(is_model_file("tokenizer.model"));
        assert!(!is_model_file("README.md"));
        assert!(!is_model_file("original/consolidated.pth"));
    }

    #[tokio::test]
    async fn the_watcher_reports_growth_until_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let entry = cache_entry(dir.path(), "owner/name");
        std::fs::create_dir_all(entry.join("blobs")).expect("mkdir");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch(
            entry.clone(),
            Some(300),
            Arc::new(move |p| sink.lock().expect("lock").push(p)),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::fs::write(entry.join("blobs/a.incomplete"), vec![0u8; 100]).expect("write");
        tokio::time::sleep(POLL_INTERVAL + Duration::from_millis(200)).await;
        stop.cancel();
        task.await.expect("joined");
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(
            seen.first(),
            Some(&DownloadProgress {
                done: 0,
                total: Some(300)
            })
        );
        assert_eq!(
            seen.last(),
            Some(&DownloadProgress {
                done: 100,
                total: Some(300)
            })
        );
    }
}
