//! Box-drawn tables that fit the width.
//!
//! Columns keep their natural width when the table fits; otherwise the widest
//! columns give up space first (narrow columns stay readable) and their cells
//! wrap. A table too narrow for even one cell per column is shown as
//! `header: value` lines per row instead.

use pulldown_cmark::Alignment;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::wrap::{StyledLine, WrapMode, spans_width, wrap_spans};
use crate::tui::theme::Theme;

/// The cells of one table, collected while its events are read.
#[derive(Debug, Default)]
pub(crate) struct Table {
    alignments: Vec<Alignment>,
    /// The header row (if any) first, then the body rows.
    rows: Vec<Vec<StyledLine>>,
    has_header: bool,
}

impl Table {
    pub(crate) fn new(alignments: Vec<Alignment>) -> Table {
        Table {
            alignments,
            rows: Vec::new(),
            has_header: false,
        }
    }

    /// Starts a row; the header row is started with `header` true.
    pub(crate) fn start_row(&mut self, header: bool) {
        if header {
            self.has_header = true;
        }
        self.rows.push(Vec::new());
    }

    /// Adds a cell to the current row.
    pub(crate) fn push_cell(&mut self, cell: StyledLine) {
        if self.rows.is_empty() {
            self.rows.push(Vec::new());
        }
        if let Some(row) = self.rows.last_mut() {
            row.push(cell);
        }
    }

    /// Lays the table out in at most `width` columns.
    pub(crate) fn render(&self, width: usize, theme: &Theme) -> Vec<StyledLine> {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.alignments.len()])
            .max()
            .unwrap_or(0);
        if columns == 0 {
            return Vec::new();
        }
        // "│ " before every cell, " " after it, and a closing "│".
        let overhead = 3 * columns + 1;
        let widest_graphemes: Vec<usize> = (0..columns)
            .map(|column| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(column))
                    .map(|cell| widest_grapheme(cell))
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        if width < overhead + widest_graphemes.iter().sum::<usize>() {
            return self.render_as_records(width, theme);
        }
        let natural: Vec<usize> = (0..columns)
            .map(|column| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(column))
                    .map(|cell| spans_width(cell))
                    .max()
                    .unwrap_or(0)
                    .max(1)
            })
            .collect();
        let longest_words: Vec<usize> = (0..columns)
            .map(|column| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(column))
                    .map(|cell| longest_word(cell))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let widths = fit_widths(
            &natural,
            &longest_words,
            &widest_graphemes,
            width - overhead,
        );
        let border = theme.border;
        let mut lines = vec![border_line(&widths, ['┌', '┬', '┐'], border)];
        for (index, row) in self.rows.iter().enumerate() {
            let header = self.has_header && index == 0;
            lines.extend(self.render_row(row, &widths, header, theme));
            if header {
                lines.push(border_line(&widths, ['├', '┼', '┤'], border));
            }
        }
        lines.push(border_line(&widths, ['└', '┴', '┘'], border));
        lines
    }

    /// One row's lines: each cell wrapped to its column, padded per its
    /// column's alignment.
    fn render_row(
        &self,
        row: &[StyledLine],
        widths: &[usize],
        header: bool,
        theme: &Theme,
    ) -> Vec<StyledLine> {
        let empty = StyledLine::new();
        let wrapped: Vec<Vec<StyledLine>> = widths
            .iter()
            .enumerate()
            .map(|(column, &width)| {
                let cell = row.get(column).unwrap_or(&empty);
                let cell: StyledLine = if header {
                    cell.iter()
                        .map(|span| {
                            Span::styled(
                                span.content.clone(),
                                span.style.add_modifier(Modifier::BOLD),
                            )
                        })
                        .collect()
                } else {
                    cell.clone()
                };
                wrap_spans(&cell, width, WrapMode::Prose)
            })
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        (0..height)
            .map(|line_index| {
                let mut line = vec![Span::styled("│", theme.border)];
                for (column, cell_lines) in wrapped.iter().enumerate() {
                    let content = cell_lines.get(line_index).cloned().unwrap_or_default();
                    let free = widths[column].saturating_sub(spans_width(&content));
                    let alignment = self.alignments.get(column).copied();
                    let (left, right) = match alignment {
                        Some(Alignment::Right) => (free, 0),
                        Some(Alignment::Center) => (free / 2, free - free / 2),
                        _ => (0, free),
                    };
                    line.push(Span::raw(" ".repeat(left + 1)));
                    line.extend(content);
                    line.push(Span::raw(" ".repeat(right + 1)));
                    line.push(Span::styled("│", theme.border));
                }
                line
            })
            .collect()
    }

    /// The narrow fallback: each body row as `header: value` lines, rows
    /// separated by a blank line.
    fn render_as_records(&self, width: usize, theme: &Theme) -> Vec<StyledLine> {
        let (headers, body) = match self.has_header {
            true => (
                self.rows.first().map(Vec::as_slice).unwrap_or(&[]),
                &self.rows[1..],
            ),
            false => (&[][..], &self.rows[..]),
        };
        let mut lines = Vec::new();
        for (index, row) in body.iter().enumerate() {
            if index > 0 {
                lines.push(StyledLine::new());
            }
            for (column, cell) in row.iter().enumerate() {
                let mut record: StyledLine = headers
                    .get(column)
                    .into_iter()
                    .flatten()
                    .map(|span| Span::styled(span.content.clone(), theme.dim.patch(span.style)))
                    .collect();
                if !record.is_empty() {
                    record.push(Span::styled(": ", theme.dim));
                }
                record.extend(cell.iter().cloned());
                lines.extend(wrap_spans(&record, width, WrapMode::Prose));
            }
        }
        lines
    }
}

/// Column widths summing to at most `available`: the widest columns are
/// capped at a common level while narrow ones keep their natural width, and
/// no column gets narrower than its longest word if all those words fit.
/// `widest_graphemes` are hard floors: a column must hold its widest
/// character.
fn fit_widths(
    natural: &[usize],
    longest_words: &[usize],
    widest_graphemes: &[usize],
    available: usize,
) -> Vec<usize> {
    if natural.iter().sum::<usize>() <= available {
        return natural.to_vec();
    }
    let hard_floors: Vec<usize> = (0..natural.len())
        .map(|column| widest_graphemes.get(column).copied().unwrap_or(1).max(1))
        .collect();
    let word_floors: Vec<usize> = (0..natural.len())
        .map(|column| {
            let word = longest_words.get(column).copied().unwrap_or(0);
            word.min(natural[column]).max(hard_floors[column])
        })
        .collect();
    let floors = match word_floors.iter().sum::<usize>() <= available {
        true => word_floors,
        false => hard_floors,
    };
    let width_at = |level: usize, column: usize| natural[column].min(level).max(floors[column]);
    let total_at = |level: usize| {
        (0..natural.len())
            .map(|c| width_at(level, c))
            .sum::<usize>()
    };
    // The highest level whose total still fits (binary search).
    let (mut low, mut high) = (1, natural.iter().copied().max().unwrap_or(1));
    while low < high {
        let middle = (low + high).div_ceil(2);
        if total_at(middle) <= available {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    let mut widths: Vec<usize> = (0..natural.len()).map(|c| width_at(low, c)).collect();
    let mut spare = available.saturating_sub(widths.iter().sum());
    for (width, &wanted) in widths.iter_mut().zip(natural) {
        if spare == 0 {
            break;
        }
        if wanted > *width {
            *width += 1;
            spare -= 1;
        }
    }
    widths
}

/// The width of the widest character (grapheme cluster) in a cell.
fn widest_grapheme(cell: &[Span<'_>]) -> usize {
    cell.iter()
        .flat_map(|span| span.content.graphemes(true))
        .map(UnicodeWidthStr::width)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The width of the widest whitespace-separated word in a cell.
fn longest_word(cell: &[Span<'_>]) -> usize {
    let text: String = cell.iter().map(|span| span.content.as_ref()).collect();
    text.split_whitespace()
        .map(UnicodeWidthStr::width)
        .max()
        .unwrap_or(0)
}

/// A horizontal border: `left`, `─` runs over each cell joined by `middle`,
/// `right`.
fn border_line(widths: &[usize], [left, middle, right]: [char; 3], style: Style) -> StyledLine {
    let mut text = String::new();
    text.push(left);
    for (index, width) in widths.iter().enumerate() {
        if index > 0 {
            text.push(middle);
        }
        text.extend(std::iter::repeat_n('─', width + 2));
    }
    text.push(right);
    vec![Span::styled(text, style)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_columns_shrink_first() {
        let ones = [1, 1, 1];
        assert_eq!(fit_widths(&[3, 30, 10], &ones, &ones, 50), [3, 30, 10]);
        assert_eq!(fit_widths(&[3, 30, 10], &ones, &ones, 25), [3, 12, 10]);
        assert_eq!(fit_widths(&[3, 30, 30], &ones, &ones, 25), [3, 11, 11]);
        assert_eq!(fit_widths(&[5, 5, 5], &ones, &ones, 3), [1, 1, 1]);
    }

    #[test]
    fn columns_keep_their_longest_word_when_possible() {
        assert_eq!(
            fit_widths(&[14, 40, 4], &[14, 12, 4], &[1, 1, 1], 30),
            [14, 12, 4]
        );
        assert_eq!(
            fit_widths(&[14, 40, 4], &[14, 12, 4], &[1, 1, 1], 20),
            [8, 8, 4]
        );
    }

    #[test]
    fn every_line_fits_the_width() {
        let theme = Theme::plain();
        let mut table = Table::new(vec![Alignment::Left, Alignment::Right]);
        table.start_row(true);
        table.push_cell(vec![Span::raw("name")]);
        table.push_cell(vec![Span::raw("description")]);
        table.start_row(false);
        table.push_cell(vec![Span::raw("x")]);
        table.push_cell(vec![Span::raw("a rather long cell that has to wrap")]);
        for width in [1, 5, 8, 12, 20, 40, 80] {
            for line in table.render(width, &theme) {
                assert!(spans_width(&line) <= width, "{width}: {line:?}");
            }
        }
    }
}
