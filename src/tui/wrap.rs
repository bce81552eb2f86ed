//! Word wrapping of styled lines to a column width, for the entries the app
//! renders itself (user messages, tool output, notices). Markdown wraps its
//! own output; this is for everything else, so that every line handed to the
//! terminal's scrollback is exactly one screen row.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// A run of characters that share a style and are all spaces or all not.
struct Piece {
    text: String,
    style: Style,
    width: usize,
    space: bool,
}

/// Wraps `line` to `width` columns at spaces, breaking words longer than a
/// row. `first` starts the first row and `rest` every following row (a
/// hanging indent); both count against the width.
pub fn wrap_with_prefix(
    line: &Line<'_>,
    width: u16,
    first: Span<'static>,
    rest: Span<'static>,
) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let words = pieces(line);
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut row = Row::start(first, line.style);
    for piece in words {
        if piece.space {
            if row.width + piece.width <= width {
                row.push(piece.text, piece.style, piece.width);
            } else {
                rows.push(row.finish());
                row = Row::start(rest.clone(), line.style);
            }
            continue;
        }
        if row.width + piece.width > width && row.has_content {
            rows.push(row.finish());
            row = Row::start(rest.clone(), line.style);
        }
        if row.width + piece.width <= width {
            row.push(piece.text, piece.style, piece.width);
            continue;
        }
        // A word wider than a whole row: break it between characters.
        for ch in piece.text.chars() {
            let ch_width = ch.width().unwrap_or(0);
            if row.width + ch_width > width && row.has_content {
                rows.push(row.finish());
                row = Row::start(rest.clone(), line.style);
            }
            row.push(ch.to_string(), piece.style, ch_width);
        }
    }
    rows.push(row.finish());
    rows
}

/// Wraps `line` to `width` columns with no prefix.
pub fn wrap_line(line: &Line<'_>, width: u16) -> Vec<Line<'static>> {
    wrap_with_prefix(line, width, Span::raw(""), Span::raw(""))
}

/// Wraps multi-line plain `text` in one style, each source line separately.
pub fn wrap_text(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    text.lines()
        .flat_map(|source| wrap_line(&Line::styled(source.to_string(), style), width))
        .collect()
}

/// One row being filled.
struct Row {
    spans: Vec<Span<'static>>,
    /// How many of `spans` are the prefix (0 or 1): content never merges
    /// into it.
    prefix_spans: usize,
    width: usize,
    has_content: bool,
    style: Style,
}

impl Row {
    fn start(prefix: Span<'static>, style: Style) -> Row {
        let width = prefix.width();
        let spans = if prefix.content.is_empty() {
            Vec::new()
        } else {
            vec![prefix]
        };
        Row {
            prefix_spans: spans.len(),
            spans,
            width,
            has_content: false,
            style,
        }
    }

    fn push(&mut self, text: String, style: Style, width: usize) {
        self.width += width;
        self.has_content = true;
        let own_spans = self.spans.len() > self.prefix_spans;
        match self.spans.last_mut() {
            Some(last) if last.style == style && own_spans => last.content.to_mut().push_str(&text),
            _ => self.spans.push(Span::styled(text, style)),
        }
    }

    fn finish(mut self) -> Line<'static> {
        // Trailing spaces would only push the cursor into the next row.
        loop {
            let count = self.spans.len();
            let Some(last) = self.spans.last_mut() else {
                break;
            };
            let trimmed = last.content.trim_end_matches(' ').len();
            if trimmed == last.content.len() {
                break;
            }
            if trimmed == 0 && count > 1 {
                self.spans.pop();
            } else {
                last.content.to_mut().truncate(trimmed);
                break;
            }
        }
        Line::from(self.spans).style(self.style)
    }
}

/// Splits a line into runs of spaces and non-spaces, keeping span styles.
/// Tabs become four spaces; other control characters are dropped so they
/// cannot move the terminal's cursor.
fn pieces(line: &Line<'_>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for span in &line.spans {
        for ch in span.content.chars() {
            let (ch, repeat) = match ch {
                '\t' => (' ', 4),
                c if c.is_control() => continue,
                c => (c, 1),
            };
            let space = ch == ' ';
            let width = ch.width().unwrap_or(0);
            for _ in 0..repeat {
                match out.last_mut() {
                    Some(last) if last.space == space && last.style == span.style => {
                        last.text.push(ch);
                        last.width += width;
                    }
                    _ => out.push(Piece {
                        text: ch.to_string(),
                        style: span.style,
                        width,
                        space,
                    }),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        let line = Line::raw("the quick brown fox abcdefghijkl");
        assert_eq!(
            texts(&wrap_line(&line, 10)),
            ["the quick", "brown fox", "abcdefghij", "kl"]
        );
    }

    #[test]
    fn hanging_prefix_counts_against_the_width() {
        let line = Line::raw("one two three");
        let rows = wrap_with_prefix(&line, 8, Span::raw("> "), Span::raw("  "));
        assert_eq!(texts(&rows), ["> one", "  two", "  three"]);
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let line = Line::raw("日本語のテキスト");
        let rows = wrap_line(&line, 6);
        assert_eq!(texts(&rows), ["日本語", "のテキ", "スト"]);
    }

    #[test]
    fn empty_line_stays_one_row() {
        assert_eq!(texts(&wrap_line(&Line::raw(""), 10)), [""]);
    }
}
