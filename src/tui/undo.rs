//! `/undo [N] [--force]` and `/checkpoints` in the app: the same
//! checkpoints as `glint undo`, for this session. After an undo, the model
//! is told at the next message which of its changes were taken back.

use std::sync::Arc;

use super::app::App;
use super::commands::SlashCommand;
use super::transcript::Entry;
use crate::checkpoint::{CheckpointError, Checkpoints, files_line};

/// The session's checkpoints and the note owed to the model.
#[derive(Debug, Default)]
pub struct UndoState {
    store: Option<Arc<Checkpoints>>,
    /// What the model must be told with the next message.
    note: Option<String>,
}

impl UndoState {
    /// `text` with the pending undo note (if any) in front of it, once.
    pub fn with_note(&mut self, text: String) -> String {
        match self.note.take() {
            Some(note) => format!("{note}\n{text}"),
            None => text,
        }
    }
}

/// Reads `/undo`'s argument: an optional count and an optional `--force`.
pub fn parse_undo(arg: &str) -> Result<SlashCommand, String> {
    let mut count = 1;
    let mut force = false;
    for word in arg.split_whitespace() {
        match word {
            "--force" => force = true,
            _ => match word.parse::<usize>() {
                Ok(n) if n >= 1 => count = n,
                _ => {
                    return Err(format!(
                        "/undo takes a count and --force (got `{word}`), e.g. /undo 2"
                    ));
                }
            },
        }
    }
    Ok(SlashCommand::Undo { count, force })
}

impl App {
    /// Lets `/undo` and `/checkpoints` use the session's checkpoints (none:
    /// they say that changes are not being recorded).
    pub fn set_checkpoints(&mut self, store: Option<Arc<Checkpoints>>) {
        self.checkpoints.store = store;
    }

    /// Runs `/undo` or `/checkpoints`.
    pub(super) fn run_checkpoint_command(&mut self, command: SlashCommand) {
        let Some(store) = self.checkpoints.store.clone() else {
            self.push_entry(Entry::Error(
                "changes are not being recorded in this session, so there is nothing to undo"
                    .into(),
            ));
            return;
        };
        match command {
            SlashCommand::Checkpoints => {
                let text = match store.list() {
                    Ok(list) if list.is_empty() => "no checkpoints yet in this session".into(),
                    Ok(list) => list
                        .iter()
                        .rev()
                        .map(|c| {
                            format!(
                                "#{} {} {}: {}",
                                c.id,
                                c.meta.time,
                                c.meta.tool,
                                files_line(&c.meta.files)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Err(error) => {
                        self.push_entry(Entry::Error(format!("/checkpoints: {error}")));
                        return;
                    }
                };
                self.push_entry(Entry::Notice(text));
            }
            SlashCommand::Undo { .. } if self.running => {
                self.push_entry(Entry::Error(
                    "a turn is running; press Esc to interrupt it before /undo".into(),
                ));
            }
            SlashCommand::Undo { count, force } => match store.undo(count, force) {
                Ok(report) => {
                    let lines: Vec<String> = report
                        .undone
                        .iter()
                        .map(|c| {
                            format!("#{} {}: {}", c.id, c.meta.tool, files_line(&c.meta.files))
                        })
                        .collect();
                    self.push_entry(Entry::Notice(format!("undid:\n{}", lines.join("\n"))));
                    let note = report.note_for_model();
                    self.checkpoints.note = Some(match self.checkpoints.note.take() {
                        Some(earlier) => format!("{earlier}{note}"),
                        None => note,
                    });
                }
                Err(error @ CheckpointError::Conflict(_)) => {
                    self.push_entry(Entry::Error(format!(
                        "{error} (in the app: /undo {count} --force)"
                    )));
                }
                Err(error) => self.push_entry(Entry::Error(format!("/undo: {error}"))),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_count_and_force() {
        let undo = |count, force| Ok(SlashCommand::Undo { count, force });
        assert_eq!(parse_undo(""), undo(1, false));
        assert_eq!(parse_undo("3"), undo(3, false));
        assert_eq!(parse_undo("--force 2"), undo(2, true));
        assert!(parse_undo("0").is_err());
        assert!(parse_undo("all").is_err());
    }

    #[test]
    fn the_note_goes_with_the_next_message_only() {
        let mut state = UndoState {
            store: None,
            note: Some("[glint] undone\n".into()),
        };
        assert_eq!(state.with_note("hi".into()), "[glint] undone\n\nhi");
        assert_eq!(state.with_note("again".into()), "again");
    }
}
