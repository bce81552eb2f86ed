//! Wrapping styled text to a column width, measured in terminal cells.
//!
//! Text is cut only between grapheme clusters (never inside a multi-byte
//! character, an emoji sequence or a combining mark) and measured with
//! `unicode-width`, the same measure ratatui draws with, so a wrapped line
//! never spills past its width.

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// One line of styled pieces, before container prefixes are added.
pub(crate) type StyledLine = Vec<Span<'static>>;

/// How a run of text may be broken across lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WrapMode {
    /// Break after whitespace or around wide (CJK, emoji) characters; drop the
    /// whitespace at a break.
    Prose,
    /// Break after whitespace or where one highlighted token meets the next;
    /// keep every space, since indentation means something in code.
    Code,
}

/// One grapheme cluster and how it may be broken around.
struct Cell<'a> {
    text: &'a str,
    style: Style,
    width: usize,
    space: bool,
    /// A line may end just before this cell.
    break_before: bool,
}

/// Wraps `spans` to lines at most `width` cells wide (at least 1). A `'\n'`
/// inside a span is a hard line break. Lines keep the spans' styles; adjacent
/// pieces of one style are merged.
pub(crate) fn wrap_spans(spans: &[Span<'_>], width: usize, mode: WrapMode) -> Vec<StyledLine> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current: Vec<Cell<'_>> = Vec::new();
    let mut current_width = 0;
    let mut previous: Option<(bool, usize)> = None;
    for span in spans {
        let mut span_start = true;
        for grapheme in span.content.graphemes(true) {
            if grapheme == "\n" || grapheme == "\r\n" {
                lines.push(finish_line(&mut current, mode));
                current_width = 0;
                previous = None;
                span_start = true;
                continue;
            }
            let space = grapheme.chars().all(char::is_whitespace);
            let cell_width = grapheme.width();
            let break_before = match previous {
                None => false,
                Some((previous_space, previous_width)) => {
                    (previous_space && !space)
                        || cell_width > 1
                        || previous_width > 1
                        || (mode == WrapMode::Code && span_start && !space)
                }
            };
            previous = Some((space, cell_width));
            span_start = false;
            let cell = Cell {
                text: grapheme,
                style: span.style,
                width: cell_width,
                space,
                break_before,
            };
            if current_width + cell.width > width {
                if mode == WrapMode::Prose && cell.space {
                    // A space that does not fit ends the line and is dropped.
                    lines.push(finish_line(&mut current, mode));
                    current_width = 0;
                    continue;
                }
                // Break just before this cell if allowed, else at the last
                // place the line allows one, else (one long word) right here.
                let cut = match cell.break_before {
                    true => current.len(),
                    false => current
                        .iter()
                        .rposition(|cell| cell.break_before)
                        .filter(|&cut| cut > 0)
                        .unwrap_or(current.len()),
                };
                let rest = current.split_off(cut);
                lines.push(finish_line(&mut current, mode));
                current = rest;
                if mode == WrapMode::Prose {
                    let leading = current.iter().take_while(|cell| cell.space).count();
                    current.drain(..leading);
                }
                current_width = current.iter().map(|cell| cell.width).sum();
                if current_width + cell.width > width {
                    // The carried-over word is itself too long: hard-break it.
                    lines.push(finish_line(&mut current, mode));
                    current_width = 0;
                }
            }
            if mode == WrapMode::Prose && cell.space && current.is_empty() && !lines.is_empty() {
                continue;
            }
            current_width += cell.width;
            current.push(cell);
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(finish_line(&mut current, mode));
    }
    lines
}

/// Turns the cells of one line into spans, merging runs of one style, and
/// empties `cells`.
fn finish_line(cells: &mut Vec<Cell<'_>>, mode: WrapMode) -> StyledLine {
    if mode == WrapMode::Prose {
        while cells.last().is_some_and(|cell| cell.space) {
            cells.pop();
        }
    }
    let mut spans: StyledLine = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for cell in cells.drain(..) {
        if style.is_some_and(|style| style != cell.style) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(cell.style);
        text.push_str(cell.text);
    }
    if let Some(style) = style {
        spans.push(Span::styled(text, style));
    }
    spans
}

/// The width of a line of spans in terminal cells.
pub(crate) fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|span| span.content.width()).sum()
}

/// Replaces tabs (with spaces up to the next multiple of `tab_width` columns)
/// and drops other control characters, which have no defined width and would
/// move the terminal's cursor.
pub(crate) fn sanitize(text: &str, tab_width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    for grapheme in text.graphemes(true) {
        if grapheme == "\n" || grapheme == "\r\n" {
            out.push('\n');
            column = 0;
        } else if grapheme == "\t" {
            let spaces = tab_width - column % tab_width.max(1);
            out.extend(std::iter::repeat_n(' ', spaces));
            column += spaces;
        } else if grapheme.chars().any(char::is_control) {
            continue;
        } else {
            out.push_str(grapheme);
            column += grapheme.width();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[StyledLine]) -> Vec<String> {
        lines
            .iter()
            .map(|line| line.iter().map(|span| span.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn prose_breaks_at_spaces_and_drops_them() {
        let lines = wrap_spans(&[Span::raw("one two three four")], 9, WrapMode::Prose);
        assert_eq!(texts(&lines), ["one two", "three", "four"]);
        let lines = wrap_spans(&[Span::raw("one two three")], 8, WrapMode::Prose);
        assert_eq!(texts(&lines), ["one two", "three"]);
    }

    #[test]
    fn long_words_are_cut_at_the_width() {
        let lines = wrap_spans(&[Span::raw("a abcdefghij")], 4, WrapMode::Prose);
        assert_eq!(texts(&lines), ["a", "abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_characters_break_between_each_other_and_never_overflow() {
        let lines = wrap_spans(&[Span::raw("漢字漢字漢")], 5, WrapMode::Prose);
        assert_eq!(texts(&lines), ["漢字", "漢字", "漢"]);
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let lines = wrap_spans(&[Span::raw(format!("ab {family} cd"))], 4, WrapMode::Prose);
        assert_eq!(texts(&lines), ["ab", family, "cd"]);
    }

    #[test]
    fn code_breaks_between_tokens_and_keeps_indentation() {
        let spans = [
            Span::raw("    "),
            Span::raw("call"),
            Span::raw("("),
            Span::raw("argument"),
            Span::raw(")"),
        ];
        let lines = wrap_spans(&spans, 12, WrapMode::Code);
        assert_eq!(texts(&lines), ["    call(", "argument)"]);
    }

    #[test]
    fn sanitize_expands_tabs_and_drops_controls() {
        assert_eq!(sanitize("a\tb\u{1b}[0m\u{7}", 4), "a   b[0m");
    }
}
