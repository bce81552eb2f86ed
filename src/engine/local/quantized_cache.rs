//! glint's cache of quantized weights: a model loaded with `--isq` is
//! quantized in place (mistralrs's ISQ) on its first start and written in
//! mistralrs's own UQFF format under `~/.cache/glint/quantized/`; later starts
//! with the same weights, ISQ level and device kind load that copy instead
//! of quantizing again.
//!
//! An entry is one directory per model, level and device kind, holding
//! mistralrs's UQFF shards, its `residual.safetensors` (norms, embeddings,
//! the router), the model's small files (config, tokenizer) and `entry.json`:
//! the key it was made for and the size of each file. The key names the
//! engine (mistralrs and glint's patches to it), the level, the device kind
//! and every file of the checkpoint (name, size, modification time), so a
//! changed checkpoint or engine never loads a stale copy. An entry is written
//! in a temporary directory and renamed into place once complete, so a first
//! start that is interrupted leaves no half entry.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::options::IsqChoice;

/// What identifies the engine's on-disk format: mistralrs's version and
/// glint's patches to it (their stamps, written by patches/prepare.sh). A
/// mistralrs upgrade renames these paths, so this line must be revisited.
const ENGINE: &str = concat!(
    "mistralrs 0.8.1; core patches ",
    include_str!("../../../.patched/mistralrs-core-0.8.1/.glint-patches"),
    "; quant patches ",
    include_str!("../../../.patched/mistralrs-quant-0.8.1/.glint-patches"),
);

/// The name mistralrs gives the UQFF shards it writes: `weights-0.uqff`, ...
const UQFF_STEM: &str = "weights";
/// The entry's description, written last into the temporary directory.
const ENTRY_FILE: &str = "entry.json";

/// Where quantized copies are kept, or that they are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantizedCache {
    root: Option<PathBuf>,
}

impl Default for QuantizedCache {
    /// `$XDG_CACHE_HOME/glint/quantized` (`~/.cache/glint/quantized`); off
    /// where there is no cache directory.
    fn default() -> Self {
        QuantizedCache {
            root: dirs::cache_dir().map(|dir| dir.join("glint").join("quantized")),
        }
    }
}

impl QuantizedCache {
    /// No cache: every `--isq` start quantizes (`--no-quantized-cache`).
    pub fn off() -> Self {
        QuantizedCache { root: None }
    }

    /// Entries kept in `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        QuantizedCache {
            root: Some(root.into()),
        }
    }

    /// The directory entries are kept in; `None` when off.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }
}

/// What a load did with the cache, as [`super::LocalEngine`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantizedCacheUse {
    /// Not involved: no ISQ, a GGUF, or the cache is off.
    Unused,
    /// The quantized copy in `dir` was loaded; nothing was quantized.
    Read { dir: PathBuf },
    /// The weights were quantized and their copy written to `dir`
    /// (`bytes` in all); `replaced` says why an earlier entry was not used.
    Written {
        dir: PathBuf,
        bytes: u64,
        replaced: Option<String>,
    },
    /// The weights were quantized but not kept, for `reason`.
    NotWritten { reason: String },
}

/// Errors reading or writing an entry; each says what happened to what.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: io::Error },
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error("{0} is not a quantized copy glint wrote (no valid entry.json)")]
    NoEntry(PathBuf),
    #[error("{path} has {actual} bytes where {expected} were written")]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
}

/// One checkpoint file as the key records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    size: u64,
    modified_ns: u128,
}

/// What an entry was made from: equal keys, interchangeable weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    engine: String,
    isq: String,
    /// `cpu`, `cuda` or `metal`: mistralrs lays the MoE experts out per
    /// device kind (one layer per expert on CPU, fused on a GPU) and keeps
    /// the unquantized tensors in that device's dtype.
    device: String,
    /// The checkpoint directory's files by name.
    files: BTreeMap<String, FileStamp>,
}

impl CacheKey {
    /// The key of the checkpoint in `dir` loaded at `isq` on `device`.
    pub fn of(dir: &Path, isq: IsqChoice, device: &str) -> Result<Self, CacheError> {
        let read_error = |error| CacheError::Read {
            path: dir.to_path_buf(),
            error,
        };
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // Hub snapshots are symlinks into the blob store: follow them.
            let path = entry.path();
            let metadata = std::fs::metadata(&path).map_err(|error| CacheError::Read {
                path: path.clone(),
                error,
            })?;
            if !metadata.is_file() {
                continue;
            }
            let modified_ns = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            files.insert(
                name,
                FileStamp {
                    size: metadata.len(),
                    modified_ns,
                },
            );
        }
        Ok(CacheKey {
            engine: ENGINE.split_whitespace().collect::<Vec<_>>().join(" "),
            isq: isq.name().to_string(),
            device: device.to_string(),
            files,
        })
    }
}

/// `entry.json`: the key and the size of every file the entry holds.
#[derive(Debug, Serialize, Deserialize)]
struct EntryFile {
    key: CacheKey,
    files: BTreeMap<String, u64>,
    /// Why mistralrs could not write a copy for this key: later starts
    /// quantize without trying again (each try costs a second load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unwritable: Option<String>,
}

/// The entry directory for `model` (as `--model` named it, resolved to
/// `dir` on disk) at `isq` on `device`: one per model, level and device
/// kind, so a changed checkpoint replaces its entry rather than adding one.
pub fn entry_dir(
    root: &Path,
    model: &str,
    dir: Option<&Path>,
    isq: IsqChoice,
    device: &str,
) -> PathBuf {
    let readable = crate::file_names::readable_file_name(Path::new(model));
    // Two directories with the same last name must not share an entry;
    // a hash of the full path (or Hub id) keeps them apart.
    let full = dir
        .and_then(|d| d.canonicalize().ok())
        .map_or_else(|| model.to_string(), |d| d.display().to_string());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    full.hash(&mut hasher);
    root.join(format!(
        "{readable}-{:016x}-{}-{device}",
        hasher.finish(),
        isq.name()
    ))
}

/// A complete entry for `key` in `dir`, ready for mistralrs.
#[derive(Debug, Clone)]
pub struct CachedCopy {
    pub dir: PathBuf,
    /// The UQFF shards' file names, in order.
    pub shards: Vec<String>,
}

/// What an entry for the key holds.
#[derive(Debug, Clone)]
pub enum Found {
    Copy(CachedCopy),
    /// mistralrs could not write a copy of these weights, for this reason.
    Unwritable(String),
}

/// Looks `dir` up for `key`: `Ok(None)` when there is no entry or it was
/// made from other weights or another engine (then it will be replaced);
/// an error when an entry for this key is damaged (a file missing or cut
/// short).
pub fn lookup(dir: &Path, key: &CacheKey) -> Result<Option<Found>, CacheError> {
    let entry_path = dir.join(ENTRY_FILE);
    let text = match std::fs::read_to_string(&entry_path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(CacheError::Read {
                path: entry_path,
                error,
            });
        }
    };
    let entry: EntryFile =
        serde_json::from_str(&text).map_err(|_| CacheError::NoEntry(dir.to_path_buf()))?;
    if entry.key != *key {
        return Ok(None);
    }
    if let Some(reason) = entry.unwritable {
        return Ok(Some(Found::Unwritable(reason)));
    }
    for (name, &expected) in &entry.files {
        let path = dir.join(name);
        let actual = std::fs::metadata(&path)
            .map_err(|error| CacheError::Read {
                path: path.clone(),
                error,
            })?
            .len();
        if actual != expected {
            return Err(CacheError::Truncated {
                path,
                expected,
                actual,
            });
        }
    }
    let shards = shard_names(entry.files.keys());
    if shards.is_empty() {
        return Err(CacheError::NoEntry(dir.to_path_buf()));
    }
    Ok(Some(Found::Copy(CachedCopy {
        dir: dir.to_path_buf(),
        shards,
    })))
}

/// `weights-N.uqff` among `names`, by N.
fn shard_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut shards: Vec<(u64, String)> = names
        .filter_map(|name| {
            let n = name
                .strip_prefix(UQFF_STEM)?
                .strip_prefix('-')?
                .strip_suffix(".uqff")?
                .parse()
                .ok()?;
            Some((n, name.clone()))
        })
        .collect();
    shards.sort();
    shards.into_iter().map(|(_, name)| name).collect()
}

/// An entry being written: mistralrs writes into a temporary directory
/// beside the final one, which [`PendingCopy::commit`] renames into place.
/// Dropped uncommitted (a failed load), it is removed.
pub struct PendingCopy {
    temp: tempfile::TempDir,
    target: PathBuf,
}

impl PendingCopy {
    /// Starts writing the entry `target`.
    pub fn begin(target: &Path) -> Result<Self, CacheError> {
        let root = target.parent().unwrap_or(Path::new("."));
        let write_error = |error| CacheError::Write {
            path: root.to_path_buf(),
            error,
        };
        std::fs::create_dir_all(root).map_err(write_error)?;
        remove_abandoned(root);
        let temp = tempfile::Builder::new()
            .prefix(&format!(".partial-{}-", std::process::id()))
            .tempdir_in(root)
            .map_err(write_error)?;
        Ok(PendingCopy {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// Where mistralrs is told to write the UQFF file (`write_uqff`).
    pub fn uqff_path(&self) -> PathBuf {
        self.temp.path().join(format!("{UQFF_STEM}.uqff"))
    }

    /// Completes the entry after a load that wrote it: the checkpoint's own
    /// small files from `checkpoint` (the tokenizer exactly as shipped), the
    /// entry file for `key`, then the rename that makes it visible. Returns
    /// the entry's directory and its size in bytes.
    pub fn commit(self, checkpoint: &Path, key: &CacheKey) -> Result<(PathBuf, u64), CacheError> {
        let dir = self.temp.path();
        copy_small_files(checkpoint, dir)?;
        let mut files = BTreeMap::new();
        let read_error = |error| CacheError::Read {
            path: dir.to_path_buf(),
            error,
        };
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let size = entry.metadata().map_err(read_error)?.len();
            files.insert(entry.file_name().to_string_lossy().into_owned(), size);
        }
        if shard_names(files.keys()).is_empty() {
            return Err(CacheError::NoEntry(dir.to_path_buf()));
        }
        let bytes = files.values().sum();
        let entry = EntryFile {
            key: key.clone(),
            files,
            unwritable: None,
        };
        Ok((self.publish(&entry)?, bytes))
    }

    /// Records that mistralrs could not write a copy for `key` (`reason`),
    /// in place of what it left, so later starts do not try again.
    pub fn give_up(self, key: &CacheKey, reason: &str) -> Result<PathBuf, CacheError> {
        let dir = self.temp.path();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        self.publish(&EntryFile {
            key: key.clone(),
            files: BTreeMap::new(),
            unwritable: Some(reason.to_string()),
        })
    }

    /// Writes `entry` into the temporary directory and renames it into
    /// place.
    fn publish(self, entry: &EntryFile) -> Result<PathBuf, CacheError> {
        let dir = self.temp.path();
        let entry_path = dir.join(ENTRY_FILE);
        let text = serde_json::to_string_pretty(entry).unwrap_or_default();
        std::fs::write(&entry_path, text).map_err(|error| CacheError::Write {
            path: entry_path,
            error,
        })?;
        // The old entry, if any, goes first (a directory cannot be renamed
        // over a non-empty one); a start in between finds none and quantizes.
        let write_error = |error| CacheError::Write {
            path: self.target.clone(),
            error,
        };
        if self.target.exists() {
            let old = self
                .target
                .with_extension(format!("old-{}", std::process::id()));
            std::fs::rename(&self.target, &old).map_err(write_error)?;
            let _ = std::fs::remove_dir_all(&old);
        }
        let temp = self.temp.keep();
        if let Err(error) = std::fs::rename(&temp, &self.target) {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(write_error(error));
        }
        Ok(self.target)
    }
}

/// Copies `from`'s files other than weights (config, tokenizer, templates)
/// into `to`, replacing what mistralrs wrote there: its `tokenizer.json` is
/// the tokenizer re-serialized, where the shipped one is what glint has
/// always loaded. Weight files and shard indexes stay out: mistralrs would
/// look for the weights they name.
fn copy_small_files(from: &Path, to: &Path) -> Result<(), CacheError> {
    let read_error = |error| CacheError::Read {
        path: from.to_path_buf(),
        error,
    };
    for entry in std::fs::read_dir(from).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_weights = [
            ".safetensors",
            ".index.json",
            ".bin",
            ".pt",
            ".pth",
            ".gguf",
        ]
        .iter()
        .any(|ext| name.ends_with(ext));
        let path = entry.path();
        if is_weights || name.starts_with('.') || !path.is_file() {
            continue;
        }
        std::fs::copy(&path, to.join(&name)).map_err(|error| CacheError::Write {
            path: to.join(&name),
            error,
        })?;
    }
    Ok(())
}

/// Removes what a killed first start left in `root`: temporary entries whose
/// process has ended.
fn remove_abandoned(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(".partial-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok());
        if let Some(pid) = pid
            && !crate::pids::is_running(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
