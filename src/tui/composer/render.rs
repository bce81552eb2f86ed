//! Drawing the composer: a rule on top, the text rows behind a `› ` prompt
//! (scrolled to keep the cursor in view), and the popup underneath.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::Composer;
use super::layout::{self, Row, TAB_WIDTH};
use crate::tui::theme::Theme;

/// Most text rows shown; taller text scrolls inside the composer.
pub const MAX_TEXT_ROWS: usize = 10;
/// Columns before the text: the `› ` prompt or its indent.
const PROMPT_WIDTH: u16 = 2;
/// Rows above the text (the rule).
const RULE_ROWS: u16 = 1;

/// Columns the text wraps at in an area `width` wide: the prompt and one
/// column for the cursor at the end of a full row are kept free.
pub fn text_columns(width: u16) -> usize {
    usize::from(width.saturating_sub(PROMPT_WIDTH + 1)).max(1)
}

/// Where each part goes in an area, and the text's rows.
struct View {
    rows: Vec<Row>,
    text_area: Rect,
    popup_area: Rect,
    scroll: usize,
}

impl Composer {
    /// Rows the composer wants at `width`: the rule, the text (at most
    /// [`MAX_TEXT_ROWS`]) and the popup.
    pub fn desired_height(&self, width: u16) -> u16 {
        self.last_width.set(width);
        let text_rows = self.rows().len().clamp(1, MAX_TEXT_ROWS) as u16;
        let popup_rows = self.popup.as_ref().map_or(0, |p| p.height());
        RULE_ROWS + text_rows + popup_rows
    }

    /// Where the terminal cursor goes, or `None` when it should be hidden
    /// (disabled, or no room to draw the text).
    pub fn cursor_position(&self, area: Rect) -> Option<(u16, u16)> {
        if !self.enabled {
            return None;
        }
        let view = self.view(area);
        let (row, column) = layout::position_of(&self.buffer, &view.rows, self.buffer.cursor());
        let visible_row = row.checked_sub(view.scroll)?;
        if visible_row >= usize::from(view.text_area.height) {
            return None;
        }
        let x = view.text_area.x + PROMPT_WIDTH + u16::try_from(column).ok()?;
        let y = view.text_area.y + visible_row as u16;
        (x < area.right()).then_some((x, y))
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if area.is_empty() {
            return;
        }
        let view = self.view(area);
        let rule_style = theme.dim;
        if area.height > view.text_area.height + view.popup_area.height {
            let rule = "─".repeat(usize::from(area.width));
            buf.set_stringn(area.x, area.y, rule, usize::from(area.width), rule_style);
        }
        let text_style = if self.enabled { theme.text } else { theme.dim };
        let prompt_style = if self.enabled {
            theme.accent
        } else {
            theme.dim
        };
        let width = view.text_area.width;
        for (visible, row_index) in (view.scroll..view.rows.len())
            .take(usize::from(view.text_area.height))
            .enumerate()
        {
            let y = view.text_area.y + visible as u16;
            let prompt = if row_index == 0 { "› " } else { "  " };
            buf.set_string(view.text_area.x, y, prompt, prompt_style);
            let line = if self.buffer.is_empty() {
                Line::from(Span::styled(self.placeholder.clone(), theme.dim))
            } else {
                self.row_line(&view.rows[row_index], text_style, theme.accent)
            };
            buf.set_line(
                view.text_area.x + PROMPT_WIDTH,
                y,
                &line,
                width.saturating_sub(PROMPT_WIDTH),
            );
        }
        if let Some(popup) = &self.popup {
            popup.render(view.popup_area, buf, theme);
        }
    }

    /// One text row as spans: plain text, and elements (collapsed pastes)
    /// in the element style; tabs drawn as spaces.
    fn row_line(&self, row: &Row, text_style: Style, element_style: Style) -> Line<'static> {
        let text = self.buffer.text();
        let mut spans = Vec::new();
        let mut at = row.range.start;
        let shown = |s: &str| s.replace('\t', &" ".repeat(TAB_WIDTH));
        for element in self.buffer.elements() {
            if element.range.end <= row.range.start || element.range.start >= row.range.end {
                continue;
            }
            let start = element.range.start.max(row.range.start);
            let end = element.range.end.min(row.range.end);
            if start > at {
                spans.push(Span::styled(shown(&text[at..start]), text_style));
            }
            spans.push(Span::styled(
                text[start..end].to_owned(),
                text_style.patch(element_style),
            ));
            at = end;
        }
        if at < row.range.end {
            spans.push(Span::styled(shown(&text[at..row.range.end]), text_style));
        }
        Line::from(spans)
    }

    /// Splits `area` into rule, text and popup, and scrolls the text so the
    /// cursor's row is visible. The text keeps at least one row; the popup
    /// gets what is left after the text's wanted rows.
    fn view(&self, area: Rect) -> View {
        self.last_width.set(area.width);
        let rows = self.rows();
        let wanted_text = rows.len().clamp(1, MAX_TEXT_ROWS) as u16;
        let wanted_popup = self.popup.as_ref().map_or(0, |p| p.height());
        let rule = if area.height > 1 { RULE_ROWS } else { 0 };
        let room = area.height - rule;
        let text_height = wanted_text.min(room).max(room.min(1));
        let popup_height = wanted_popup.min(room - text_height);
        let text_area = Rect::new(area.x, area.y + rule, area.width, text_height);
        let popup_area = Rect::new(area.x, text_area.bottom(), area.width, popup_height);
        let (cursor_row, _) = layout::position_of(&self.buffer, &rows, self.buffer.cursor());
        let visible = usize::from(text_height).max(1);
        let mut scroll = self.scroll.get();
        if cursor_row < scroll {
            scroll = cursor_row;
        } else if cursor_row >= scroll + visible {
            scroll = cursor_row + 1 - visible;
        }
        scroll = scroll.min(rows.len().saturating_sub(visible));
        self.scroll.set(scroll);
        View {
            rows,
            text_area,
            popup_area,
            scroll,
        }
    }
}
