//! Probe turns, run on token ids after the session on the same two engines,
//! each compared with a cold prefill like a turn:
//! - **one new token**: the last turn's computed tokens and its last sampled
//!   token, the smallest prefix hit there is;
//! - **a block boundary**: then filler tokens up to a prompt that ends
//!   exactly on a PagedAttention block boundary (at least two new tokens,
//!   the prefix branch that patch 0003 fixes);
//! - **split prefill**: a fresh prompt prefilled in two pieces (its first
//!   half, then the whole, the first half from the cache) against one cold
//!   prefill. Both sides' KV rows come from prefills, so the difference is
//!   the noise of computing the same prompt in another split and kernel,
//!   measured in the same run: what the turns' differences are judged
//!   against in bf16. With `--noise-probes N`, N such rows on N prompts
//!   split at a quarter, a half and three quarters in turn: in bf16 a rare
//!   row jumps far above the rest (a near-tied top-k expert choice flips),
//!   and one row cannot show how rare.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Engines, TurnKind, TurnReport};
use crate::conversation::Message;
use crate::dev::speed::ORDINARY;
use crate::engine::local::prefill::PrefillLog;
use crate::engine::paged_attn::BLOCK_SIZE;
use crate::engine::{EngineError, TurnRequest};

/// Text the filler and the split-prefill prompt are made of.
const FILLER: &str = "fn main() { let total: u64 = (1..=10).sum(); println!(\"{total}\"); } // checked, all passed.\n";

/// Runs the probes (one new token, a block boundary, then `noise_rows`
/// split prefills); their rows are numbered from `first_turn`.
pub(super) async fn run(
    engines: &mut Engines,
    first_turn: usize,
    noise_rows: usize,
    prefill_log: &PrefillLog,
) -> Result<Vec<TurnReport>, EngineError> {
    let (Some(computed), Some(last)) = (engines.computed.last(), engines.last_sampled) else {
        return Err(EngineError::Backend(
            "the probes need a finished turn before them".into(),
        ));
    };
    let session_tokens = computed.len();
    let mut single = computed.clone();
    single.push(last);
    let mut reports = Vec::with_capacity(2 + noise_rows);
    reports.push(
        engines
            .ids_turn(
                first_turn,
                TurnKind::SingleToken,
                single.clone(),
                prefill_log,
            )
            .await?,
    );

    let filler = engines.cached.backend().tokenize(FILLER).await?;
    let mut boundary = single;
    let pad = tokens_to_boundary(boundary.len(), BLOCK_SIZE);
    boundary.extend(filler.iter().cycle().take(pad));
    reports.push(
        engines
            .ids_turn(
                first_turn + 1,
                TurnKind::BlockBoundary,
                boundary,
                prefill_log,
            )
            .await?,
    );

    let room = engines.cached.backend().max_context() / 2;
    for row in 0..noise_rows.max(1) {
        let split = split_prompt(engines, row, session_tokens.clamp(64, room.max(64))).await?;
        let first_piece = split_point(split.len(), row);
        engines
            .prefill_only(split[..first_piece].to_vec(), prefill_log)
            .await?;
        reports.push(
            engines
                .ids_turn(
                    first_turn + 2 + row,
                    TurnKind::SplitPrefill,
                    split,
                    prefill_log,
                )
                .await?,
        );
    }
    Ok(reports)
}

/// Where noise row `row` splits a prompt of `len` tokens: at a half, then a
/// quarter, then three quarters, in turn.
fn split_point(len: usize, row: usize) -> usize {
    let quarters = [2, 1, 3][row % 3];
    len * quarters / 4
}

/// New tokens that make a prompt of `len` tokens end on a block boundary:
/// at least two, so that the cached turn takes the prefix path with a mask.
fn tokens_to_boundary(len: usize, block: usize) -> usize {
    let pad = (block - len % block) % block;
    if pad < 2 { pad + block } else { pad }
}

/// A prompt of about `tokens` tokens that shares nothing past GLM's opening
/// tokens with the session or another noise row's: one user message of
/// filler, rendered as the agent renders it; after the first row, with a few
/// ordinary ids drawn for the row right after the opening two, so that no
/// row's prompt extends another's (text alone cannot promise that: a small
/// tokenizer reads words it does not know as one unknown id).
async fn split_prompt(
    engines: &Engines,
    row: usize,
    tokens: usize,
) -> Result<Vec<u32>, EngineError> {
    let per_copy = engines
        .cached
        .backend()
        .tokenize(FILLER)
        .await?
        .len()
        .max(1);
    let text = FILLER.repeat(tokens.div_ceil(per_copy));
    let rendered = engines.cached.render(&TurnRequest {
        messages: vec![Message::user(text)],
        tools: Vec::new(),
        thinking: true,
    });
    let mut ids = engines.cached.backend().tokenize(&rendered).await?;
    if row > 0 {
        let mut rng = StdRng::seed_from_u64(row as u64);
        let marker: Vec<u32> = (0..ROW_MARKER).map(|_| rng.gen_range(ORDINARY)).collect();
        let at = ids.len().min(2);
        ids.splice(at..at, marker);
    }
    Ok(ids)
}

/// Ids that set a noise row's prompt apart from the others'.
const ROW_MARKER: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_pad_lands_on_a_multiple_with_two_new_tokens_or_more() {
        for len in 1..200 {
            let pad = tokens_to_boundary(len, 32);
            assert_eq!((len + pad) % 32, 0, "{len}");
            assert!((2..34).contains(&pad), "{len}: {pad}");
        }
        assert_eq!(tokens_to_boundary(30, 32), 2);
        assert_eq!(tokens_to_boundary(31, 32), 33);
        assert_eq!(tokens_to_boundary(64, 32), 32);
    }

    #[test]
    fn noise_rows_split_at_a_half_a_quarter_and_three_quarters() {
        let points: Vec<usize> = (0..4).map(|row| split_point(400, row)).collect();
        assert_eq!(points, [200, 100, 300, 200]);
    }
}
