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
//!   against in bf16.

use super::{Engines, TurnKind, TurnReport};
use crate::conversation::Message;
use crate::engine::local::prefill::PrefillLog;
use crate::engine::paged_attn::BLOCK_SIZE;
use crate::engine::{EngineError, TurnRequest};

/// Text the filler and the split-prefill prompt are made of.
const FILLER: &str = "fn main() { let total: u64 = (1..=10).sum(); println!(\"{total}\"); } // checked, all passed.\n";

/// Runs the three probes; their rows are numbered from `first_turn`.
pub(super) async fn run(
    engines: &mut Engines,
    first_turn: usize,
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
    let mut reports = Vec::with_capacity(3);
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
    let split = split_prompt(engines, session_tokens.clamp(64, room.max(64))).await?;
    let half = split.len() / 2;
    engines
        .prefill_only(split[..half].to_vec(), prefill_log)
        .await?;
    reports.push(
        engines
            .ids_turn(first_turn + 2, TurnKind::SplitPrefill, split, prefill_log)
            .await?,
    );
    Ok(reports)
}

/// New tokens that make a prompt of `len` tokens end on a block boundary:
/// at least two, so that the cached turn takes the prefix path with a mask.
fn tokens_to_boundary(len: usize, block: usize) -> usize {
    let pad = (block - len % block) % block;
    if pad < 2 { pad + block } else { pad }
}

/// A prompt of about `tokens` tokens that shares nothing past GLM's opening
/// tokens with the session: one user message of filler, rendered as the
/// agent renders it.
async fn split_prompt(engines: &Engines, tokens: usize) -> Result<Vec<u32>, EngineError> {
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
    engines.cached.backend().tokenize(&rendered).await
}

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
}
