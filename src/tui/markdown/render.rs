//! One chunk of markdown to styled, wrapped lines.
//!
//! Walks pulldown-cmark's events once. Inline content gathers into spans and
//! is wrapped when its block ends; every line then gets its containers'
//! prefixes: a `│` bar per block quote and, per list item, its marker on the
//! item's first line and a hanging indent of the same width after.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::highlight::highlight_code;
use super::table::Table;
use super::wrap::{StyledLine, WrapMode, sanitize, spans_width, wrap_spans};
use crate::tools::Lang;
use crate::tui::theme::Theme;

/// Spaces a tab stands for in code.
const TAB_WIDTH: usize = 4;

/// Content keeps at least this many columns (or the whole width, if less)
/// however deep the nesting; deeper prefixes are cut from the left.
const MIN_CONTENT_WIDTH: usize = 10;

/// The markdown extensions the model's answers use.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
}

/// The narrowest width rendered: one wide (CJK, emoji) character.
pub(crate) const MIN_WIDTH: u16 = 2;

/// Renders one self-contained chunk of markdown to lines at most `width`
/// (at least [`MIN_WIDTH`]) cells wide.
pub(crate) fn render_chunk(source: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut renderer = Renderer::new(usize::from(width.max(MIN_WIDTH)), theme);
    for event in Parser::new_ext(source, options()) {
        renderer.event(event);
    }
    renderer.finish()
}

/// A block that wraps the lines of what it contains.
#[derive(Debug)]
enum Container {
    Quote,
    /// A list item or footnote definition: its marker, shown on its first line.
    Item {
        marker: StyledLine,
        shown: bool,
    },
}

/// A fenced or indented code block being collected.
struct CodeBlock {
    info: String,
    text: String,
}

/// A link or image whose destination is shown after its text.
struct OpenLink {
    url: String,
    /// Where the link's text starts in the inline spans.
    text_start: usize,
    image: bool,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    lines: Vec<Line<'static>>,
    containers: Vec<Container>,
    /// The next number of each open list (`None` for bullet lists).
    lists: Vec<Option<u64>>,
    /// Inline content of the block being read.
    inline: StyledLine,
    /// Inline styles (emphasis, strong, links, headings) now open.
    styles: Vec<Style>,
    links: Vec<OpenLink>,
    code: Option<CodeBlock>,
    html: Option<String>,
    table: Option<Table>,
    /// A blank line goes before the next line (a block ended).
    blank_pending: bool,
}

impl<'t> Renderer<'t> {
    fn new(width: usize, theme: &'t Theme) -> Renderer<'t> {
        Renderer {
            theme,
            width,
            lines: Vec::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            inline: Vec::new(),
            styles: Vec::new(),
            links: Vec::new(),
            code: None,
            html: None,
            table: None,
            blank_pending: false,
        }
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        self.flush_inline();
        self.lines
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                if let Some(code) = &mut self.code {
                    code.text.push_str(&text);
                } else if let Some(html) = &mut self.html {
                    html.push_str(&text);
                } else {
                    self.push_text(&text, self.style());
                }
            }
            Event::Code(code) => self.push_inline_code(&code),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.push_inline_code(&math),
            Event::Html(html) | Event::InlineHtml(html) => match &mut self.html {
                Some(block) => block.push_str(&html),
                None => self.push_text(&html, self.style().patch(self.theme.dim)),
            },
            Event::FootnoteReference(label) => {
                self.push_text(
                    &format!("[^{label}]"),
                    self.style().patch(self.theme.accent),
                );
            }
            Event::SoftBreak => self.push_text(" ", self.style()),
            Event::HardBreak => self.inline.push(Span::raw("\n")),
            Event::Rule => {
                self.flush_inline();
                let width = self.content_width();
                let rule = "─".repeat(width);
                self.emit(vec![Span::styled(rule, self.theme.border)]);
                self.blank_pending = true;
            }
            Event::TaskListMarker(checked) => {
                let (mark, style) = match checked {
                    true => ("[x] ", self.theme.success),
                    false => ("[ ] ", self.theme.dim),
                };
                self.inline.push(Span::styled(mark, style));
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.flush_inline(),
            Tag::Heading { level, .. } => {
                self.flush_inline();
                let style = self.theme.heading.add_modifier(Modifier::BOLD);
                let hashes = "#".repeat(heading_depth(level));
                self.inline
                    .push(Span::styled(format!("{hashes} "), self.theme.dim));
                self.styles.push(style);
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.flush_inline();
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.trim().to_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some(CodeBlock {
                    info,
                    text: String::new(),
                });
            }
            Tag::HtmlBlock => {
                self.flush_inline();
                self.html = Some(String::new());
            }
            Tag::List(first) => {
                self.flush_inline();
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush_inline();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(number)) => {
                        let marker = format!("{number}. ");
                        *number = number.saturating_add(1);
                        marker
                    }
                    _ => format!("{} ", ["•", "◦", "▪"][depth % 3]),
                };
                self.containers.push(Container::Item {
                    marker: vec![Span::styled(marker, self.theme.accent)],
                    shown: false,
                });
            }
            Tag::FootnoteDefinition(label) => {
                self.flush_inline();
                let marker = format!("[^{label}]: ");
                self.containers.push(Container::Item {
                    marker: vec![Span::styled(sanitize(&marker, TAB_WIDTH), self.theme.dim)],
                    shown: false,
                });
            }
            Tag::Table(alignments) => {
                self.flush_inline();
                self.table = Some(Table::new(alignments));
            }
            Tag::TableHead => {
                if let Some(table) = &mut self.table {
                    table.start_row(true);
                }
            }
            Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.start_row(false);
                }
            }
            Tag::TableCell => self.inline.clear(),
            Tag::Emphasis => self
                .styles
                .push(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.styles.push(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self
                .styles
                .push(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.links.push(OpenLink {
                    url: dest_url.into_string(),
                    text_start: self.inline.len(),
                    image: false,
                });
                self.styles.push(self.theme.link);
            }
            Tag::Image { dest_url, .. } => {
                self.push_text("[image: ", self.style().patch(self.theme.dim));
                self.links.push(OpenLink {
                    url: dest_url.into_string(),
                    text_start: self.inline.len(),
                    image: true,
                });
                self.styles.push(Style::new());
            }
            Tag::Superscript
            | Tag::Subscript
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush_inline();
                self.blank_pending = true;
            }
            TagEnd::Heading(_) => {
                self.styles.pop();
                self.flush_inline();
                self.blank_pending = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.containers.pop();
                self.blank_pending = true;
            }
            TagEnd::CodeBlock => {
                if let Some(code) = self.code.take() {
                    self.emit_code_block(&code);
                }
                self.blank_pending = true;
            }
            TagEnd::HtmlBlock => {
                if let Some(html) = self.html.take() {
                    let html = sanitize(&html, TAB_WIDTH);
                    for line in html.trim_end_matches('\n').split('\n') {
                        let span = Span::styled(line.to_owned(), self.theme.dim);
                        self.emit_wrapped(&[span], WrapMode::Code);
                    }
                }
                self.blank_pending = true;
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                let inside_item = self
                    .containers
                    .iter()
                    .any(|container| matches!(container, Container::Item { .. }));
                if !inside_item {
                    self.blank_pending = true;
                }
            }
            TagEnd::Item | TagEnd::FootnoteDefinition => {
                self.flush_inline();
                if let Some(Container::Item { shown: false, .. }) = self.containers.last() {
                    // An empty item still shows its marker.
                    self.emit(Vec::new());
                }
                self.containers.pop();
                if tag == TagEnd::FootnoteDefinition {
                    self.blank_pending = true;
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    let width = self.content_width();
                    for line in table.render(width, self.theme) {
                        self.emit(line);
                    }
                }
                self.blank_pending = true;
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(table) = &mut self.table {
                    table.push_cell(cell);
                }
            }
            TagEnd::TableHead | TagEnd::TableRow => {}
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.styles.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                self.styles.pop();
                if let Some(link) = self.links.pop() {
                    self.close_link(link);
                }
            }
            TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// The style of inline text here: the block's base with every open
    /// inline style applied.
    fn style(&self) -> Style {
        let in_quote = self
            .containers
            .iter()
            .any(|container| matches!(container, Container::Quote));
        let base = match in_quote {
            true => self.theme.text.patch(self.theme.quote),
            false => self.theme.text,
        };
        self.styles
            .iter()
            .fold(base, |style, open| style.patch(*open))
    }

    fn push_text(&mut self, text: &str, style: Style) {
        let text = sanitize(text, 1);
        if !text.is_empty() {
            self.inline.push(Span::styled(text, style));
        }
    }

    /// Inline code: the code style, with its backticks kept where the theme
    /// has no colour to set it apart.
    fn push_inline_code(&mut self, code: &str) {
        let style = self.style().patch(self.theme.code);
        match self.theme.color {
            true => self.push_text(code, style),
            false => self.push_text(&format!("`{code}`"), style),
        }
    }

    /// Shows a link's destination after its text, unless the text already
    /// is the destination (autolinks).
    fn close_link(&mut self, link: OpenLink) {
        let text: String = self
            .inline
            .get(link.text_start..)
            .unwrap_or_default()
            .iter()
            .map(|span| span.content.as_ref())
            .collect();
        let dim = self.style().patch(self.theme.dim);
        if link.image {
            self.push_text("]", dim);
        }
        let url = link.url.strip_prefix("mailto:").unwrap_or(&link.url);
        if !url.is_empty() && url != text {
            self.push_text(&format!(" ({})", link.url), dim);
        }
    }

    fn emit_code_block(&mut self, code: &CodeBlock) {
        let fence = Span::styled(format!("```{}", code.info), self.theme.dim);
        self.emit_wrapped(&[fence], WrapMode::Code);
        let language = Lang::from_info(&code.info);
        let text = sanitize(&code.text, TAB_WIDTH);
        if !text.is_empty() {
            for line in highlight_code(language, &text, self.theme.text, self.theme) {
                self.emit_wrapped(&line, WrapMode::Code);
            }
        }
        self.emit_wrapped(&[Span::styled("```", self.theme.dim)], WrapMode::Code);
    }

    /// Wraps the inline content gathered so far into lines, if there is any.
    fn flush_inline(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let inline = std::mem::take(&mut self.inline);
        self.emit_wrapped(&inline, WrapMode::Prose);
    }

    fn emit_wrapped(&mut self, spans: &[Span<'_>], mode: WrapMode) {
        let width = self.content_width();
        for line in wrap_spans(spans, width, mode) {
            self.emit(line);
        }
    }

    /// Columns left for content after the containers' prefixes.
    fn content_width(&self) -> usize {
        let minimum = MIN_CONTENT_WIDTH.min(self.width);
        self.width.saturating_sub(self.prefix_width()).max(minimum)
    }

    fn prefix_width(&self) -> usize {
        self.containers
            .iter()
            .map(|container| match container {
                Container::Quote => 2,
                Container::Item { marker, .. } => spans_width(marker),
            })
            .sum()
    }

    /// Adds one line of content under the current containers, after a blank
    /// line if a block ended before it.
    fn emit(&mut self, content: StyledLine) {
        if self.blank_pending && !self.lines.is_empty() {
            let blank = self.prefix(false);
            self.push_line(blank, Vec::new());
        }
        self.blank_pending = false;
        let prefix = self.prefix(true);
        self.push_line(prefix, content);
    }

    /// The containers' prefix for the next line; `first` shows (and uses up)
    /// the markers of items that have not shown theirs yet.
    fn prefix(&mut self, first: bool) -> StyledLine {
        let quote = self.theme.quote;
        let mut prefix = StyledLine::new();
        for container in &mut self.containers {
            match container {
                Container::Quote => prefix.push(Span::styled("│ ", quote)),
                Container::Item { marker, shown } if first && !*shown => {
                    *shown = true;
                    prefix.extend(marker.iter().cloned());
                }
                Container::Item { marker, .. } => {
                    prefix.push(Span::raw(" ".repeat(spans_width(marker))));
                }
            }
        }
        prefix
    }

    /// Joins prefix and content, cutting the prefix from the left if deep
    /// nesting would push the line past the width, and trimming trailing
    /// spaces off lines that have no content.
    fn push_line(&mut self, prefix: StyledLine, content: StyledLine) {
        let room = self.width.saturating_sub(spans_width(&content));
        let mut spans = clip_left(prefix, room);
        if content.is_empty() {
            trim_trailing_spaces(&mut spans);
        }
        spans.extend(content);
        self.lines.push(Line::from(spans));
    }
}

fn heading_depth(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Drops graphemes from the start of `spans` until they fit in `width`.
fn clip_left(spans: StyledLine, width: usize) -> StyledLine {
    let mut excess = spans_width(&spans).saturating_sub(width);
    if excess == 0 {
        return spans;
    }
    let mut clipped = StyledLine::new();
    for span in spans {
        if excess == 0 {
            clipped.push(span);
            continue;
        }
        let mut kept = String::new();
        for grapheme in span.content.graphemes(true) {
            if excess > 0 {
                excess = excess.saturating_sub(grapheme.width());
            } else {
                kept.push_str(grapheme);
            }
        }
        if !kept.is_empty() {
            clipped.push(Span::styled(kept, span.style));
        }
    }
    clipped
}

fn trim_trailing_spaces(spans: &mut StyledLine) {
    while let Some(last) = spans.last_mut() {
        let trimmed = last.content.trim_end();
        if trimmed.is_empty() {
            spans.pop();
        } else {
            if trimmed.len() != last.content.len() {
                last.content = trimmed.to_owned().into();
            }
            break;
        }
    }
}
