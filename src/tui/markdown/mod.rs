//! Markdown to styled terminal lines, whole or while it streams in.
//!
//! [`render_markdown`] turns an answer into ratatui lines wrapped to a width:
//! headings, emphasis, inline code, links (text, then the url dimmed), block
//! quotes, nested lists with hanging indents, task lists, rules, box-drawn
//! tables shrunk to fit, and fenced code blocks highlighted with tree-sitter.
//! [`MarkdownStream`] renders the same text as it arrives, handing out each
//! block's lines once the block is final, so the app can push them into the
//! terminal's scrollback and redraw only the unfinished tail.
//!
//! Both cut the text into chunks at the same split points (see `blocks`) and
//! render each chunk on its own, which is what makes streamed and whole output
//! identical.

mod blocks;
mod highlight;
mod render;
mod stream;
mod table;
mod wrap;

use ratatui::text::Line;

/// For the review view's diffs.
pub(crate) use highlight::highlight_code;
pub use stream::MarkdownStream;

use crate::tui::theme::Theme;

/// Renders `source` to lines at most `width` terminal cells wide (widths
/// below 2, the width of one CJK character or emoji, are taken as 2). Never
/// panics, whatever the input.
pub fn render_markdown(source: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut stream = MarkdownStream::new();
    stream.push(source);
    stream.finish(width, theme)
}
