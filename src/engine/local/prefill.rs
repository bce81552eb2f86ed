//! Measures how many prompt tokens the engine actually prefills.
//!
//! mistralrs reports the whole prompt as `usage.prompt_tokens` whether or not
//! its prefix cache covered most of it. glint's patch of mistralrs-core
//! (patches/mistralrs-core-0.8.1/0002 and 0004) emits one `tracing` debug
//! event per prompt at the point where the engine decides what to prefill;
//! [`PrefillLayer`] collects those events, so tests and benchmarks can check
//! that each turn prefills only its new tokens.

use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// The target of the patched engine's prefix-cache lookup events.
pub const PREFIX_CACHE_TARGET: &str = "mistralrs_core::prefix_cache";

/// What the engine decided for one prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefillRecord {
    /// The engine's sequence id.
    pub sequence: u64,
    /// Prompt tokens whose KV rows came from the prefix cache.
    pub cached_tokens: u64,
    /// Prompt tokens run through the model.
    pub prefill_tokens: u64,
}

/// The records collected so far, shared with the layer.
#[derive(Debug, Clone, Default)]
pub struct PrefillLog {
    records: Arc<Mutex<Vec<PrefillRecord>>>,
}

impl PrefillLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A `tracing` layer that fills this log; add it to the subscriber.
    pub fn layer(&self) -> PrefillLayer {
        PrefillLayer {
            records: self.records.clone(),
        }
    }

    /// Removes and returns what was recorded since the last call. With
    /// PagedAttention the engine reports a prompt twice (once on arrival,
    /// once when the scheduler finds its cached blocks); the later record of
    /// a sequence is the one that holds.
    pub fn take(&self) -> Vec<PrefillRecord> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut *records);
        let mut latest: Vec<PrefillRecord> = Vec::with_capacity(taken.len());
        for record in taken {
            match latest.iter_mut().find(|r| r.sequence == record.sequence) {
                Some(earlier) => *earlier = record,
                None => latest.push(record),
            }
        }
        latest
    }
}

/// See [`PrefillLog::layer`].
pub struct PrefillLayer {
    records: Arc<Mutex<Vec<PrefillRecord>>>,
}

impl<S: Subscriber> Layer<S> for PrefillLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != PREFIX_CACHE_TARGET {
            return;
        }
        let mut record = PrefillRecord::default();
        event.record(&mut Fields(&mut record));
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }
}

struct Fields<'a>(&'a mut PrefillRecord);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "sequence" => self.0.sequence = value,
            "cached_tokens" => self.0.cached_tokens = value,
            "prefill_tokens" => self.0.prefill_tokens = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn collects_lookups_and_keeps_the_later_record_of_a_sequence() {
        let log = PrefillLog::new();
        let subscriber = tracing_subscriber::registry().with(log.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "mistralrs_core::prefix_cache", sequence = 3usize, cached_tokens = 0usize, prefill_tokens = 40usize, "prefix cache lookup");
            tracing::debug!(target: "somewhere_else", sequence = 9usize, cached_tokens = 1usize, prefill_tokens = 1usize, "unrelated");
            tracing::debug!(target: "mistralrs_core::prefix_cache", sequence = 3usize, cached_tokens = 32usize, prefill_tokens = 8usize, "paged prefix cache lookup");
            tracing::debug!(target: "mistralrs_core::prefix_cache", sequence = 4usize, cached_tokens = 39usize, prefill_tokens = 5usize, "prefix cache lookup");
        });
        assert_eq!(
            log.take(),
            [
                PrefillRecord {
                    sequence: 3,
                    cached_tokens: 32,
                    prefill_tokens: 8
                },
                PrefillRecord {
                    sequence: 4,
                    cached_tokens: 39,
                    prefill_tokens: 5
                },
            ]
        );
        assert!(log.take().is_empty());
    }
}
