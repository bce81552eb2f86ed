//! Where a local model comes from, checked before mistralrs sees it.
//!
//! mistralrs 0.8.1 looks a missing local path up on Hugging Face (failing
//! with a DNS error offline), and loads some checkpoints it cannot run; these
//! checks turn such cases into one-line errors that say what to do.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::memory::Weights;

/// A model named by `--model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// `owner/name` on Hugging Face (downloaded into, or read from, its cache).
    Hub(String),
    /// A directory with `config.json`, safetensors and `tokenizer.json`.
    Directory(PathBuf),
    /// A single GGUF file (weights, tokenizer and chat template in one).
    Gguf(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "model path {0} does not exist; pass an existing directory or .gguf file, or a Hugging Face id like zai-org/GLM-4.7-Flash"
    )]
    MissingPath(String),
    #[error(
        "--model {0} is neither an existing path nor a Hugging Face id (owner/name); check the spelling"
    )]
    NotAnId(String),
    #[error(
        "{0} has no config.json; a model directory needs config.json, *.safetensors and tokenizer.json"
    )]
    NoConfig(String),
    #[error("{path} is not valid JSON ({message}); re-download the model")]
    BadConfig { path: String, message: String },
    #[error(
        "{id} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set; download it on a connected machine with `huggingface-cli download {id}` and copy the cache, or pass a local directory"
    )]
    NotCached { id: String, cache: String },
    #[error("{0}")]
    Unsupported(String),
}

impl ModelSource {
    /// Classifies `--model`: an existing path, something that can only be a
    /// path (then it must exist), or a Hugging Face id.
    pub fn parse(value: &str) -> Result<Self, SourceError> {
        let path = Path::new(value);
        if path.is_dir() {
            return Ok(ModelSource::Directory(path.to_path_buf()));
        }
        if path.is_file() {
            if has_gguf_extension(path) {
                return Ok(ModelSource::Gguf(path.to_path_buf()));
            }
            return Err(SourceError::Unsupported(format!(
                "{value} is a file but not a .gguf; pass a .gguf file or a model directory"
            )));
        }
        let looks_like_path = value.starts_with('/')
            || value.starts_with('.')
            || value.starts_with('~')
            || has_gguf_extension(path)
            || value.matches('/').count() != 1;
        if looks_like_path {
            return Err(SourceError::MissingPath(value.to_string()));
        }
        let valid_part = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match value.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {
                Ok(ModelSource::Hub(value.to_string()))
            }
            _ => Err(SourceError::NotAnId(value.to_string())),
        }
    }

    /// The directory holding the model's files on this machine: the given
    /// directory, or a Hub model's snapshot in the cache once downloaded.
    pub fn local_dir(&self) -> Option<PathBuf> {
        match self {
            ModelSource::Directory(dir) => Some(dir.clone()),
            ModelSource::Gguf(_) => None,
            ModelSource::Hub(id) => {
                let snapshots =
                    super::download::cache_entry(&hub_cache_dir()?, id).join("snapshots");
                let first = std::fs::read_dir(snapshots).ok()?.flatten().next()?;
                Some(first.path())
            }
        }
    }

    /// Bytes of weights a local model loads (safetensors shards or the
    /// GGUF file); `None` for a Hub model not downloaded yet.
    pub fn local_size(&self) -> Option<u64> {
        self.local_weights().map(|w| w.file_bytes)
    }

    /// The weights of a model on this machine: a GGUF's bytes, or the
    /// safetensors shards' bytes and parameter count (from their headers,
    /// read without the data); `None` for a Hub model not downloaded yet.
    pub fn local_weights(&self) -> Option<Weights> {
        if let ModelSource::Gguf(path) = self {
            let file_bytes = std::fs::metadata(path).ok()?.len();
            return Some(Weights {
                file_bytes,
                params: None,
            });
        }
        let entries = std::fs::read_dir(self.local_dir()?).ok()?;
        let mut weights = Weights {
            file_bytes: 0,
            params: Some(0),
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_none_or(|x| x != "safetensors") {
                continue;
            }
            // Hub snapshots are symlinks into the blob store: follow them.
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            weights.file_bytes += metadata.len();
            // A shard whose header cannot be read counts as bf16; loading
            // it will say what is wrong.
            let params = safetensors_parameters(&path).unwrap_or(metadata.len() / 2);
            weights.params = weights.params.map(|p| p + params);
        }
        Some(weights)
    }

    /// The model's `config.json`, when its files are on this machine.
    pub fn config(&self) -> Result<Option<Value>, SourceError> {
        let Some(dir) = self.local_dir() else {
            return Ok(None);
        };
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|_| SourceError::NoConfig(dir.display().to_string()))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SourceError::BadConfig {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }
}

impl ModelSource {
    /// With `HF_HUB_OFFLINE` set, a Hub model must already be in the local
    /// cache; say so now rather than after a failed download attempt.
    pub fn check_offline_cache(&self) -> Result<(), SourceError> {
        let ModelSource::Hub(id) = self else {
            return Ok(());
        };
        let offline = hub_offline();
        let Some(cache) = hub_cache_dir() else {
            return Ok(());
        };
        let entry = cache.join(format!("models--{}", id.replace('/', "--")));
        if offline && !entry.is_dir() {
            return Err(SourceError::NotCached {
                id: id.clone(),
                cache: cache.display().to_string(),
            });
        }
        Ok(())
    }
}

/// Whether `HF_HUB_OFFLINE` forbids asking the Hub.
pub(super) fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, `$HF_HOME/hub`, or
/// `~/.cache/huggingface/hub`.
pub(super) fn hub_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(home).join("hub"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/huggingface/hub"))
}

/// Parameters in a safetensors file, from its header (an 8-byte length,
/// then JSON naming each tensor's dtype and shape).
fn safetensors_parameters(path: &Path) -> Option<u64> {
    use std::io::Read;

    /// safetensors' own limit on the header.
    const MAX_HEADER: u64 = 100_000_000;
    let mut file = std::fs::File::open(path).ok()?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).ok()?;
    let length = u64::from_le_bytes(length);
    if length > MAX_HEADER {
        return None;
    }
    let mut header = Vec::new();
    file.take(length).read_to_end(&mut header).ok()?;
    let metadata: safetensors::tensor::Metadata = serde_json::from_slice(&header).ok()?;
    Some(
        metadata
            .tensors()
            .values()
            .map(|info| info.shape.iter().map(|&d| d as u64).product::<u64>())
            .sum(),
    )
}

fn has_gguf_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gguf"))
}

/// Checks a `glm4_moe_lite` checkpoint for what mistralrs 0.8.1 cannot run:
/// a value head size other than `qk_nope + qk_rope` (it assumes they are
/// equal). Routed experts stored per expert (the official layout) load on
/// every device since glint's mistralrs-quant patch 0001.
pub fn check_glm4_moe_lite(dir: &Path, config: &Value) -> Result<(), SourceError> {
    if config.get("model_type").and_then(Value::as_str) != Some("glm4_moe_lite") {
        return Ok(());
    }
    let dim = |key: &str| config.get(key).and_then(Value::as_u64);
    if let (Some(nope), Some(rope), Some(v)) = (
        dim("qk_nope_head_dim"),
        dim("qk_rope_head_dim"),
        dim("v_head_dim"),
    ) && v != nope + rope
    {
        return Err(SourceError::Unsupported(format!(
            "{}: v_head_dim {v} differs from qk_nope_head_dim + qk_rope_head_dim = {}; the mistralrs engine supports glm4_moe_lite only when they are equal (as in GLM-4.7-Flash)",
            dir.display(),
            nope + rope
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_model_names() {
        assert_eq!(
            ModelSource::parse("zai-org/GLM-4.7-Flash"),
            Ok(ModelSource::Hub("zai-org/GLM-4.7-Flash".into()))
        );
        assert!(matches!(
            ModelSource::parse("./missing-model"),
            Err(SourceError::MissingPath(_))
        ));
        assert!(matches!(
            ModelSource::parse("/no/such/dir"),
            Err(SourceError::MissingPath(_))
        ));
        assert!(matches!(
            ModelSource::parse("model.gguf"),
            Err(SourceError::MissingPath(_))
        ));
        assert!(matches!(
            ModelSource::parse("a/b/c"),
            Err(SourceError::MissingPath(_))
        ));
        assert!(matches!(
            ModelSource::parse("bad id/x"),
            Err(SourceError::NotAnId(_))
        ));
    }

    #[test]
    fn a_directorys_weights_are_counted_from_the_safetensors_headers() {
        use safetensors::Dtype;
        use safetensors::tensor::TensorView;

        let dir = tempfile::tempdir().expect("temp dir");
        let matrix = vec![0u8; 3 * 4 * 2];
        let vector = vec![0u8; 5 * 4];
        let views = [
            (
                "w",
                TensorView::new(Dtype::BF16, vec![3, 4], &matrix).expect("view"),
            ),
            (
                "b",
                TensorView::new(Dtype::F32, vec![5], &vector).expect("view"),
            ),
        ];
        let shard = dir.path().join("model.safetensors");
        safetensors::serialize_to_file(views, None, &shard).expect("written");
        std::fs::write(dir.path().join("config.json"), "{}").expect("written");
        let weights = ModelSource::Directory(dir.path().to_path_buf())
            .local_weights()
            .expect("measured");
        let file_bytes = std::fs::metadata(&shard).expect("exists").len();
        assert_eq!(
            weights,
            Weights {
                file_bytes,
                params: Some(17)
            }
        );
        // A shard that is not safetensors at all counts as bf16 bytes.
        std::fs::write(dir.path().join("broken.safetensors"), [0xffu8; 40]).expect("written");
        let weights = ModelSource::Directory(dir.path().to_path_buf())
            .local_weights()
            .expect("measured");
        assert_eq!(weights.file_bytes, file_bytes + 40);
        assert_eq!(weights.params, Some(17 + 20));
    }
}
