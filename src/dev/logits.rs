//! `glint dev logits`: teacher-forced logits over a given token sequence,
//! to compare the engine position by position with another implementation
//! (transformers) on the same checkpoint.
//!
//! Row `i` is the prediction after `ids[0..=i]`: the first step's logits of
//! a request whose prompt is exactly those ids, ended right after that step
//! (its sampled token forced to a stop token, so nothing else runs). With
//! the prefix cache each request finds the previous one's rows and prefills
//! one token, so the sequence costs one token per position (with
//! PagedAttention, whose cache holds whole blocks, at most a block).
//! The rows are written as they come, so memory holds one row at a time.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::dev::steps::{self, Watch};
use crate::engine::EngineError;
use crate::engine::local::{LoadProgress, LocalEngine};
use crate::headless::exit;

/// The stop token a request is ended with.
const STOP: &str = "<|endoftext|>";

/// What `PREFIX.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogitsDump {
    pub positions: usize,
    pub vocab: usize,
    pub ids: Vec<u32>,
    /// At each position, the token mistralrs's greedy sampler picks from
    /// that row (the last of equal maxima).
    pub argmax: Vec<u32>,
}

/// Why the dump could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LogitsError {
    #[error("{path}: {detail}")]
    Ids { path: String, detail: String },
    #[error(
        "token id {id} at position {position} is outside the model's vocabulary of {vocab}; the ids must come from this model's tokenizer"
    )]
    OutsideVocabulary {
        id: u32,
        position: usize,
        vocab: usize,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Token ids from whitespace-separated text; `path` names the file in
/// errors.
pub fn parse_ids(text: &str, path: &Path) -> Result<Vec<u32>, LogitsError> {
    let bad = |detail: String| LogitsError::Ids {
        path: path.display().to_string(),
        detail,
    };
    let ids = text
        .split_whitespace()
        .enumerate()
        .map(|(n, word)| {
            word.parse::<u32>().map_err(|_| {
                bad(format!(
                    "`{word}` (word {}) is not a token id; write whitespace-separated non-negative integers",
                    n + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(bad("holds no token ids".into()));
    }
    Ok(ids)
}

/// `PREFIX` with `suffix` appended (`out/run` → `out/run.f32`).
pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(prefix.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Runs the sequence through `engine` (greedy, with the prefix cache) and
/// writes each position's logit row to `rows` as little-endian f32.
pub async fn dump(
    engine: &LocalEngine,
    ids: &[u32],
    rows: &mut dyn Write,
    rows_path: &Path,
) -> Result<LogitsDump, LogitsError> {
    let stop = steps::single_token(engine, STOP).await?;
    let vocab = vocabulary(engine, stop).await?;
    if let Some((position, &id)) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| **id as usize >= vocab)
    {
        return Err(LogitsError::OutsideVocabulary {
            id,
            position,
            vocab,
        });
    }
    let mut argmax = Vec::with_capacity(ids.len());
    let mut bytes = Vec::with_capacity(vocab * 4);
    for end in 1..=ids.len() {
        let row = first_row(engine, ids[..end].to_vec(), stop).await?;
        if row.len() != vocab {
            return Err(EngineError::Backend(format!(
                "the logit row after {end} tokens holds {} values, not the vocabulary's {vocab}",
                row.len()
            ))
            .into());
        }
        argmax.push(steps::greedy_argmax(&row));
        bytes.clear();
        bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
        rows.write_all(&bytes)
            .map_err(|source| LogitsError::Write {
                path: rows_path.display().to_string(),
                source,
            })?;
    }
    Ok(LogitsDump {
        positions: ids.len(),
        vocab,
        ids: ids.to_vec(),
        argmax,
    })
}

/// The logits after exactly `ids`, from one prefill step.
async fn first_row(
    engine: &LocalEngine,
    ids: Vec<u32>,
    stop: u32,
) -> Result<Vec<f32>, EngineError> {
    let (log, _, _) = steps::run_ids(
        engine,
        ids,
        Watch::Logits,
        Some((0, stop)),
        vec![STOP.into()],
    )
    .await?;
    if log.first_row.is_empty() {
        return Err(EngineError::Backend(
            "the engine ran no decoding step for the prompt".into(),
        ));
    }
    Ok(log.first_row)
}

/// The length of the model's logit rows, from one step on a token the
/// tokenizer itself produced.
async fn vocabulary(engine: &LocalEngine, stop: u32) -> Result<usize, EngineError> {
    let probe = engine.tokenize("0").await?;
    Ok(first_row(engine, probe, stop).await?.len())
}

/// `glint dev logits`.
pub fn command(args: &crate::dev::command::LogitsArgs) -> anyhow::Result<u8> {
    let options = args.engine.local_options(Some(1))?;
    let text = std::fs::read_to_string(&args.ids)
        .map_err(|e| anyhow::anyhow!("cannot read --ids {}: {e}", args.ids.display()))?;
    let ids = parse_ids(&text, &args.ids)?;
    let rows_path = with_suffix(&args.out, ".f32");
    let json_path = with_suffix(&args.out, ".json");
    let runtime = tokio::runtime::Runtime::new()?;
    let progress: LoadProgress = Arc::new(|event| eprintln!("glint: {}", event.message));
    let dump = runtime.block_on(async {
        let engine = LocalEngine::load(&options, progress).await?;
        let file = File::create(&rows_path).map_err(|source| LogitsError::Write {
            path: rows_path.display().to_string(),
            source,
        })?;
        let mut rows = BufWriter::new(file);
        let dump = dump(&engine, &ids, &mut rows, &rows_path).await?;
        rows.flush().map_err(|source| LogitsError::Write {
            path: rows_path.display().to_string(),
            source,
        })?;
        Ok::<_, LogitsError>(dump)
    })?;
    let json = serde_json::to_string(&dump)?;
    std::fs::write(&json_path, json + "\n")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", json_path.display()))?;
    println!(
        "wrote {} ({} positions × {} logits, f32 little-endian) and {}",
        rows_path.display(),
        dump.positions,
        dump.vocab,
        json_path.display()
    );
    Ok(exit::ANSWERED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_whitespace_separated_integers() {
        let path = Path::new("ids.txt");
        assert_eq!(parse_ids("1 2\n 3\t4\n", path).unwrap(), [1, 2, 3, 4]);
        let error = parse_ids("1 x 3", path).unwrap_err().to_string();
        assert!(error.contains("`x` (word 2)"), "{error}");
        assert!(
            parse_ids(" \n", path)
                .unwrap_err()
                .to_string()
                .contains("no token ids")
        );
        assert!(parse_ids("-1", path).is_err());
    }

    #[test]
    fn the_suffix_is_appended_not_swapped() {
        assert_eq!(
            with_suffix(Path::new("out/run.v1"), ".f32"),
            PathBuf::from("out/run.v1.f32")
        );
    }
}
