//! Soft-wrapping the composer's text into screen rows, and mapping the
//! cursor between byte offsets and (row, column).
//!
//! Rows break after whitespace when a word would overflow, and inside a word
//! only when the word alone is wider than the row. Widths are Unicode display
//! widths of grapheme clusters; an element (a collapsed paste) never splits.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::buffer::TextBuffer;

/// Columns a tab takes on screen (the text keeps the tab itself).
pub const TAB_WIDTH: usize = 4;

/// Display width of one grapheme cluster.
pub fn grapheme_width(grapheme: &str) -> usize {
    if grapheme == "\t" {
        TAB_WIDTH
    } else {
        grapheme.width()
    }
}

/// Display width of a piece of text.
pub fn text_width(text: &str) -> usize {
    text.graphemes(true).map(grapheme_width).sum()
}

/// One screen row: a byte range of the text, never holding a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub range: Range<usize>,
}

/// Wraps the buffer's text to `width` columns; always at least one row.
pub fn wrap(buffer: &TextBuffer, width: usize) -> Vec<Row> {
    let width = width.max(1);
    let text = buffer.text();
    let mut rows = Vec::new();
    let mut line_start = 0;
    loop {
        let line_end = buffer.line_end(line_start);
        wrap_line(buffer, line_start..line_end, width, &mut rows);
        if line_end >= text.len() {
            break;
        }
        line_start = line_end + 1;
    }
    rows
}

/// Wraps one logical line (no newline inside) and appends its rows.
fn wrap_line(buffer: &TextBuffer, line: Range<usize>, width: usize, rows: &mut Vec<Row>) {
    let text = buffer.text();
    let mut row_start = line.start;
    let mut row_width = 0;
    // The latest place in this row where a break may go (after whitespace),
    // and the row's width up to there.
    let mut break_at: Option<(usize, usize)> = None;
    let mut pos = line.start;
    while pos < line.end {
        let next = buffer.next_boundary(pos).min(line.end).max(pos + 1);
        let unit = &text[pos..next];
        let unit_width = text_width(unit);
        let is_space = unit.chars().all(char::is_whitespace);
        if is_space && row_width + unit_width > width && pos > row_start {
            // Whitespace that overflows hangs at the end of the row (it is
            // invisible), and the row breaks after it.
            rows.push(Row {
                range: row_start..next,
            });
            row_start = next;
            row_width = 0;
            break_at = None;
            pos = next;
            continue;
        }
        if row_width + unit_width > width && pos > row_start {
            match break_at {
                Some((at, width_before)) if at > row_start => {
                    rows.push(Row {
                        range: row_start..at,
                    });
                    row_start = at;
                    row_width -= width_before;
                }
                _ => {
                    rows.push(Row {
                        range: row_start..pos,
                    });
                    row_start = pos;
                    row_width = 0;
                }
            }
            break_at = None;
            // The unit may still not fit after a word-boundary break.
            if row_width + unit_width > width && pos > row_start {
                rows.push(Row {
                    range: row_start..pos,
                });
                row_start = pos;
                row_width = 0;
            }
        }
        row_width += unit_width;
        if is_space {
            break_at = Some((next, row_width));
        }
        pos = next;
    }
    rows.push(Row {
        range: row_start..line.end,
    });
}

/// The (row, column) of byte offset `pos`. A position at the end of a
/// soft-wrapped row belongs to the start of the next row.
pub fn position_of(buffer: &TextBuffer, rows: &[Row], pos: usize) -> (usize, usize) {
    let row = rows.iter().rposition(|r| r.range.start <= pos).unwrap_or(0);
    let start = rows.get(row).map_or(0, |r| r.range.start);
    let end = pos.clamp(start, buffer.text().len());
    (row, text_width(&buffer.text()[start..end]))
}

/// The unit boundary in `row` closest to `column` without passing it.
pub fn offset_at(buffer: &TextBuffer, rows: &[Row], row: usize, column: usize) -> usize {
    let Some(target) = rows.get(row) else {
        return buffer.text().len();
    };
    // The end of a soft-wrapped row is the next row's start, so the last
    // reachable place in such a row is before its last unit.
    let soft_wrapped = rows
        .get(row + 1)
        .is_some_and(|next| next.range.start == target.range.end);
    let text = buffer.text();
    let mut pos = target.range.start;
    let mut width = 0;
    while pos < target.range.end {
        let next = buffer.next_boundary(pos).min(target.range.end).max(pos + 1);
        let unit_width = text_width(&text[pos..next]);
        if width + unit_width > column || (soft_wrapped && next == target.range.end) {
            break;
        }
        width += unit_width;
        pos = next;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(text: &str, width: usize) -> Vec<String> {
        let mut buffer = TextBuffer::default();
        buffer.insert_str(text);
        wrap(&buffer, width)
            .into_iter()
            .map(|r| text[r.range].to_owned())
            .collect()
    }

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(
            rows_of("hello brave new world", 11),
            ["hello brave ", "new world"]
        );
    }

    #[test]
    fn breaks_long_words_and_keeps_newlines() {
        assert_eq!(rows_of("abcdefgh\nij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(rows_of("a\n", 5), ["a", ""]);
        assert_eq!(rows_of("", 5), [""]);
    }

    #[test]
    fn wide_characters_do_not_straddle_rows() {
        assert_eq!(rows_of("日本語の", 5), ["日本", "語の"]);
    }

    #[test]
    fn end_of_soft_row_maps_to_next_row() {
        let mut buffer = TextBuffer::default();
        buffer.insert_str("abcdef");
        let rows = wrap(&buffer, 3);
        assert_eq!(position_of(&buffer, &rows, 3), (1, 0));
        assert_eq!(position_of(&buffer, &rows, 6), (1, 3));
        assert_eq!(offset_at(&buffer, &rows, 0, 9), 2);
        assert_eq!(offset_at(&buffer, &rows, 1, 9), 6);
    }
}
