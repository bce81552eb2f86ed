//! Drawing the review view full-screen: a title row (the file, the focused
//! hunk, the file's tally), the diff rows on screen, and a footer (the note
//! or a notice, then the keys). Rows were laid out when the file was opened,
//! so a frame copies only the rows on screen: its cost does not grow with
//! the diff.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use super::ReviewView;
use super::file::{FileView, HunkState, RowKind};
use crate::tui::theme::Theme;
use crate::tui::wrap::wrap_with_prefix;

impl ReviewView {
    /// Draws the view over the whole frame.
    pub fn draw(&mut self, frame: &mut Frame<'_>, theme: &Theme) {
        let area = frame.area();
        if area.height < 3 || area.width < 10 {
            return;
        }
        let footer = self.footer(area.width, theme);
        let footer_height = (footer.len() as u16).min(area.height - 2);
        let body = Rect {
            y: area.y + 1,
            height: area.height - 1 - footer_height,
            ..area
        };
        self.page = usize::from(body.height);
        let buf = frame.buffer_mut();
        buf.set_line(area.x, area.y, &self.title(theme), area.width);
        self.draw_body(body, buf, theme);
        for (index, line) in footer.iter().take(usize::from(footer_height)).enumerate() {
            let y = body.bottom() + index as u16;
            buf.set_line(area.x, y, line, area.width);
        }
    }

    fn title(&self, theme: &Theme) -> Line<'static> {
        let Some(file) = self.files.get(self.file) else {
            return Line::styled(" review: nothing to review ", theme.dim);
        };
        let bold = theme.text.add_modifier(Modifier::BOLD);
        let mut spans = vec![
            Span::styled(
                format!(" review {} ", self.tool),
                theme.accent.add_modifier(Modifier::REVERSED),
            ),
            Span::styled(format!(" {}", file.path), bold),
        ];
        let kind = match (file.is_new(), file.is_edited()) {
            (true, true) => " (new file, edited by you)",
            (true, false) => " (new file)",
            (false, true) => " (edited by you)",
            (false, false) => "",
        };
        spans.push(Span::styled(kind, theme.warning));
        if self.files.len() > 1 {
            spans.push(Span::styled(
                format!(" · file {} of {}", self.file + 1, self.files.len()),
                theme.dim,
            ));
        }
        spans.push(Span::styled(
            format!(" · hunk {} of {}", self.slot + 1, file.states.len()),
            theme.dim,
        ));
        for state in [HunkState::Accepted, HunkState::Rejected, HunkState::Pending] {
            let count = file.count(state);
            if count > 0 {
                let word = match state {
                    HunkState::Accepted => "accepted",
                    HunkState::Rejected => "rejected",
                    HunkState::Pending => "pending",
                };
                spans.push(Span::styled(
                    format!(" · {count} {word}"),
                    state_style(state, theme),
                ));
            }
        }
        if self.x > 0 {
            spans.push(Span::styled(
                format!(" · from column {}", self.x + 1),
                theme.dim,
            ));
        }
        Line::from(spans)
    }

    fn draw_body(&mut self, body: Rect, buf: &mut Buffer, theme: &Theme) {
        let slot = self.slot;
        let reveal = std::mem::take(&mut self.reveal);
        let x = usize::from(self.x);
        let Some(file) = self.files.get_mut(self.file) else {
            return;
        };
        let height = usize::from(body.height);
        if reveal {
            let focused = file.slot_rows(slot);
            if focused.start < file.top || focused.len() > height {
                file.top = focused.start;
            } else if focused.end > file.top + height {
                file.top = focused.end - height;
            }
        }
        file.top = file.top.min(file.rows.len().saturating_sub(height));
        let file = &*file;
        let end = (file.top + height).min(file.rows.len());
        let marker = Span::styled("▌", theme.accent);
        for (offset, row) in file.rows[file.top..end].iter().enumerate() {
            let y = body.y + offset as u16;
            let focused = row.slot == slot && !matches!(row.kind, RowKind::Gap);
            if focused {
                buf.set_span(body.x, y, &marker, 1);
            }
            let left = body.x + 1;
            let width = body.width - 1;
            match &row.kind {
                RowKind::Gap => {}
                RowKind::Header => {
                    buf.set_line(left, y, &header(file, row.slot, focused, theme), width);
                }
                RowKind::Code { gutter, code } => {
                    let gutter_width = (gutter.width() as u16).min(width);
                    buf.set_line(left, y, gutter, gutter_width);
                    let code_width = width - gutter_width;
                    if x == 0 {
                        buf.set_line(left + gutter_width, y, code, code_width);
                    } else {
                        let shifted = skip_columns(code, x);
                        buf.set_line(left + gutter_width, y, &shifted, code_width);
                    }
                }
            }
        }
    }

    /// The note or notice row, then the keys, wrapped to `width`.
    fn footer(&self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        let bold = theme.text.add_modifier(Modifier::BOLD);
        if let Some(typed) = &self.typing {
            let mut lines = wrap_with_prefix(
                &Line::from(vec![
                    Span::styled("note for the model: ", theme.warning),
                    Span::styled(format!("{typed}▏"), theme.user),
                ]),
                width,
                Span::raw(""),
                Span::raw(""),
            );
            lines.push(Line::styled(
                "Enter keeps the note · Esc drops the change · Ctrl-C interrupts",
                theme.dim,
            ));
            return lines;
        }
        let pending = self.pending();
        let status = if let Some(notice) = &self.notice {
            Line::styled(notice.clone(), theme.warning)
        } else if !self.note.is_empty() {
            Line::from(vec![
                Span::styled("note for the model: ", theme.dim),
                Span::styled(self.note.clone(), theme.user),
            ])
        } else if pending > 0 {
            let hunks = if pending == 1 { "hunk" } else { "hunks" };
            Line::styled(
                format!(
                    "{pending} {hunks} undecided; Enter sends the review once every hunk is decided"
                ),
                theme.dim,
            )
        } else {
            Line::styled("every hunk is decided: Enter sends the review", theme.dim)
        };
        let mut lines = wrap_with_prefix(&status, width, Span::raw(""), Span::raw(""));
        let keys: Vec<Span<'static>> = [
            ("y/n", " accept/reject hunk  "),
            ("j/k", " hunk  "),
            ("Tab", " file  "),
            ("A/R", " whole file  "),
            ("a/r", " everything  "),
            ("e", " edit  "),
            ("m", " note  "),
            ("Enter", " send  "),
            ("Esc", " interrupt"),
        ]
        .into_iter()
        .flat_map(|(key, what)| [Span::styled(key, bold), Span::styled(what, theme.dim)])
        .collect();
        lines.extend(wrap_with_prefix(
            &Line::from(keys),
            width,
            Span::raw(""),
            Span::raw(""),
        ));
        lines
    }
}

/// A hunk's `@@` row: the ranges, its place in the file and its state.
fn header(file: &FileView, slot: usize, focused: bool, theme: &Theme) -> Line<'static> {
    let mut ranges = theme.accent;
    if focused {
        ranges = ranges.add_modifier(Modifier::BOLD);
    }
    let state = file.states.get(slot).copied().unwrap_or(HunkState::Pending);
    Line::from(vec![
        Span::styled(file.slot_header(slot), ranges),
        Span::styled(
            format!("  hunk {} of {}  ", slot + 1, file.states.len()),
            theme.dim,
        ),
        Span::styled(state.label(), state_style(state, theme)),
    ])
}

fn state_style(state: HunkState, theme: &Theme) -> Style {
    match state {
        HunkState::Pending => theme.warning,
        HunkState::Accepted => theme.success,
        HunkState::Rejected => theme.error,
    }
}

/// `line` without its first `columns` display columns (a wide character cut
/// in half is dropped whole).
fn skip_columns(line: &Line<'static>, columns: usize) -> Line<'static> {
    let mut skipped = 0;
    let mut spans = Vec::new();
    for span in &line.spans {
        if skipped >= columns {
            spans.push(span.clone());
            continue;
        }
        let mut kept = String::new();
        for ch in span.content.chars() {
            if skipped < columns {
                skipped += ch.width().unwrap_or(0);
            } else {
                kept.push(ch);
            }
        }
        if !kept.is_empty() {
            spans.push(Span::styled(kept, span.style));
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_columns_keeps_styles_and_drops_cut_characters() {
        let theme = Theme::colored();
        let line = Line::from(vec![
            Span::styled("ab", theme.error),
            Span::styled("界c", theme.success),
        ]);
        let shifted = skip_columns(&line, 3);
        assert_eq!(shifted.to_string(), "c");
        assert_eq!(shifted.spans[0].style, theme.success);
        assert_eq!(skip_columns(&line, 1).to_string(), "b界c");
    }
}
