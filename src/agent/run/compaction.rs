//! The run's side of compaction (see [`crate::agent::compact`]): before each
//! model turn, the notes the user pinned join the conversation, and the
//! conversation is compacted when the next prompt would reach the
//! threshold or the user asked (`/compact`). The front ends see it happen
//! (`compaction_started`, `compacted`), and the session log records what
//! was elided and summarised with the whole new conversation, so a resume
//! continues from exactly what the model saw.

use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Session;
use crate::agent::Event;
use crate::agent::compact::{
    self, Assembled, Budget, CompactionReason, Dropped, ElidedOutput, Split,
};
use crate::conversation::Message;
use crate::engine::{ModelEvent, TurnRequest, Usage};
use crate::session::record::{CompactionRecord, DROPPED_PREFIX, now};

/// Tokens left free for the hand-off note (and the reasoning before it)
/// when the summary turn reads the conversation unelided.
const NOTE_ROOM: u64 = 4096;

/// What the user asked for while the core was busy, taken up before the
/// next model turn (or as soon as the core is idle).
#[derive(Debug, Default)]
pub(in crate::agent) struct Requests {
    pins: Vec<String>,
    compact: bool,
}

/// Shared between the op loop, which fills it, and the session.
pub(in crate::agent) type SharedRequests = Arc<Mutex<Requests>>;

impl Requests {
    pub(in crate::agent) fn pin(&mut self, text: String) {
        self.pins.push(text);
    }

    pub(in crate::agent) fn compact(&mut self) {
        self.compact = true;
    }
}

/// The session's context budget and what compaction needs between turns.
#[derive(Debug, Default)]
pub(super) struct Context {
    budget: Budget,
    requests: SharedRequests,
    /// Where the user's latest request is in the conversation (`None`:
    /// found by [`compact::find_latest_task`] when needed).
    latest_task: Option<usize>,
    /// Automatic compaction gave up for this run: nothing was left to
    /// compact, or what must be kept alone reaches the threshold (compacting
    /// again each turn would only cost model turns). The user was told.
    given_up: bool,
    /// The user was told why automatic compaction is off (the engine
    /// does not know its context window).
    window_notice_given: bool,
}

/// The conversation a compaction produced, and what it says about it.
struct Outcome {
    messages: Vec<Message>,
    latest_task: Option<usize>,
    elided: Vec<ElidedOutput>,
    summarised: Vec<String>,
    summary: Option<String>,
    /// One line for each message dropped whole (the last resort).
    dropped: Vec<String>,
}

impl Session {
    /// Where the op loop leaves pins and `/compact` requests.
    pub(in crate::agent) fn requests(&self) -> SharedRequests {
        self.context.requests.clone()
    }

    /// Notes that the message just appended is the user's new request.
    pub(super) fn note_task(&mut self) {
        self.context.latest_task = self.messages.len().checked_sub(1);
        self.context.given_up = false;
    }

    /// Takes in a finished turn's token counts (its assistant message is
    /// the conversation's last).
    pub(super) fn observe_turn(&mut self, usage: Usage) {
        let tools = self.tools_bytes();
        self.context.budget.observe(usage, &self.messages, tools);
    }

    /// Takes up pins and `/compact` requests while no run is going.
    pub(in crate::agent) async fn apply_requests(&mut self, cancel: &CancellationToken) {
        self.manage_context(cancel, false).await;
    }

    /// Before a model turn: pinned notes join the conversation, and it is
    /// compacted when asked, or (`automatic`) when the next prompt would
    /// reach the threshold. Returns the summary turn's token counts when
    /// the model wrote a hand-off note.
    pub(super) async fn manage_context(
        &mut self,
        cancel: &CancellationToken,
        automatic: bool,
    ) -> Option<Usage> {
        let (pins, requested) = {
            let mut requests = self
                .context
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // A conversation starts with its system prompt, which the first
            // run adds: until then pins wait, and there is nothing to compact.
            if self.messages.is_empty() {
                if std::mem::take(&mut requests.compact) {
                    drop(requests);
                    self.nothing_to_compact(CompactionReason::Requested, 0, None);
                }
                return None;
            }
            (
                std::mem::take(&mut requests.pins),
                std::mem::take(&mut requests.compact),
            )
        };
        for pin in pins {
            self.push(compact::pin_message(&pin));
        }
        let tokens = self
            .context
            .budget
            .next_prompt(&self.messages, self.tools_bytes());
        let settings = self.config.guards.compaction;
        let window = self.config.model.context_window();
        if automatic && window.is_none() && !self.context.window_notice_given {
            self.context.window_notice_given = true;
            if let Some(message) = self.config.model.context_window_notice() {
                self.emit(Event::Warning { message });
            }
        }
        // Until the engine has counted a prompt of this session (a resumed
        // conversation's first turn) the estimate runs high: then only a
        // prompt estimated at the whole window is compacted, so a resume
        // does not compact a conversation that was below the threshold.
        let limit = |w: u64| {
            if self.context.budget.calibrated() {
                settings.threshold(w)
            } else {
                w
            }
        };
        let reason = if requested {
            CompactionReason::Requested
        } else if automatic && !self.context.given_up && window.is_some_and(|w| tokens >= limit(w))
        {
            CompactionReason::Threshold
        } else {
            return None;
        };
        self.compact(reason, tokens, cancel).await
    }

    async fn compact(
        &mut self,
        reason: CompactionReason,
        tokens_before: u64,
        cancel: &CancellationToken,
    ) -> Option<Usage> {
        let settings = self.config.guards.compaction;
        let window = self.config.model.context_window();
        let tools_bytes = self.tools_bytes();
        let split = Split::new(&self.messages, settings.keep_turns);
        let (elided_messages, elided) = compact::elide(&self.messages, split);
        let elided_tokens = self.context.budget.fresh(&elided_messages, tools_bytes);
        if !split.has_older() {
            self.nothing_to_compact(reason, tokens_before, window);
            return None;
        }
        let enough = window.is_some_and(|w| elided_tokens <= settings.target(w));
        self.emit(Event::CompactionStarted {
            reason,
            tokens: tokens_before,
        });
        if reason == CompactionReason::Threshold && enough && !elided.is_empty() {
            self.adopt_elided(reason, tokens_before, elided_messages, elided);
            return None;
        }
        // The summary turn reads the conversation as it is when that still
        // leaves room for the note: its prompt then extends the last one
        // and the prefix cache covers it. Otherwise the elided one.
        let room = window.map_or(0, |w| (w / 8).min(NOTE_ROOM));
        let fits = |tokens: u64| window.is_none_or(|w| tokens + room <= w);
        // Where even the elided conversation fills the window, the summary
        // turn cannot run (one that runs out of room fails, and falls back
        // the same way).
        if window.is_some_and(|w| elided_tokens.min(tokens_before) >= w) {
            if !self.fall_back(reason, tokens_before, elided_messages, elided) {
                self.context.given_up |= reason == CompactionReason::Threshold;
                self.emit(Event::Warning {
                    message: "the conversation is too big for the model to summarise, and nothing could be elided or dropped; nothing was compacted".into(),
                });
            }
            return None;
        }
        let base = if fits(tokens_before) {
            self.messages.clone()
        } else {
            elided_messages.clone()
        };
        let mut request = base;
        request.push(compact::summary_instruction(
            tokens_before,
            window,
            settings.keep_turns,
        ));
        let (note, usage) = match self.summary_turn(request, cancel).await {
            Ok(done) => done,
            Err(error) => {
                if cancel.is_cancelled() {
                    return None;
                }
                let instead = if elided.is_empty() {
                    "nothing was compacted"
                } else {
                    "only old tool outputs were elided"
                };
                self.emit(Event::Warning {
                    message: format!(
                        "the model could not write the compaction's hand-off note ({error}); {instead}"
                    ),
                });
                // Another try every turn would likely fail the same way.
                self.context.given_up |= reason == CompactionReason::Threshold;
                self.fall_back(reason, tokens_before, elided_messages, elided);
                return None;
            }
        };
        let latest_task = self
            .context
            .latest_task
            .or_else(|| compact::find_latest_task(&self.messages));
        let plan = self.plan().cloned();
        let mut next_call_id = self.next_call_id;
        let Assembled {
            messages,
            latest_task,
            summarised,
        } = compact::assemble(
            &self.messages,
            split,
            latest_task,
            plan.as_ref(),
            &note,
            || {
                let id = format!("call_{next_call_id}");
                next_call_id += 1;
                id
            },
        );
        self.next_call_id = next_call_id;
        // The note and the kept turns may still be too big (long turns,
        // big recent outputs): then the oldest turns go whole.
        let Dropped {
            messages,
            latest_task,
            dropped,
            ..
        } = self.drop_to_target(&messages, latest_task);
        self.adopt(
            reason,
            tokens_before,
            Outcome {
                messages,
                latest_task,
                elided: Vec::new(),
                summarised,
                summary: Some(note),
                dropped,
            },
            Some(usage),
        );
        Some(usage)
    }

    /// When no hand-off note can be had: the conversation with old tool
    /// outputs elided (`messages`, which keeps every message in place)
    /// and, where that is still over the target, its oldest turns dropped.
    /// Returns whether anything was compacted.
    fn fall_back(
        &mut self,
        reason: CompactionReason,
        tokens_before: u64,
        messages: Vec<Message>,
        elided: Vec<ElidedOutput>,
    ) -> bool {
        let latest_task = self
            .context
            .latest_task
            .or_else(|| compact::find_latest_task(&self.messages));
        let Dropped {
            messages,
            latest_task,
            dropped,
            ..
        } = self.drop_to_target(&messages, latest_task);
        if elided.is_empty() && dropped.is_empty() {
            return false;
        }
        let outcome = Outcome {
            messages,
            latest_task,
            elided,
            summarised: Vec::new(),
            summary: None,
            dropped,
        };
        self.adopt(reason, tokens_before, outcome, None);
        true
    }

    /// `messages` unchanged while its prompt is estimated under the
    /// threshold (or the window is unknown); else with its oldest turns
    /// dropped until it is at the target (half the threshold, so that the
    /// next compaction is many turns away, not the next turn).
    fn drop_to_target(&mut self, messages: &[Message], latest_task: Option<usize>) -> Dropped {
        let settings = self.config.guards.compaction;
        let tools_bytes = self.tools_bytes();
        let over = |window: u64| {
            self.context.budget.fresh(messages, tools_bytes) >= settings.threshold(window)
        };
        let Some(window) = self.config.model.context_window().filter(|&w| over(w)) else {
            return Dropped {
                messages: messages.to_vec(),
                latest_task,
                dropped: Vec::new(),
                fits: true,
            };
        };
        let target = settings.target(window);
        let plan = self.plan().cloned();
        let mut next_call_id = self.next_call_id;
        let budget = &self.context.budget;
        let dropped = compact::drop_oldest_turns(
            messages,
            latest_task,
            plan.as_ref(),
            || {
                let id = format!("call_{next_call_id}");
                next_call_id += 1;
                id
            },
            |messages| budget.fresh(messages, tools_bytes) <= target,
        );
        self.next_call_id = next_call_id;
        dropped
    }

    /// One model turn, without tools run, that writes the hand-off note.
    /// The tool list is still sent, so the prompt extends the last one.
    async fn summary_turn(
        &self,
        messages: Vec<Message>,
        cancel: &CancellationToken,
    ) -> Result<(String, Usage), String> {
        let request = TurnRequest {
            messages,
            tools: self.config.tools.specs(),
            thinking: self.config.thinking,
        };
        let mut stream = self.config.model.stream_turn(request);
        let mut text = String::new();
        let mut usage = Usage::default();
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err("cancelled".into()),
                item = stream.next() => item,
            };
            match item {
                None => break,
                Some(Err(error)) => return Err(error.to_string()),
                Some(Ok(ModelEvent::TextDelta(delta))) => text.push_str(&delta),
                Some(Ok(ModelEvent::Usage(counts))) => usage = counts,
                // Reasoning is not part of the note, and no call is run.
                Some(Ok(_)) => {}
            }
        }
        let note = text.trim();
        if note.is_empty() {
            return Err("it wrote no text".into());
        }
        Ok((note.to_string(), usage))
    }

    /// Stage 1 was enough (or all there is): the conversation with old tool
    /// outputs elided, every message still in place.
    fn adopt_elided(
        &mut self,
        reason: CompactionReason,
        tokens_before: u64,
        messages: Vec<Message>,
        elided: Vec<ElidedOutput>,
    ) {
        let latest_task = self.context.latest_task;
        let outcome = Outcome {
            messages,
            latest_task,
            elided,
            summarised: Vec::new(),
            summary: None,
            dropped: Vec::new(),
        };
        self.adopt(reason, tokens_before, outcome, None);
    }

    /// Replaces the conversation with a compacted one: recorded whole in
    /// the session log, then announced.
    fn adopt(
        &mut self,
        reason: CompactionReason,
        tokens_before: u64,
        outcome: Outcome,
        usage: Option<Usage>,
    ) {
        self.messages = outcome.messages;
        self.context.latest_task = outcome.latest_task;
        self.context.budget.forget();
        let tokens_after = self
            .context
            .budget
            .fresh(&self.messages, self.tools_bytes());
        self.record_compaction(CompactionRecord {
            time: now(),
            reason,
            tokens_before,
            tokens_after,
            elided: outcome.elided.clone(),
            summarised: outcome
                .summarised
                .iter()
                .cloned()
                .chain(
                    outcome
                        .dropped
                        .iter()
                        .map(|line| format!("{DROPPED_PREFIX}{line}")),
                )
                .collect(),
            summary: outcome.summary.clone(),
            summary_prompt_tokens: usage.and_then(|u| u.prompt_tokens),
            summary_completion_tokens: usage.and_then(|u| u.completion_tokens),
            messages: self.messages.clone(),
        });
        self.emit(Event::Compacted {
            reason,
            tokens_before,
            tokens_after,
            elided: outcome.elided,
            summarised: outcome.summarised.len(),
            summary: outcome.summary,
        });
        if !outcome.dropped.is_empty() {
            self.emit(Event::Warning {
                message: format!(
                    "compaction could not bring the conversation far enough under the context window by eliding old tool outputs and writing a hand-off note, so it dropped the {} oldest messages whole (your latest request, pinned notes and the plan stay); /compacted lists them",
                    outcome.dropped.len()
                ),
            });
        }
        let settings = self.config.guards.compaction;
        if let Some(window) = self.config.model.context_window()
            && tokens_after >= settings.threshold(window)
        {
            self.context.given_up = true;
            self.emit(Event::Warning {
                message: format!(
                    "after compacting, the conversation still holds about {tokens_after} of the {window}-token context window (the last turns, pinned notes and your request are kept whole); glint will not compact again this run: start a new conversation (/new), lower compaction.keep_turns or raise --max-context"
                ),
            });
        }
    }

    fn nothing_to_compact(&mut self, reason: CompactionReason, tokens: u64, window: Option<u64>) {
        let message = match reason {
            CompactionReason::Requested => {
                "nothing to compact yet: the conversation is only its last turns".to_string()
            }
            CompactionReason::Threshold => format!(
                "the next prompt holds about {tokens} of the {}-token context window and only the last turns are left, which compaction keeps; start a new conversation (/new) or raise compaction.threshold or --max-context",
                window.unwrap_or(0)
            ),
        };
        if reason == CompactionReason::Threshold {
            self.context.given_up = true;
        }
        self.emit(Event::Warning { message });
    }

    /// The size of the tool list the prompt holds.
    fn tools_bytes(&self) -> usize {
        self.config
            .tools
            .specs()
            .iter()
            .map(|spec| spec.0.to_string().len())
            .sum()
    }
}

/// The highest `N` of the `call_N` ids glint gave calls in `messages`.
pub(super) fn highest_call_number(messages: &[Message]) -> usize {
    messages
        .iter()
        .flat_map(|message| match message {
            Message::Assistant { tool_calls, .. } => tool_calls.as_slice(),
            _ => &[],
        })
        .filter_map(|call| call.id.strip_prefix("call_")?.parse().ok())
        .max()
        .unwrap_or(0)
}
