//! `/compact`, `/pin` and `/compacted` in the app, and how it shows a
//! compaction (see [`crate::agent::compact`]). The app only asks; the agent
//! compacts, and the session log is where `/compacted` reads what each
//! compaction elided, summarised and dropped (also those before a resume).

use ratatui::text::Line;

use super::app::{App, Effect};
use super::commands::SlashCommand;
use super::pager::Pager;
use super::transcript::Entry;
use crate::agent::compact::{CompactionReason, compacted_line};
use crate::agent::{Event, Op};
use crate::session::record::CompactionRecord;

impl App {
    /// `/compact`, `/pin TEXT` and `/compacted`.
    pub(super) fn run_compaction_command(&mut self, command: SlashCommand) -> Vec<Effect> {
        let needs_model = matches!(command, SlashCommand::Compact | SlashCommand::Pin(_));
        if needs_model && !self.model_ready() {
            self.push_entry(Entry::Error(
                "the model is not ready yet; try again once the status line says ready".into(),
            ));
            return Vec::new();
        }
        let when = if self.running {
            "before the model's next turn"
        } else {
            "now"
        };
        match command {
            SlashCommand::Compact => {
                self.push_entry(Entry::Notice(format!(
                    "the conversation will be compacted {when}"
                )));
                vec![Effect::Op(Op::Compact)]
            }
            SlashCommand::Pin(text) => {
                self.push_entry(Entry::Notice(format!(
                    "pinned (the model sees it {when}; every compaction keeps it): {text}"
                )));
                vec![Effect::Op(Op::Pin { text })]
            }
            SlashCommand::Compacted => vec![Effect::ShowCompactions],
            _ => Vec::new(),
        }
    }

    /// A compaction starting or done (agent events).
    pub(super) fn on_compaction_event(&mut self, event: Event) {
        match event {
            Event::CompactionStarted { reason, tokens } => {
                let why = match reason {
                    CompactionReason::Threshold => {
                        format!("the prompt reached {tokens} tokens")
                    }
                    CompactionReason::Requested => "as asked".to_string(),
                };
                self.push_entry(Entry::Notice(format!(
                    "compacting the conversation ({why})…"
                )));
            }
            Event::Compacted {
                reason,
                tokens_before,
                tokens_after,
                elided,
                summarised,
                ..
            } => {
                self.status.context_used = Some(tokens_after);
                let line = compacted_line(
                    reason,
                    tokens_before,
                    tokens_after,
                    elided.len(),
                    summarised,
                );
                self.push_entry(Entry::Notice(format!("{line}; /compacted shows what")));
            }
            _ => {}
        }
    }

    /// The answer to `/compacted`: every compaction of the session, oldest
    /// first, in the pager.
    pub fn show_compactions(&mut self, compactions: Result<Vec<CompactionRecord>, String>) {
        match compactions {
            Ok(list) if list.is_empty() => self.push_entry(Entry::Notice(
                "no compactions in this session yet (/compact compacts now)".into(),
            )),
            Ok(list) => {
                let lines = compaction_report(&list)
                    .lines()
                    .map(|line| Line::from(line.to_string()))
                    .collect();
                self.pager = Some(Pager::from_lines("compactions", lines));
                self.dirty = true;
            }
            Err(error) => self.push_entry(Entry::Error(format!("/compacted: {error}"))),
        }
    }
}

/// What each compaction elided, summarised and dropped, as text.
pub fn compaction_report(compactions: &[CompactionRecord]) -> String {
    let mut out = String::new();
    for (index, record) in compactions.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let line = compacted_line(
            record.reason,
            record.tokens_before,
            record.tokens_after,
            record.elided.len(),
            record.replaced().count(),
        );
        out.push_str(&format!(
            "compaction {} at {}: {line}\n",
            index + 1,
            record.time
        ));
        if !record.elided.is_empty() {
            out.push_str("  tool outputs elided (call the tool again to see one):\n");
            for output in &record.elided {
                out.push_str(&format!("    {} ({} lines)\n", output.call, output.lines));
            }
        }
        let replaced: Vec<&str> = record.replaced().collect();
        if !replaced.is_empty() {
            out.push_str("  messages replaced by the hand-off note:\n");
            for line in replaced {
                out.push_str(&format!("    {line}\n"));
            }
        }
        let dropped: Vec<&str> = record.dropped().collect();
        if !dropped.is_empty() {
            out.push_str(
                "  messages dropped whole to fit the context window (eliding and the note were not enough):\n",
            );
            for line in dropped {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(summary) = &record.summary {
            out.push_str("  hand-off note:\n");
            for line in summary.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}
