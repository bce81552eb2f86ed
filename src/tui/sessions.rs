//! `/sessions` and `/resume [ID]` in the app, and the composer history
//! from past sessions (see [`crate::session`]). The app only asks; the loop
//! reads the logs and restarts the agent on the resumed conversation
//! ([`super::session::Session::resume`]), then shows it here.

use std::collections::HashMap;

use super::app::{App, Effect};
use super::transcript::{Entry, ToolEntry, key_argument};
use crate::conversation::Message;
use crate::session::{CallOutcome, Continued, Summary, format_table};
use crate::tools::one_line;

impl App {
    /// `/resume [ID]`: asks the loop to take the session up, unless a run
    /// is going.
    pub(super) fn request_resume(&mut self, id: Option<String>) -> Vec<Effect> {
        if self.running {
            self.push_entry(Entry::Error(
                "a turn is running; press Esc to interrupt it first".into(),
            ));
            return Vec::new();
        }
        vec![Effect::Resume(id)]
    }

    /// The answer to `/sessions`.
    pub fn show_sessions(&mut self, sessions: Result<Vec<Summary>, String>) {
        match sessions {
            Ok(list) if list.is_empty() => {
                self.push_entry(Entry::Notice("no sessions in this workspace yet".into()))
            }
            Ok(list) => self.push_entry(Entry::Notice(format!(
                "{}/resume ID takes one up again",
                format_table(&list)
            ))),
            Err(error) => self.push_entry(Entry::Error(format!("/sessions: {error}"))),
        }
    }

    /// A session was taken up again: its conversation replaces the one on
    /// screen, shown as it went (messages, answers, tool calls).
    /// Each tool call shows how it ended, as the log recorded it.
    pub fn on_resumed_session(&mut self, resumed: &Continued) {
        self.replay(
            resumed.log.id(),
            &resumed.messages,
            &resumed.outcomes,
            &resumed.warnings,
        );
    }

    /// [`App::on_resumed_session`] for a conversation without recorded
    /// outcomes: each tool call shows as succeeded.
    pub fn on_resumed(&mut self, id: &str, messages: &[Message], warnings: &[String]) {
        self.replay(id, messages, &HashMap::new(), warnings);
    }

    fn replay(
        &mut self,
        id: &str,
        messages: &[Message],
        outcomes: &HashMap<String, CallOutcome>,
        warnings: &[String],
    ) {
        self.reset_conversation();
        for warning in warnings {
            self.push_entry(Entry::Warning(warning.clone()));
        }
        let mut calls = HashMap::new();
        for message in messages {
            match message {
                Message::System { .. } => {}
                Message::User { content } => self.push_entry(Entry::User(content.clone())),
                Message::Assistant {
                    content,
                    reasoning_content,
                    tool_calls,
                    ..
                } => {
                    if let Some(reasoning) = reasoning_content
                        && !reasoning.trim().is_empty()
                    {
                        self.push_entry(Entry::Reasoning(reasoning.trim().to_string()));
                    }
                    if !content.trim().is_empty() {
                        self.push_entry(Entry::Assistant(content.clone()));
                    }
                    for call in tool_calls {
                        calls.insert(call.id.clone(), call);
                    }
                }
                Message::Tool {
                    tool_call_id,
                    content,
                } => {
                    let call = calls.get(tool_call_id);
                    // A log from before outcomes were recorded: the result
                    // alone, as succeeded.
                    let (ok, summary) = match outcomes.get(tool_call_id) {
                        Some(outcome) if !outcome.summary.is_empty() => {
                            (outcome.ok, outcome.summary.clone())
                        }
                        Some(outcome) => (outcome.ok, one_line(content, 120)),
                        None => (true, one_line(content, 120)),
                    };
                    self.push_entry(Entry::Tool(ToolEntry {
                        name: call.map_or_else(|| "tool".into(), |c| c.function.name.clone()),
                        target: call.and_then(|c| key_argument(&c.function.arguments)),
                        ok,
                        summary,
                        output: content.clone(),
                    }));
                }
            }
        }
        self.push_entry(Entry::Notice(format!(
            "resumed session {id}; your next message continues it"
        )));
    }

    /// Messages from past sessions of the workspace, newest last, for Up.
    pub fn seed_history(&mut self, past: Vec<String>) {
        self.composer.seed_history(past);
    }
}
