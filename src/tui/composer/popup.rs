//! The completion popup under the composer's text: workspace files for
//! `@path`, or slash commands when the text starts with `/`.

use std::ops::Range;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::theme::Theme;

/// Most rows the popup takes; longer lists scroll.
pub const MAX_ROWS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopupKind {
    Files,
    Commands,
}

/// One choice in the popup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopupItem {
    /// What is shown (a path, or `/name`).
    pub label: String,
    /// A dim note after the label (a command's help).
    pub detail: String,
    /// Char indices of `label` that matched the query (drawn highlighted).
    pub matched: Vec<usize>,
}

/// The popup's state: what it completes, the token it would replace, the
/// choices and the selection.
#[derive(Clone, Debug)]
pub struct Popup {
    pub kind: PopupKind,
    /// Byte range of the token (`@src/ma`, `/mo`) in the composer's text.
    pub token: Range<usize>,
    pub items: Vec<PopupItem>,
    /// Shown instead of items when there are none (e.g. still indexing).
    pub empty_note: &'static str,
    selected: usize,
    scroll: usize,
}

impl Popup {
    pub fn new(
        kind: PopupKind,
        token: Range<usize>,
        items: Vec<PopupItem>,
        empty_note: &'static str,
    ) -> Popup {
        Popup {
            kind,
            token,
            items,
            empty_note,
            selected: 0,
            scroll: 0,
        }
    }

    /// Keeps the selection of `previous` when it showed the same choices.
    pub fn keep_selection_from(&mut self, previous: &Popup) {
        if previous.kind == self.kind && previous.items == self.items {
            self.selected = previous.selected;
            self.scroll = previous.scroll;
        }
    }

    pub fn selected(&self) -> Option<&PopupItem> {
        self.items.get(self.selected)
    }

    /// Moves the selection down, wrapping around.
    pub fn select_next(&mut self) {
        if !self.items.is_empty() {
            self.selected = (self.selected + 1) % self.items.len();
            self.follow_selection();
        }
    }

    /// Moves the selection up, wrapping around.
    pub fn select_previous(&mut self) {
        if !self.items.is_empty() {
            self.selected = (self.selected + self.items.len() - 1) % self.items.len();
            self.follow_selection();
        }
    }

    fn follow_selection(&mut self) {
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + MAX_ROWS {
            self.scroll = self.selected + 1 - MAX_ROWS;
        }
    }

    /// Rows the popup wants: its items (at most [`MAX_ROWS`]), or one for
    /// the note.
    pub fn height(&self) -> u16 {
        self.items.len().clamp(1, MAX_ROWS) as u16
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        if self.items.is_empty() {
            let line = Line::from(Span::styled(format!("  {}", self.empty_note), theme.dim));
            buf.set_line(area.x, area.y, &line, area.width);
            return;
        }
        let label_width = self
            .items
            .iter()
            .map(|item| unicode_width::UnicodeWidthStr::width(item.label.as_str()))
            .max()
            .unwrap_or(0);
        let rows = self
            .items
            .iter()
            .enumerate()
            .skip(self.scroll)
            .take(area.height as usize);
        for (row, (index, item)) in rows.enumerate() {
            let y = area.y + row as u16;
            let selected = index == self.selected;
            let line = item_line(item, label_width, selected, theme);
            let row_area = Rect::new(area.x, y, area.width, 1);
            if selected {
                buf.set_style(row_area, theme.selection);
            }
            buf.set_line(area.x, y, &line, area.width);
        }
    }
}

/// One popup row: a marker, the label with matched chars highlighted, and
/// the detail in dim text aligned after the longest label.
fn item_line(item: &PopupItem, label_width: usize, selected: bool, theme: &Theme) -> Line<'static> {
    let base = if selected {
        theme.text.patch(theme.selection)
    } else {
        theme.text
    };
    let highlight = base.patch(theme.accent);
    let mut spans = vec![Span::styled(if selected { "› " } else { "  " }, base)];
    let mut run = String::new();
    let mut run_matched = false;
    for (i, c) in item.label.chars().enumerate() {
        let matched = item.matched.contains(&i);
        if matched != run_matched && !run.is_empty() {
            let style = if run_matched { highlight } else { base };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_matched = matched;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(
            run,
            if run_matched { highlight } else { base },
        ));
    }
    if !item.detail.is_empty() {
        let pad = label_width - unicode_width::UnicodeWidthStr::width(item.label.as_str()) + 2;
        let dim = if selected {
            theme.dim.patch(theme.selection)
        } else {
            theme.dim
        };
        spans.push(Span::styled(" ".repeat(pad), base));
        spans.push(Span::styled(item.detail.clone(), dim));
    }
    Line::from(spans)
}
