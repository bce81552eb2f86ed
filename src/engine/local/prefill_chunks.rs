//! Long prompts prefilled in pieces, so one forward pass's activations stay bounded.
//!
//! mistralrs 0.8.1 runs a prompt's whole uncached part through the model in
//! one forward pass, and that pass's activations grow with it: on an H200 a
//! 131,072-token GLM-4.7-Flash prompt peaked at the GPU's 141 GB (about
//! 0.53 MB per prompt token beside 60 GB of weights) and ran out of memory
//! whenever the KV cache was sized for the model's 202,752-token window
//! (benches/gpu/results/2026-11-28-h200-3). The memory plan keeps 10% of the
//! GPU free for activations, which a prefill of a few thousand tokens fits
//! and a 100k-token one does not.
//!
//! So glint sends such a prompt as a chain of requests, each a prefix of the
//! prompt ending on a chunk boundary and answered with one discarded token:
//! each computes only its chunk (the earlier part is a prefix-cache hit, the
//! path every agent turn already takes), and the prompt itself then prefills
//! only its last piece. What the prefix cache is assumed to hold is the
//! engine's own record of its last finished request; were it evicted, a piece
//! would prefill more than a chunk, never compute anything wrong.
//!
//! On the H200 a 128k prompt then prefilled at the default context (1,584
//! tokens/s, 0.82x one pass), though device memory still rose with the cached
//! prefix each piece attends to (BENCHMARKS.md, fourth run).
//!
//! Chunking needs the prefix cache, and is on by default only with
//! PagedAttention: its cache shares blocks between the pieces, where the
//! non-paged cache keeps a whole KV copy of every finished request (a chain
//! of pieces would hold one copy per piece).

use std::sync::Arc;

use mistralrs::{Response, SamplingParams};

use super::super::EngineError;
use super::request::{response_error, submit};
use crate::engine::paged_attn::BLOCK_SIZE;

/// Prompt tokens one forward pass computes at most with PagedAttention when
/// `--prefill-chunk` is not given: about 4.3 GB of activations on
/// GLM-4.7-Flash (0.53 MB per token), within the 10% of an 80 GB GPU the
/// memory plan keeps free, and where the H200 prefilled fastest (3,145
/// tokens/s at 8k against 2,859 at 32k in one forward).
pub const PAGED_DEFAULT_CHUNK: usize = 8192;

/// How a load chunks long prompts (`--prefill-chunk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefillChunk {
    /// [`PAGED_DEFAULT_CHUNK`] with PagedAttention, one pass otherwise.
    #[default]
    Auto,
    /// Every prompt in one forward pass, however long.
    Off,
    /// At most this many tokens per forward pass.
    Tokens(usize),
}

impl std::str::FromStr for PrefillChunk {
    type Err = String;

    /// `auto`, or a number of tokens (see [`PrefillChunk::from_tokens`]).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value == "auto" {
            return Ok(PrefillChunk::Auto);
        }
        let tokens = value.parse::<u64>().map_err(|_| {
            format!(
                "`{value}` is not a chunk size; use auto, 0 (one pass) or a number of tokens of at least {BLOCK_SIZE}"
            )
        })?;
        PrefillChunk::from_tokens(tokens)
    }
}

impl PrefillChunk {
    /// From `--prefill-chunk N`: 0 turns chunking off; otherwise N is
    /// rounded down to whole PagedAttention blocks, so every piece ends where
    /// the paged prefix cache can match it.
    pub fn from_tokens(tokens: u64) -> Result<Self, String> {
        match usize::try_from(tokens) {
            Ok(0) => Ok(PrefillChunk::Off),
            Ok(n) if n >= BLOCK_SIZE => Ok(PrefillChunk::Tokens(n - n % BLOCK_SIZE)),
            _ => Err(format!(
                "--prefill-chunk {tokens} is not a chunk size; use 0 (one pass) or at least {BLOCK_SIZE} tokens"
            )),
        }
    }

    /// The chunk in tokens for a load with or without PagedAttention and the
    /// prefix cache; `None`: one pass. Without the prefix cache no piece
    /// could reuse the one before, so there is nothing to chunk.
    pub fn resolve(self, paged: bool, prefix_cache: bool) -> Option<usize> {
        if !prefix_cache {
            return None;
        }
        match self {
            PrefillChunk::Auto => paged.then_some(PAGED_DEFAULT_CHUNK),
            PrefillChunk::Off => None,
            PrefillChunk::Tokens(n) => Some(n),
        }
    }
}

/// Where the pieces of a `total`-token prompt end, given that its first
/// `cached` tokens are in the prefix cache: every multiple of `chunk` past
/// `cached` and short of `total`. The prompt's own request computes the rest
/// (at most `chunk` tokens). Boundaries are multiples of `chunk` from the
/// prompt's start, not from `cached`, so the pieces of successive prompts
/// that share a beginning end at the same places.
pub fn piece_ends(total: usize, cached: usize, chunk: usize) -> Vec<usize> {
    if chunk == 0 || total.saturating_sub(cached) <= chunk {
        return Vec::new();
    }
    let first = (cached / chunk + 1) * chunk;
    (first..total).step_by(chunk).collect()
}

/// How many leading tokens two id sequences share.
pub fn shared_prefix_len(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Prefills `ids[..end]` for each end in `ends`, in order, each as a request
/// that samples one token greedily and discards it; returns when the last
/// piece is in the prefix cache, or with the engine's error.
pub(super) async fn prefill_pieces(
    model: &Arc<mistralrs::Model>,
    ids: &[u32],
    ends: &[usize],
) -> Result<(), EngineError> {
    for &end in ends {
        let Some(piece) = ids.get(..end) else {
            break;
        };
        prefill_piece(model, piece.to_vec()).await?;
    }
    Ok(())
}

async fn prefill_piece(model: &Arc<mistralrs::Model>, ids: Vec<u32>) -> Result<(), EngineError> {
    let mut params = SamplingParams::deterministic();
    params.max_len = Some(1);
    let mut rx = submit(model, ids, params, false, None).await?;
    match rx.recv().await {
        Some(Response::CompletionDone(_)) => Ok(()),
        Some(other) => Err(response_error(
            other,
            " while prefilling a long prompt in pieces",
        )),
        None => Err(EngineError::Backend(
            "the engine closed a prefill request without finishing; see glint's log for its error"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_within_one_chunk_of_the_cache_is_sent_whole() {
        assert!(piece_ends(8192, 0, 8192).is_empty());
        assert!(piece_ends(20_000, 12_000, 8192).is_empty());
        assert!(piece_ends(100, 0, 0).is_empty());
    }

    #[test]
    fn pieces_end_on_multiples_of_the_chunk_past_the_cache() {
        assert_eq!(piece_ends(8193, 0, 8192), vec![8192]);
        assert_eq!(
            piece_ends(131_072, 0, 8192).len(),
            15,
            "16 passes: 15 pieces and the prompt's own request"
        );
        // 5,000 cached: the next boundary is 8,192, not 13,192.
        assert_eq!(piece_ends(30_000, 5000, 8192), vec![8192, 16_384, 24_576]);
        // A boundary equal to the prompt's length is the prompt itself.
        assert_eq!(piece_ends(24_576, 0, 8192), vec![8192, 16_384]);
    }

    #[test]
    fn no_piece_computes_more_than_a_chunk() {
        for (total, cached, chunk) in [(131_072, 0, 8192), (50_001, 777, 4096), (9000, 10, 64)] {
            let mut from = cached;
            for end in piece_ends(total, cached, chunk).into_iter().chain([total]) {
                assert!(end > from && end - from <= chunk, "{from}..{end}");
                from = end;
            }
        }
    }

    #[test]
    fn the_chunk_option_rounds_to_blocks_and_refuses_a_sliver() {
        assert_eq!(PrefillChunk::from_tokens(0), Ok(PrefillChunk::Off));
        assert_eq!(
            PrefillChunk::from_tokens(8200),
            Ok(PrefillChunk::Tokens(8192))
        );
        let refusal = PrefillChunk::from_tokens(16).unwrap_err();
        assert!(refusal.contains("at least 32"), "{refusal}");
    }

    #[test]
    fn the_chunk_option_parses_auto_and_numbers_only() {
        assert_eq!("auto".parse(), Ok(PrefillChunk::Auto));
        assert_eq!("4096".parse(), Ok(PrefillChunk::Tokens(4096)));
        let refusal = "8k".parse::<PrefillChunk>().unwrap_err();
        assert!(
            refusal.starts_with("`8k` is not a chunk size; use auto"),
            "{refusal}"
        );
    }

    #[test]
    fn auto_chunks_only_with_paged_attention_and_nothing_without_the_cache() {
        assert_eq!(
            PrefillChunk::Auto.resolve(true, true),
            Some(PAGED_DEFAULT_CHUNK)
        );
        assert_eq!(PrefillChunk::Auto.resolve(false, true), None);
        assert_eq!(PrefillChunk::Tokens(64).resolve(false, true), Some(64));
        assert_eq!(PrefillChunk::Tokens(64).resolve(true, false), None);
        assert_eq!(PrefillChunk::Off.resolve(true, true), None);
    }

    #[test]
    fn shared_prefix_stops_at_the_first_difference() {
        assert_eq!(shared_prefix_len(&[1, 2, 3], &[1, 2, 4, 5]), 2);
        assert_eq!(shared_prefix_len(&[], &[1]), 0);
        assert_eq!(shared_prefix_len(&[7, 8], &[7, 8]), 2);
    }
}
