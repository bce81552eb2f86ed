//! Prefix reuse over a session with a compaction and a resume, on the
//! in-process engine (CPU, the tiny GLM-4.7-Flash checkpoint in F32): every
//! turn prefills only what its engine had not computed, the summary turn
//! and the compacted prompt reuse the system prompt, a resume re-renders
//! the conversation byte for byte and prefills it once on the fresh
//! engine, and every turn equals a cold prefill.

use std::sync::Arc;

use glint::dev::cache_check::{self, CacheCheckOptions, LongSession, TurnKind};
use glint::dev::tiny_glm::{self, WeightType};
use glint::engine::local::prefill::PrefillLog;
use glint::engine::local::{DeviceChoice, IsqChoice};
use tracing_subscriber::layer::SubscriberExt;

use crate::common::tiny_glm_options;

#[tokio::test(flavor = "multi_thread")]
async fn a_compacted_and_resumed_session_reuses_the_cache_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::F32, 11)).expect("checkpoint");
    // The only test of this binary that runs an engine: its prefill events
    // go to this subscriber.
    let log = PrefillLog::new();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.layer()))
        .expect("one subscriber per test binary");
    let options = CacheCheckOptions {
        model: dir.path().display().to_string(),
        device: DeviceChoice::Cpu,
        isq: IsqChoice::None,
        turns: 12,
        max_tokens: 8,
        max_context: Some(8192),
        tools: false,
        paged_attn: glint::engine::paged_attn::PagedAttnChoice::Auto,
        precision: glint::engine::local::Precision::Auto,
        prefill_chunk: glint::engine::local::PrefillChunk::Auto,
        probes: false,
        noise_probes: 1,
    };
    let long = LongSession {
        compact_at: Some(6),
        resume_at: Some(9),
    };
    let report = cache_check::run_session(&options, &long, &log, Arc::new(|_| {}))
        .await
        .expect("the session runs");
    let table = cache_check::table(&report.turns);
    assert_eq!(
        report.turns.len(),
        13,
        "12 turns and the summary turn:\n{table}"
    );
    for turn in &report.turns {
        assert!(
            turn.greedy_agrees(),
            "turn {} diverges:\n{table}",
            turn.turn
        );
        assert!(
            turn.max_abs_logit_diff <= 1e-3,
            "turn {}:\n{table}",
            turn.turn
        );
        assert_eq!(
            turn.cold_prefilled,
            Some(turn.prompt_tokens as u64),
            "{table}"
        );
        assert_eq!(
            turn.prefilled,
            Some(turn.new_tokens as u64),
            "turn {} prefilled other than its new tokens:\n{table}",
            turn.turn
        );
    }
    assert_eq!(report.ratio(), Some(1.0));
    assert_eq!(report.resume_exact, Some(true), "{table}");
    let kind = |kind| {
        report
            .turns
            .iter()
            .find(|t| t.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} turn:\n{table}"))
    };
    let summary = kind(TurnKind::Summary);
    let before = report
        .turns
        .iter()
        .find(|t| t.turn == summary.turn - 1)
        .expect("the turn before the compaction");
    assert!(
        summary.prompt_tokens - summary.new_tokens >= before.prompt_tokens,
        "the summary turn extends the last prompt:\n{table}"
    );
    let compacted = kind(TurnKind::Compacted);
    assert!(
        compacted.new_tokens < compacted.prompt_tokens,
        "the compacted prompt reuses the system prompt:\n{table}"
    );
    assert!(compacted.prompt_tokens < summary.prompt_tokens, "{table}");
    let resumed = kind(TurnKind::Resumed);
    assert_eq!(
        resumed.new_tokens, resumed.prompt_tokens,
        "a fresh engine:\n{table}"
    );
    let after = report
        .turns
        .iter()
        .find(|t| t.turn == resumed.turn + 1)
        .expect("a turn after the resume");
    assert!(
        after.new_tokens * 4 < after.prompt_tokens,
        "the cache carries on:\n{table}"
    );
}
