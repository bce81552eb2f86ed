//! `glint dev speed`: how fast the engine loads, prefills and decodes, and
//! what the prefix cache saves on a long session's last turn.
//!
//! One engine (greedy, with the prefix cache, as glint runs) serves every
//! measurement, one request at a time, timed by the step hook: the first
//! step's logits mark the end of the prefill, each later step one decoded
//! token. A request ends where the measurement does, by forcing a stop
//! token (see `steps::stop_after`). Prompts are synthetic: random ids from
//! [`ORDINARY`], ordinary tokens of GLM's vocabulary (never special ones),
//! each prompt starting with a token no earlier prompt started with, so
//! nothing measured as cold is found in the cache. Each line is printed and flushed
//! as soon as it is known, so a run cut short keeps what it measured; a
//! size that fails (out of memory) is an error line and the next size runs.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::dev::command::SpeedArgs;
use crate::dev::steps::{self, Watch};
use crate::engine::EngineError;
use crate::engine::local::{LoadProgress, LocalEngine, QuantizedCacheUse};

/// The turn end a request is stopped with; in a session it also opens the
/// next turn's new text, as a tool result does in GLM's format.
const STOP: &str = "<|observation|>";

/// Ids the synthetic prompts are drawn from: ordinary tokens of GLM's
/// vocabulary, whose special tokens sit at 154,820 and above.
pub const ORDINARY: std::ops::Range<u32> = 1_000..9_192;

/// One measurement, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Load {
        seconds: f64,
        /// The context the engine was sized for (`--max-context`, or what
        /// glint's memory check chose).
        max_context: usize,
        /// An `--isq` load's quantized copy: `read` (nothing was
        /// quantized), `written` (quantized, and the copy kept),
        /// `not_written` (quantized, no copy kept), or `unused`.
        quantized_copy: &'static str,
    },
    Prefill {
        context: usize,
        tokens_per_s: f64,
        seconds: f64,
    },
    Decode {
        after: usize,
        tokens: usize,
        tokens_per_s: f64,
    },
    Session {
        turns: usize,
        prompt_tokens: usize,
        ttft_cached_ms: f64,
        ttft_cold_ms: f64,
    },
    Error {
        stage: &'static str,
        /// The prompt length the failed measurement was at.
        #[serde(skip_serializing_if = "Option::is_none")]
        context: Option<usize>,
        message: String,
    },
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Load {
                seconds,
                max_context,
                quantized_copy,
            } => write!(
                f,
                "load: {seconds:.2} s ({max_context}-token context, quantized copy {quantized_copy})"
            ),
            Line::Prefill {
                context,
                tokens_per_s,
                seconds,
            } => write!(
                f,
                "prefill {context} tokens: {tokens_per_s:.1} tokens/s ({seconds:.3} s)"
            ),
            Line::Decode {
                after,
                tokens,
                tokens_per_s,
            } => write!(
                f,
                "decode after {after} tokens: {tokens_per_s:.2} tokens/s ({tokens} tokens)"
            ),
            Line::Session {
                turns,
                prompt_tokens,
                ttft_cached_ms,
                ttft_cold_ms,
            } => write!(
                f,
                "session: turn {turns} ({prompt_tokens} tokens) first token after {ttft_cached_ms:.1} ms cached, {ttft_cold_ms:.1} ms cold"
            ),
            Line::Error {
                stage,
                context,
                message,
            } => match context {
                Some(n) => write!(f, "error in {stage} at {n} tokens: {message}"),
                None => write!(f, "error in {stage}: {message}"),
            },
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct SpeedPlan {
    pub prefill: Vec<usize>,
    pub decode_after: Vec<usize>,
    pub decode_tokens: usize,
    /// Turns of the session (0: none).
    pub session_turns: usize,
    pub session_first: usize,
    pub session_new: usize,
    pub session_output: usize,
}

/// Synthetic prompts: ordinary token ids, each prompt opening with a token
/// no earlier one opened with.
pub struct Prompts {
    rng: StdRng,
    next_opener: u32,
}

impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            rng: StdRng::seed_from_u64(17),
            next_opener: ORDINARY.start,
        }
    }
}

impl Prompts {
    /// `n` random ordinary tokens.
    pub fn tokens(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.rng.gen_range(ORDINARY)).collect()
    }

    /// A token no prompt has opened with yet.
    pub fn opener(&mut self) -> u32 {
        let token = self.next_opener;
        self.next_opener = if token + 1 < ORDINARY.end {
            token + 1
        } else {
            ORDINARY.start
        };
        token
    }

    /// A fresh prompt of `n` tokens.
    pub fn prompt(&mut self, n: usize) -> Vec<u32> {
        let mut ids = vec![self.opener()];
        ids.extend(self.tokens(n.saturating_sub(1)));
        ids
    }
}

/// Runs every measurement of `plan` on `engine`, handing each line to
/// `emit` as soon as it is known.
pub async fn measure(
    engine: &LocalEngine,
    plan: &SpeedPlan,
    emit: &mut dyn FnMut(Line),
) -> Result<(), EngineError> {
    let stop = steps::single_token(engine, STOP).await?;
    let mut prompts = Prompts::default();
    for &context in &plan.prefill {
        let ids = prompts.prompt(context);
        emit(match time_prefill(engine, ids, stop).await {
            Ok(elapsed) => Line::Prefill {
                context,
                tokens_per_s: context as f64 / elapsed.as_secs_f64().max(1e-9),
                seconds: elapsed.as_secs_f64(),
            },
            Err(e) => error("prefill", Some(context), e),
        });
    }
    for &after in &plan.decode_after {
        let ids = prompts.prompt(after);
        emit(
            match time_decode(engine, ids, plan.decode_tokens, stop).await {
                Ok((tokens, elapsed)) => Line::Decode {
                    after,
                    tokens,
                    tokens_per_s: tokens as f64 / elapsed.as_secs_f64().max(1e-9),
                },
                Err(e) => error("decode", Some(after), e),
            },
        );
    }
    if plan.session_turns > 0 {
        emit(match session(engine, plan, &mut prompts, stop).await {
            Ok(line) => line,
            Err(e) => error("session", None, e),
        });
    }
    Ok(())
}

fn error(stage: &'static str, context: Option<usize>, e: EngineError) -> Line {
    Line::Error {
        stage,
        context,
        message: e.to_string(),
    }
}

/// The stop tokens of every request.
fn stops() -> Vec<String> {
    vec![STOP.to_string()]
}

/// From sending `ids` to the first step: the prefill.
async fn time_prefill(
    engine: &LocalEngine,
    ids: Vec<u32>,
    stop: u32,
) -> Result<Duration, EngineError> {
    let (log, _, started) =
        steps::run_ids(engine, ids, Watch::Times, Some((0, stop)), stops()).await?;
    log.ttft(started)
        .ok_or_else(|| EngineError::Backend("the engine ran no step for the prompt".into()))
}

/// Decodes up to `tokens` tokens after `ids`: how many it decoded (fewer
/// if the model ended its answer) and how long they took after the prefill.
async fn time_decode(
    engine: &LocalEngine,
    ids: Vec<u32>,
    tokens: usize,
    stop: u32,
) -> Result<(usize, Duration), EngineError> {
    let (log, _, _) =
        steps::run_ids(engine, ids, Watch::Times, Some((tokens, stop)), stops()).await?;
    match (log.times.first(), log.times.last()) {
        (Some(first), Some(last)) if log.times.len() > 1 => {
            Ok((log.times.len() - 1, last.duration_since(*first)))
        }
        _ => Err(EngineError::Backend(
            "the model ended its answer at once; no decoding step to time".into(),
        )),
    }
}

/// A session of `plan.session_turns` turns: each prompt is the last one,
/// the model's answer, the turn end and `session_new` new tokens. The last
/// turn's time to first token, from the cache, against the same prompt with
/// its first token changed (so nothing of it is cached) prefilled cold.
async fn session(
    engine: &LocalEngine,
    plan: &SpeedPlan,
    prompts: &mut Prompts,
    stop: u32,
) -> Result<Line, EngineError> {
    let mut prompt = prompts.prompt(plan.session_first);
    for _ in 1..plan.session_turns {
        let (log, _, _) = steps::run_ids(
            engine,
            prompt.clone(),
            Watch::Times,
            Some((plan.session_output, stop)),
            stops(),
        )
        .await?;
        let mut next = log.last_context;
        if next.len() < prompt.len() {
            return Err(EngineError::Backend(
                "the engine ran no step for a session turn".into(),
            ));
        }
        next.push(stop);
        next.extend(prompts.tokens(plan.session_new));
        prompt = next;
    }
    let cached = time_prefill(engine, prompt.clone(), stop).await?;
    let mut cold = prompt.clone();
    cold[0] = prompts.opener();
    let cold = time_prefill(engine, cold, stop).await?;
    Ok(Line::Session {
        turns: plan.session_turns,
        prompt_tokens: prompt.len(),
        ttft_cached_ms: cached.as_secs_f64() * 1000.0,
        ttft_cold_ms: cold.as_secs_f64() * 1000.0,
    })
}

/// Prints a line and flushes it at once.
fn print(line: &Line, json: bool) {
    let text = if json {
        serde_json::to_string(line).unwrap_or_else(|e| {
            format!("{{\"kind\":\"error\",\"stage\":\"print\",\"message\":\"{e}\"}}")
        })
    } else {
        line.to_string()
    };
    let mut out = std::io::stdout().lock();
    // A closed stdout (the reader went away) leaves nothing to report to.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// `glint dev speed`. Exit status 0 when every measurement ran, 1 when
/// some size failed (its error line says why); a model that does not load
/// is an error line and exit status 2.
pub fn command(args: &SpeedArgs) -> anyhow::Result<u8> {
    let options = args.engine.local_options(None)?;
    let sizes = |v: &[u64]| {
        v.iter()
            .map(|&n| usize::try_from(n))
            .collect::<Result<Vec<_>, _>>()
    };
    let plan = SpeedPlan {
        prefill: sizes(&args.prefill)?,
        decode_after: sizes(&args.decode_after)?,
        decode_tokens: usize::try_from(args.decode_tokens)?,
        session_turns: usize::try_from(args.session_turns)?,
        session_first: usize::try_from(args.session_first)?,
        session_new: usize::try_from(args.session_new)?,
        session_output: usize::try_from(args.session_output)?,
    };
    let json = args.json;
    let runtime = tokio::runtime::Runtime::new()?;
    let progress: LoadProgress = Arc::new(|event| eprintln!("glint: {}", event.message));
    let mut failed = false;
    runtime.block_on(async {
        let started = Instant::now();
        let engine = match LocalEngine::load(&options, progress).await {
            Ok(engine) => engine,
            Err(e) => {
                print(&error("load", None, e.clone()), json);
                return Err(anyhow::Error::from(e));
            }
        };
        print(
            &Line::Load {
                seconds: started.elapsed().as_secs_f64(),
                max_context: engine.max_context(),
                quantized_copy: match engine.quantized_cache_use() {
                    QuantizedCacheUse::Unused => "unused",
                    QuantizedCacheUse::Read { .. } => "read",
                    QuantizedCacheUse::Written { .. } => "written",
                    QuantizedCacheUse::NotWritten { .. } => "not_written",
                },
            },
            json,
        );
        let mut emit = |line: Line| {
            failed |= matches!(line, Line::Error { .. });
            print(&line, json);
        };
        if let Err(e) = measure(&engine, &plan, &mut emit).await {
            emit(error("setup", None, e));
        }
        Ok(())
    })?;
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_ordinary_ids_and_open_differently() {
        let mut prompts = Prompts::default();
        let (a, b) = (prompts.prompt(50), prompts.prompt(50));
        assert_eq!((a.len(), b.len()), (50, 50));
        assert_ne!(a[0], b[0]);
        assert!(a.iter().chain(&b).all(|id| ORDINARY.contains(id)));
        assert_ne!(prompts.opener(), a[0]);
    }

    #[test]
    fn lines_print_in_the_agreed_json_shape() {
        let line = Line::Prefill {
            context: 1024,
            tokens_per_s: 2048.0,
            seconds: 0.5,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"kind":"prefill","context":1024,"tokens_per_s":2048.0,"seconds":0.5}"#
        );
        let error = Line::Error {
            stage: "session",
            context: None,
            message: "out of memory".into(),
        };
        assert_eq!(
            serde_json::to_string(&error).unwrap(),
            r#"{"kind":"error","stage":"session","message":"out of memory"}"#
        );
    }
}
