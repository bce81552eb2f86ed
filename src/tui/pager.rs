//! A full-screen pager (the alternate screen) for the whole transcript
//! (Ctrl-T) and `/diff`. It renders its content once per width and draws only
//! the rows on screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::theme::Theme;
use super::wrap::wrap_line;

type RenderFn = Box<dyn Fn(u16) -> Vec<Line<'static>> + Send>;

pub struct Pager {
    title: String,
    render: RenderFn,
    /// The content at `rendered_width`.
    rows: Vec<Line<'static>>,
    rendered_width: Option<u16>,
    /// The first row on screen.
    top: usize,
    /// Content rows on screen at the last frame (for paging keys).
    page: usize,
}

impl Pager {
    /// A pager whose content `render` lays out for a width.
    pub fn new(
        title: impl Into<String>,
        render: impl Fn(u16) -> Vec<Line<'static>> + Send + 'static,
    ) -> Pager {
        Pager {
            title: title.into(),
            render: Box::new(render),
            rows: Vec::new(),
            rendered_width: None,
            top: 0,
            page: 1,
        }
    }

    /// A pager of fixed lines, wrapped to the screen's width.
    pub fn from_lines(title: impl Into<String>, lines: Vec<Line<'static>>) -> Pager {
        Pager::new(title, move |width| {
            lines
                .iter()
                .flat_map(|line| wrap_line(line, width))
                .collect()
        })
    }

    /// Handles a key; returns true when the pager should close.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let last = self.rows.len().saturating_sub(self.page);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Char('c' | 't') if ctrl => return true,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Enter => self.top += 1,
            KeyCode::Up | KeyCode::Char('k') => self.top = self.top.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.top += self.page,
            KeyCode::Char('f') if ctrl => self.top += self.page,
            KeyCode::PageUp | KeyCode::Char('b') => self.top = self.top.saturating_sub(self.page),
            KeyCode::Home | KeyCode::Char('g') => self.top = 0,
            KeyCode::End | KeyCode::Char('G') => self.top = last,
            _ => {}
        }
        self.top = self.top.min(last);
        false
    }

    /// Draws the visible rows, a title bar and a key hint.
    pub fn draw(&mut self, frame: &mut Frame<'_>, theme: &Theme) {
        let area = frame.area();
        if self.rendered_width != Some(area.width) {
            self.rows = (self.render)(area.width);
            self.rendered_width = Some(area.width);
        }
        if area.height < 3 {
            return;
        }
        self.page = usize::from(area.height - 2);
        self.top = self.top.min(self.rows.len().saturating_sub(self.page));
        let end = (self.top + self.page).min(self.rows.len());
        let title = Line::from(vec![
            Span::styled(
                format!(" {} ", self.title),
                theme.accent.add_modifier(Modifier::REVERSED),
            ),
            Span::styled(
                format!(" rows {}-{} of {}", self.top + 1, end, self.rows.len()),
                theme.dim,
            ),
        ]);
        let buf = frame.buffer_mut();
        title.render(Rect { height: 1, ..area }, buf);
        let body = Rect {
            y: area.y + 1,
            height: area.height - 2,
            ..area
        };
        Paragraph::new(self.rows[self.top..end].to_vec()).render(body, buf);
        Line::styled(
            " q/Esc close · ↑/↓ j/k scroll · PgUp/PgDn space/b page · g/G top/end",
            theme.dim,
        )
        .render(
            Rect {
                y: area.y + area.height - 1,
                height: 1,
                ..area
            },
            buf,
        );
    }
}
