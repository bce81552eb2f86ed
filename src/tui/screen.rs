//! Drawing: the live area (the turn being streamed, the composer and the
//! status line) in the inline viewport, finished rows inserted above it into
//! the terminal's scrollback, and the pager in the alternate screen. Generic
//! over the ratatui backend so tests draw into a `TestBackend`.

use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use ratatui::{Frame, Terminal};

use super::app::App;
use super::status::EngineState;
use super::transcript::reasoning_summary_with;
use super::wrap::{wrap_text, wrap_with_prefix};
use crate::tools::one_line;

/// Rows inserted into scrollback per `insert_before` call.
const INSERT_CHUNK: usize = 256;

/// Height of the inline viewport for a terminal this many rows tall: room
/// for the streaming tail, a grown composer and the status line, leaving
/// the rest of the screen to the transcript.
pub fn viewport_height(terminal_rows: u16) -> u16 {
    terminal_rows.min((terminal_rows / 3).max(10))
}

/// One frame of the main view: flushes finished rows into scrollback, then
/// redraws the live area.
pub fn draw_main<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), B::Error> {
    let width = terminal.size()?.width;
    app.prepare_frame(width);
    let rows = app.take_scrollback();
    for chunk in rows.chunks(INSERT_CHUNK) {
        terminal.insert_before(chunk.len() as u16, |buf| {
            for (index, line) in chunk.iter().enumerate() {
                buf.set_line(0, index as u16, line, width);
            }
        })?;
    }
    terminal.draw(|frame| app.draw_live(frame))?;
    app.frame_drawn();
    Ok(())
}

/// One frame of the pager, or else of the review view (a full-screen
/// terminal on the alternate screen).
pub fn draw_pager<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), B::Error> {
    let theme = app.theme.clone();
    if let Some(pager) = app.pager.as_mut() {
        terminal.draw(|frame| pager.draw(frame, &theme))?;
    } else if let Some(review) = app.review.as_mut() {
        terminal.draw(|frame| review.draw(frame, &theme))?;
    }
    app.frame_drawn();
    Ok(())
}

impl App {
    /// The live area: what is streaming (bottom-aligned), the composer, the
    /// status line.
    pub fn draw_live(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        if area.height == 0 || area.width == 0 {
            return;
        }
        let width = area.width;
        let status_area = Rect {
            y: area.bottom() - 1,
            height: 1,
            ..area
        };
        let composer_height = self
            .composer
            .desired_height(width)
            .min(area.height.saturating_sub(1));
        let composer_area = Rect {
            y: status_area.y - composer_height,
            height: composer_height,
            ..area
        };
        let live_area = Rect {
            height: area.height - 1 - composer_height,
            ..area
        };

        let lines = self.live_lines(width);
        let shown = lines.len().saturating_sub(usize::from(live_area.height));
        let visible = lines[shown..].to_vec();
        let top_padding = live_area.height.saturating_sub(visible.len() as u16);
        let buf = frame.buffer_mut();
        Paragraph::new(visible).render(
            Rect {
                y: live_area.y + top_padding,
                height: live_area.height - top_padding,
                ..live_area
            },
            buf,
        );
        self.composer.render(composer_area, buf, &self.theme);
        self.status.render(status_area, buf, &self.theme);
        if let Some((x, y)) = self.composer.cursor_position(composer_area) {
            frame.set_cursor_position((x, y));
        }
    }

    /// Rows of the live area, top to bottom.
    fn live_lines(&self, width: u16) -> Vec<Line<'static>> {
        let theme = &self.theme;
        let mut lines = Vec::new();
        if let EngineState::Loading { message, percent } = &self.status.engine {
            lines.push(loading_line(message, *percent, width, self));
        }
        if let Some(turn) = &self.turn {
            if !turn.reasoning_done && !turn.reasoning.trim().is_empty() {
                if self.show_reasoning {
                    let style = theme.dim.add_modifier(Modifier::ITALIC);
                    lines.push(Line::styled("▾ thinking…", theme.dim));
                    for line in turn.reasoning.trim().lines() {
                        lines.extend(wrap_with_prefix(
                            &Line::styled(line.to_string(), style),
                            width,
                            Span::styled("│ ", theme.dim),
                            Span::styled("│ ", theme.dim),
                        ));
                    }
                } else {
                    lines.push(reasoning_summary_with(
                        "▸ thinking: ",
                        &turn.reasoning,
                        width,
                        theme,
                    ));
                }
            }
            lines.extend(turn.pending(width, theme));
            if let Some((name, target)) = &turn.running_tool {
                let target = target.as_deref().unwrap_or_default();
                lines.extend(wrap_with_prefix(
                    &Line::from(vec![
                        Span::styled(name.clone(), theme.text.add_modifier(Modifier::BOLD)),
                        Span::styled(format!(" {target} …"), theme.dim),
                    ]),
                    width,
                    Span::styled("◌ ", theme.accent),
                    Span::raw("  "),
                ));
            }
        }
        lines.extend(self.plan.lines(width, theme));
        for message in &self.queued {
            let note = if self.model_ready() {
                "queued until this run ends: "
            } else {
                "queued until the model is ready: "
            };
            lines.push(Line::from(vec![
                Span::styled(note, theme.dim),
                Span::styled(one_line(message, usize::from(width)), theme.user),
            ]));
        }
        if let Some(prompt) = &self.approval {
            lines.extend(prompt.lines(width, theme));
        }
        if let Some(hint) = &self.hint {
            lines.extend(wrap_text(hint, width, theme.dim));
        }
        lines
    }
}

/// `loading: MESSAGE [█████·····] 45%` (the bar only when the loader knows
/// how far it is).
fn loading_line(message: &str, percent: Option<u8>, width: u16, app: &App) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = vec![Span::styled("loading model: ", theme.warning)];
    if let Some(percent) = percent {
        let cells = 20usize;
        let filled = usize::from(percent.min(100)) * cells / 100;
        spans.push(Span::styled(
            format!(
                "[{}{}] {percent:>3}% ",
                "█".repeat(filled),
                "·".repeat(cells - filled)
            ),
            theme.accent,
        ));
    }
    let room = usize::from(width).saturating_sub(spans.iter().map(Span::width).sum());
    spans.push(Span::styled(one_line(message, room.max(1)), theme.dim));
    Line::from(spans)
}
