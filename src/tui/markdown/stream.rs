//! Rendering a markdown answer while it streams in.
//!
//! The text is cut into chunks at the split points [`ChunkScanner`] finds;
//! a chunk before a split can no longer change, so it is rendered once,
//! handed out by [`MarkdownStream::take_committed`] and dropped. Only the
//! uncommitted tail is kept and re-rendered (for the live area), and even that
//! only when text arrived or the width changed since the last call.

use std::cell::RefCell;

use ratatui::text::Line;

use super::blocks::{ChunkScanner, Split};
use super::render::render_chunk;
use crate::tui::theme::Theme;

/// Collects a streamed markdown text and renders it in final pieces.
///
/// Everything [`take_committed`](Self::take_committed) and
/// [`finish`](Self::finish) return, concatenated, equals
/// [`render_markdown`](super::render_markdown) of the whole text at the same
/// width, however the text was split into deltas.
#[derive(Debug, Default)]
pub struct MarkdownStream {
    /// The uncommitted tail of the text.
    tail: String,
    /// How far into `tail` complete lines have been fed to the scanner.
    scanned: usize,
    scanner: ChunkScanner,
    /// Offsets in `tail` where found chunks end, in order.
    splits: Vec<usize>,
    /// Whether a chunk with lines has been handed out (later chunks then
    /// start with a blank line).
    emitted_lines: bool,
    /// Counts changes to `tail`, so `pending` knows when its cache is stale.
    revision: u64,
    pending_cache: RefCell<Option<PendingCache>>,
}

#[derive(Debug)]
struct PendingCache {
    revision: u64,
    width: u16,
    theme: Theme,
    lines: Vec<Line<'static>>,
}

impl MarkdownStream {
    pub fn new() -> MarkdownStream {
        MarkdownStream::default()
    }

    /// Appends a piece of the text.
    pub fn push(&mut self, delta: &str) {
        if !delta.is_empty() {
            self.tail.push_str(delta);
            self.revision += 1;
        }
    }

    /// The lines of every chunk that became final since the last call; each
    /// line is returned once, ever.
    pub fn take_committed(&mut self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        self.scan_complete_lines();
        self.commit_splits(width, theme)
    }

    /// The not-yet-committed tail rendered as it stands, for the live area.
    /// Not final: the same text comes back from `take_committed` or `finish`
    /// once its blocks are complete.
    pub fn pending(&self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        let mut cache = self.pending_cache.borrow_mut();
        let fresh = cache.as_ref().filter(|cached| {
            cached.revision == self.revision && cached.width == width && cached.theme == *theme
        });
        if let Some(cached) = fresh {
            return cached.lines.clone();
        }
        let lines = self.render_with_separator(&self.tail, width, theme);
        *cache = Some(PendingCache {
            revision: self.revision,
            width,
            theme: theme.clone(),
            lines: lines.clone(),
        });
        lines
    }

    /// Everything not yet committed, at the end of the turn; the stream is
    /// empty afterwards, ready for a new text.
    pub fn finish(&mut self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        self.scan_complete_lines();
        if self.scanned < self.tail.len() {
            let last_line = &self.tail[self.scanned..];
            match self.scanner.feed(last_line) {
                Some(Split::BeforeLine) => self.splits.push(self.scanned),
                Some(Split::AfterLine) => self.splits.push(self.tail.len()),
                None => {}
            }
            self.scanned = self.tail.len();
        }
        let mut lines = self.commit_splits(width, theme);
        let rest = std::mem::take(&mut self.tail);
        lines.extend(self.render_with_separator(&rest, width, theme));
        *self = MarkdownStream::new();
        lines
    }

    /// Feeds every newly completed line to the scanner, noting the splits.
    fn scan_complete_lines(&mut self) {
        while let Some(newline) = self.tail[self.scanned..].find('\n') {
            let start = self.scanned;
            let end = start + newline + 1;
            match self.scanner.feed(&self.tail[start..end]) {
                Some(Split::BeforeLine) => self.splits.push(start),
                Some(Split::AfterLine) => self.splits.push(end),
                None => {}
            }
            self.scanned = end;
        }
    }

    /// Renders the chunks before the noted splits and drops their text.
    fn commit_splits(&mut self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        let mut start = 0;
        for split in std::mem::take(&mut self.splits) {
            let chunk = &self.tail[start..split];
            lines.extend(self.render_with_separator(chunk, width, theme));
            if !lines.is_empty() {
                self.emitted_lines = true;
            }
            start = split;
        }
        if start > 0 {
            self.tail.drain(..start);
            self.scanned -= start;
            self.revision += 1;
        }
        lines
    }

    /// A chunk's lines, after a blank line if earlier chunks had lines.
    fn render_with_separator(&self, chunk: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        let lines = render_chunk(chunk, width, theme);
        if self.emitted_lines && !lines.is_empty() {
            std::iter::once(Line::default()).chain(lines).collect()
        } else {
            lines
        }
    }
}
