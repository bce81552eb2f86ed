//! What `glint dev cache-check` prints, and the command itself.

use std::sync::Arc;

use super::{CacheCheckOptions, LongSession, SessionReport, TurnKind, TurnReport, session};
use crate::engine::local::LoadProgress;
use crate::engine::local::prefill::PrefillLog;

/// The reports as a Markdown table.
pub fn table(reports: &[TurnReport]) -> String {
    let mut out = String::from(
        "| turn | prompt tokens | new tokens | prefilled | prefilled ÷ new | cold prefilled | max abs Δlogit | greedy agrees | TTFT cached / cold (ms) |\n|---:|---:|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for r in reports {
        let (prefilled, ratio) = match r.prefilled {
            Some(p) => (
                p.to_string(),
                format!("{:.2}", p as f64 / r.new_tokens.max(1) as f64),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        let agrees = match r.first_divergence {
            None => format!("yes ({} tokens)", r.generated),
            Some(step) => format!("no (from token {})", step + 1),
        };
        let cold = r
            .cold_prefilled
            .map_or_else(|| "n/a".to_string(), |p| p.to_string());
        let turn = match r.kind {
            TurnKind::Turn => r.turn.to_string(),
            TurnKind::Summary => format!("{} (compaction's summary turn)", r.turn),
            TurnKind::Compacted => format!("{} (after the compaction)", r.turn),
            TurnKind::Resumed => format!("{} (after the resume)", r.turn),
            TurnKind::SingleToken => format!("{} (one new token)", r.turn),
            TurnKind::BlockBoundary => format!("{} (ends on a block boundary)", r.turn),
            TurnKind::SplitPrefill => format!("{} (split prefill: noise)", r.turn),
        };
        let ms = |t: Option<f64>| t.map_or_else(|| "n/a".to_string(), |t| format!("{t:.1}"));
        out.push_str(&format!(
            "| {turn} | {} | {} | {prefilled} | {ratio} | {cold} | {:.1e} | {agrees} | {} / {} |\n",
            r.prompt_tokens,
            r.new_tokens,
            r.max_abs_logit_diff,
            ms(r.ttft_ms),
            ms(r.cold_ttft_ms)
        ));
    }
    out
}

/// What the session as a whole shows: prefilled ÷ new, and what the
/// compaction and the resume cost.
pub fn summary(report: &SessionReport) -> String {
    let mut out = String::new();
    let turns = report.turns.iter().filter(|r| !r.kind.is_probe()).count();
    match (report.prefilled(), report.ratio()) {
        (Some(prefilled), Some(ratio)) => out.push_str(&format!(
            "prefilled ÷ new over {turns} model calls: {prefilled} ÷ {} = {ratio:.3}\n",
            report.new_tokens()
        )),
        _ => out.push_str("prefilled: n/a (the engine reports no prefix-cache lookups)\n"),
    }
    let first = |kind| report.turns.iter().find(|r| r.kind == kind);
    if let (Some(summary), Some(after)) = (first(TurnKind::Summary), first(TurnKind::Compacted)) {
        out.push_str(&format!(
            "compaction before turn {}: its summary turn prefilled {} tokens (a {}-token prompt); the first compacted prompt ({} tokens) prefilled {}\n",
            after.turn,
            summary.prefilled.unwrap_or(0),
            summary.prompt_tokens,
            after.prompt_tokens,
            after.prefilled.unwrap_or(0),
        ));
    }
    if let (Some(resumed), Some(exact)) = (first(TurnKind::Resumed), report.resume_exact) {
        out.push_str(&format!(
            "resume before turn {}: the session log re-rendered the prompt byte for byte: {}; the fresh engine prefilled {} tokens (the whole {}-token prompt, once)\n",
            resumed.turn,
            if exact { "yes" } else { "NO" },
            resumed.prefilled.unwrap_or(0),
            resumed.prompt_tokens,
        ));
    }
    let checked: Vec<_> = report.turns.iter().filter(|r| counts(r)).collect();
    let agree = checked.iter().filter(|r| agrees(r)).count();
    out.push_str(&format!(
        "turns equal to a cold prefill (same greedy tokens, logits within 0.1): {agree} of {}\n",
        checked.len()
    ));
    let noise: Vec<&TurnReport> = report
        .turns
        .iter()
        .filter(|r| r.kind == TurnKind::SplitPrefill)
        .collect();
    if let [row] = noise.as_slice() {
        out.push_str(&format!(
            "noise: the same {}-token prompt prefilled in two pieces vs one differs by {:.2e}; the cached turns by up to {:.2e}\n",
            row.prompt_tokens,
            row.max_abs_logit_diff,
            spread(&checked).worst
        ));
    } else if !noise.is_empty() {
        let (rows, turns) = (spread(&noise), spread(&checked));
        out.push_str(&format!(
            "noise: {} prompts prefilled in two pieces vs one differ by {:.2e} to {:.2e} ({} above 0.1, {} with other greedy tokens); the cached turns by {:.2e} to {:.2e} ({} of {} above 0.1, {} with other greedy tokens)\n",
            noise.len(),
            rows.least,
            rows.worst,
            rows.above,
            rows.parted,
            turns.least,
            turns.worst,
            turns.above,
            checked.len(),
            turns.parted
        ));
    }
    out
}

/// How far a set of rows' first-step logits are from a cold prefill's.
struct Spread {
    least: f32,
    worst: f32,
    /// Rows whose logits differ by more than 0.1.
    above: usize,
    /// Rows whose greedy tokens part from the cold prefill's.
    parted: usize,
}

fn spread(rows: &[&TurnReport]) -> Spread {
    let diffs = rows.iter().map(|r| r.max_abs_logit_diff);
    Spread {
        least: diffs.clone().fold(f32::INFINITY, f32::min),
        worst: diffs.clone().fold(0.0, f32::max),
        above: diffs.filter(|d| *d > 0.1).count(),
        parted: rows.iter().filter(|r| !r.greedy_agrees()).count(),
    }
}

/// Whether a row counts toward the verdict: every turn and probe but the
/// split-prefill row, which measures the noise the others are judged
/// against.
fn counts(r: &TurnReport) -> bool {
    r.kind != TurnKind::SplitPrefill
}

/// Whether a turn served from the cache equals the cold prefill.
pub fn agrees(r: &TurnReport) -> bool {
    r.greedy_agrees()
        && r.max_abs_logit_diff <= 0.1
        && r.cold_prefilled == Some(r.prompt_tokens as u64)
}

/// The most prefilled ÷ new a session may show: a cache that reuses all
/// it can scores 1.00.
pub const MAX_RATIO: f64 = 1.10;

/// `glint dev cache-check`: runs the check and prints its reports. Exit
/// status 0 when every turn and probe agrees (logits within 0.1, same
/// greedy tokens, the cold engine prefilled the whole prompt; the
/// split-prefill row is the noise reference and does not count), and with
/// `--compact-at` or `--resume-at` also prefilled ÷ new is at most
/// [`MAX_RATIO`] and the resume re-rendered exactly; 1 otherwise.
pub fn command(args: &crate::dev::command::CacheCheckArgs) -> anyhow::Result<u8> {
    use tracing_subscriber::layer::SubscriberExt;

    args.engine.check()?;
    let options = CacheCheckOptions {
        model: args.engine.model.clone(),
        device: args.engine.device,
        isq: args.engine.isq,
        turns: usize::try_from(args.turns)?,
        max_tokens: usize::try_from(args.max_tokens)?,
        max_context: args.engine.max_context.map(usize::try_from).transpose()?,
        tools: !args.no_tools,
        paged_attn: args.engine.paged_attn,
        prefill_chunk: args.engine.prefill_chunk,
        precision: args.engine.dtype,
        probes: !args.no_probes,
        noise_probes: usize::try_from(args.noise_probes)?,
    };
    let long = LongSession {
        compact_at: args.compact_at.map(usize::try_from).transpose()?,
        resume_at: args.resume_at.map(usize::try_from).transpose()?,
    };
    for (flag, at) in [
        ("--compact-at", long.compact_at),
        ("--resume-at", long.resume_at),
    ] {
        if at.is_some_and(|turn| turn < 2 || turn > options.turns) {
            anyhow::bail!(
                "{flag} must name a turn from 2 to --turns ({})",
                options.turns
            );
        }
    }
    let log = PrefillLog::new();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.layer()))
        .map_err(|e| anyhow::anyhow!("cannot collect the engine's prefill events: {e}"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let progress: LoadProgress = Arc::new(|event| eprintln!("glint: {}", event.message));
    let report = runtime.block_on(session::run(&options, &long, &log, progress))?;
    if args.json {
        for turn in &report.turns {
            println!("{}", serde_json::to_string(turn)?);
        }
    } else {
        print!("{}", table(&report.turns));
    }
    let long_ok = long == LongSession::default()
        || (report.ratio().is_some_and(|r| r <= MAX_RATIO) && report.resume_exact != Some(false));
    if long != LongSession::default() || options.probes {
        eprint!("{}", summary(&report));
    }
    let agree = report.turns.iter().filter(|r| counts(r)).all(agrees);
    Ok(if agree && long_ok { 0 } else { 1 })
}
