//! The run's side of the session log (see [`crate::session`]): every
//! message goes through [`Session::push`], which records it as it joins
//! the conversation; turn usage, run outcomes and checkpoints are read off
//! the events the run emits, so the loop itself only pushes and emits.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Session;
use crate::agent::Event;
use crate::conversation::Message;
use crate::session::{CallOutcome, Record, SessionError, SessionLog, checkpoint_marks};

/// A session log and what recording to it needs between events.
pub(super) struct Recorder {
    log: SessionLog,
    /// The checkpoints that existed before the mutating call in progress.
    marks: Mutex<Option<HashSet<(u32, String)>>>,
    /// The user was told the log stopped (once is enough).
    warned: AtomicBool,
}

impl Session {
    /// Records everything from now on to `log`.
    pub(in crate::agent) fn set_log(&mut self, log: Option<SessionLog>) {
        self.recorder = log.map(|log| Recorder {
            log,
            marks: Mutex::new(None),
            warned: AtomicBool::new(false),
        });
    }

    /// Appends a message to the conversation and to the session log.
    pub(super) fn push(&mut self, message: Message) {
        self.record_message(&message, false);
        self.messages.push(message);
    }

    /// Appends a tool call's result, recording how the call ended (a
    /// resume shows it).
    pub(super) fn push_tool_result(&mut self, message: Message, outcome: CallOutcome) {
        if let Some(recorder) = &self.recorder {
            let result = recorder.log.tool_result(&message, outcome);
            self.log_failed(recorder, result);
        }
        self.messages.push(message);
    }

    /// Appends the user message that starts a run.
    pub(super) fn push_task(&mut self, task: String) {
        let message = Message::user(task);
        self.record_message(&message, true);
        self.messages.push(message);
    }

    fn record_message(&self, message: &Message, task: bool) {
        if let Some(recorder) = &self.recorder {
            let result = recorder.log.message(message, task);
            self.log_failed(recorder, result);
        }
    }

    /// Records a compaction (with the conversation after it).
    pub(super) fn record_compaction(&self, record: crate::session::record::CompactionRecord) {
        if let Some(recorder) = &self.recorder {
            let result = recorder.log.record(&Record::Compaction(record));
            self.log_failed(recorder, result);
        }
    }

    /// Records what `event` says about the session (usage, outcomes,
    /// checkpoints); called with every event the run emits.
    pub(super) fn record_event(&self, event: &Event) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let result = match event {
            Event::TurnFinished {
                turn,
                usage,
                finish_reason,
                ..
            } => recorder.log.record(&Record::Usage {
                turn: *turn,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                finish_reason: name_of(finish_reason),
            }),
            Event::RunFinished { status, turns, .. } => recorder.log.record(&Record::Run {
                status: name_of(status).unwrap_or_default(),
                turns: *turns,
            }),
            Event::ToolCallStarted { name, .. } if crate::checkpoint::is_mutating(name) => {
                if let Some(store) = self.config.tools.checkpoints() {
                    let marks = checkpoint_marks(store);
                    *recorder.marks.lock().unwrap_or_else(|p| p.into_inner()) = Some(marks);
                }
                Ok(())
            }
            Event::ToolCallFinished { .. } => {
                let marks = recorder
                    .marks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                match (marks, self.config.tools.checkpoints()) {
                    (Some(marks), Some(store)) => recorder.log.new_checkpoints(store, &marks),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        };
        self.log_failed(recorder, result);
    }

    /// Warns the user, once, that the session log stopped.
    fn log_failed(&self, recorder: &Recorder, result: Result<(), SessionError>) {
        if let Err(error) = result
            && !recorder.warned.swap(true, Ordering::Relaxed)
        {
            let _ = self.events.send(Event::Warning {
                message: error.to_string(),
            });
        }
    }
}

/// A unit enum's serde name (`completed`, `tool_calls`).
fn name_of(value: &impl serde::Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}
