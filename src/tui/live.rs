//! The model turn being streamed: reasoning so far, the markdown text split
//! into committed rows (already in scrollback) and the pending tail (drawn
//! in the live area), and the tool call that is running.

use std::time::Instant;

use ratatui::text::Line;

use super::markdown::MarkdownStream;
use super::theme::Theme;

/// One model turn in progress.
pub struct LiveTurn {
    pub reasoning: String,
    /// Whether the reasoning went to the transcript (it ends when text or a
    /// tool call starts).
    pub reasoning_done: bool,
    /// The visible text so far, whole, for the transcript entry.
    pub text: String,
    stream: MarkdownStream,
    /// Whether rows of the current text block reached the scrollback.
    pub text_started: bool,
    /// The call running now: its name and key argument.
    pub running_tool: Option<(String, Option<String>)>,
    /// Deltas received, standing in for tokens until the engine's count.
    pub deltas: u64,
    pub started: Instant,
}

impl LiveTurn {
    pub fn new(now: Instant) -> LiveTurn {
        LiveTurn {
            reasoning: String::new(),
            reasoning_done: false,
            text: String::new(),
            stream: MarkdownStream::new(),
            text_started: false,
            running_tool: None,
            deltas: 0,
            started: now,
        }
    }

    pub fn push_text(&mut self, delta: &str) {
        self.text.push_str(delta);
        self.stream.push(delta);
    }

    /// Rows of the text that can no longer change.
    pub fn take_committed(&mut self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        self.stream.take_committed(width, theme)
    }

    /// The text's tail that may still change, for the live area.
    pub fn pending(&self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        self.stream.pending(width, theme)
    }

    /// Ends the current text block: its remaining rows and its whole source
    /// (empty when the model wrote no text). A later block starts afresh.
    pub fn finish_text(&mut self, width: u16, theme: &Theme) -> (Vec<Line<'static>>, String) {
        let rows = self.stream.finish(width, theme);
        self.stream = MarkdownStream::new();
        self.text_started = false;
        (rows, std::mem::take(&mut self.text))
    }

    /// Deltas per second since the turn started.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let elapsed = now.duration_since(self.started).as_secs_f64();
        (elapsed > 0.05 && self.deltas > 0).then(|| self.deltas as f64 / elapsed)
    }
}
