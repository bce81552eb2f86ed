//! What a request's decoding steps show, seen through the engine's step
//! hook: when each step ran (the first one ends the prefill), the first
//! step's logit row, the greedy choice at each step, and the last context.
//! Shared by the developer commands that measure the engine (`cache-check`,
//! `logits`, `speed`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mistralrs::Tensor;

use crate::engine::local::{LocalEngine, LogitsOverride, StepHook};
use crate::engine::{EngineError, RawChunk, RawStream};

/// What to read at each step. Reading a row copies the whole vocabulary's
/// logits to the host, which a speed measurement must not pay for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Times, the first row and every step's greedy choice.
    Logits,
    /// Times and the last context only.
    Times,
}

/// What one request's steps showed.
#[derive(Debug, Clone, Default)]
pub struct StepLog {
    /// When each step's logits reached the sampler.
    pub times: Vec<Instant>,
    /// The first step's logits: the prediction after the whole prompt.
    pub first_row: Vec<f32>,
    /// The greedy choice at each step ([`Watch::Logits`] only).
    pub greedy: Vec<u32>,
    /// The last step's context: the prompt and every generated token but
    /// the last sampled one (whose KV row is never computed).
    pub last_context: Vec<u32>,
}

impl StepLog {
    /// From `started` to the first step: the time to first token.
    pub fn ttft(&self, started: Instant) -> Option<Duration> {
        self.times.first().map(|t| t.duration_since(started))
    }
}

/// Collects a [`StepLog`] for the requests started while its hook is set.
#[derive(Clone)]
pub struct StepRecorder {
    watch: Watch,
    log: Arc<Mutex<StepLog>>,
}

impl StepRecorder {
    pub fn new(watch: Watch) -> Self {
        StepRecorder {
            watch,
            log: Arc::default(),
        }
    }

    /// The hook to set on the engine.
    pub fn hook(&self) -> StepHook {
        let log = self.log.clone();
        let watch = self.watch;
        Arc::new(move |logits: &Tensor, context: &[u32]| {
            let now = Instant::now();
            let row = match watch {
                Watch::Logits => Some(logits_row(logits)?),
                Watch::Times => None,
            };
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.times.push(now);
            if let Some(row) = row {
                log.greedy.push(greedy_argmax(&row));
                if log.first_row.is_empty() {
                    log.first_row = row;
                }
            }
            log.last_context.clear();
            log.last_context.extend_from_slice(context);
            Ok(())
        })
    }

    /// Removes and returns what was recorded.
    pub fn take(&self) -> StepLog {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A step's logits as one F32 row over the vocabulary.
pub fn logits_row(logits: &Tensor) -> Result<Vec<f32>, String> {
    logits
        .flatten_all()
        .and_then(|t| t.to_dtype(mistralrs::DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| format!("cannot read the step's logits: {e}"))
}

/// The token mistralrs's greedy sampler picks from `row`: the last of equal
/// maxima (`Iterator::max_by` keeps the last; torch's argmax the first),
/// with a NaN compared as equal, exactly as its `argmax_f32` does.
pub fn greedy_argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
        .map_or(0, |(index, _)| index as u32)
}

/// A logits override that ends a request after `steps` decoding steps past
/// a prompt of `prompt_len` tokens, by forcing `stop` (a stop token of the
/// request) at the step after them; every earlier step keeps its logits.
/// `steps == 0` runs the prefill and nothing else.
pub fn stop_after(prompt_len: usize, steps: usize, stop: u32) -> LogitsOverride {
    Arc::new(move |logits: &Tensor, context: &[u32]| {
        if context.len() < prompt_len + steps {
            return Ok(logits.clone());
        }
        let mut values = vec![-1.0e9f32; logits.elem_count()];
        let slot = values
            .get_mut(stop as usize)
            .ok_or(format!("the stop token {stop} is outside the vocabulary"))?;
        *slot = 1.0e9;
        Tensor::from_vec(values, logits.shape(), logits.device())
            .and_then(|t| t.to_dtype(logits.dtype()))
            .map_err(|e| format!("cannot build the stopping logits: {e}"))
    })
}

/// The single token id of `text` (a special token), or an error naming it.
pub async fn single_token(engine: &LocalEngine, text: &str) -> Result<u32, EngineError> {
    match engine.tokenize(text).await?.as_slice() {
        [id] => Ok(*id),
        ids => Err(EngineError::Backend(format!(
            "the model's tokenizer splits {text} into {} tokens, not one; this command needs GLM's tokenizer",
            ids.len()
        ))),
    }
}

/// Runs a stream to its end; the text it produced.
pub async fn collect_text(mut stream: RawStream) -> Result<String, EngineError> {
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        if let RawChunk::Text(piece) = chunk? {
            text.push_str(&piece);
        }
    }
    Ok(text)
}

/// One request of exactly `ids` on `engine`, recorded: its log, its text,
/// and when it was sent. `stop_at` ends it after that many decoding steps
/// by forcing `stop` (see [`stop_after`]); `None` lets it run to the
/// engine's own limits.
pub async fn run_ids(
    engine: &LocalEngine,
    ids: Vec<u32>,
    watch: Watch,
    stop_at: Option<(usize, u32)>,
    stop: Vec<String>,
) -> Result<(StepLog, String, Instant), EngineError> {
    let recorder = StepRecorder::new(watch);
    engine.set_step_hook(Some(recorder.hook()));
    engine.set_logits_override(stop_at.map(|(steps, id)| stop_after(ids.len(), steps, id)));
    let started = Instant::now();
    let result = collect_text(engine.complete_ids(ids, stop)).await;
    engine.set_step_hook(None);
    engine.set_logits_override(None);
    Ok((recorder.take(), result?, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_argmax_keeps_the_last_maximum_as_mistralrs_does() {
        assert_eq!(greedy_argmax(&[1.0, 3.0, 2.0, 3.0, 0.5]), 3);
        assert_eq!(greedy_argmax(&[5.0, 1.0]), 0);
        assert_eq!(greedy_argmax(&[]), 0);
    }

    #[test]
    fn stop_after_forces_the_stop_token_only_at_its_step() {
        let device = mistralrs::Device::Cpu;
        let logits = Tensor::from_vec(vec![0.0f32, 2.0, 1.0, 0.5], 4, &device).unwrap();
        let stop = stop_after(3, 2, 3);
        let kept = stop(&logits, &[7, 8, 9, 1]).unwrap();
        assert_eq!(kept.to_vec1::<f32>().unwrap(), [0.0, 2.0, 1.0, 0.5]);
        let forced = stop(&logits, &[7, 8, 9, 1, 2]).unwrap();
        assert_eq!(greedy_argmax(&forced.to_vec1::<f32>().unwrap()), 3);
        let outside = stop_after(1, 0, 9)(&logits, &[7]).unwrap_err();
        assert!(outside.contains("outside the vocabulary"), "{outside}");
    }
}
