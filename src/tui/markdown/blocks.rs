//! Where markdown splits into chunks that render independently.
//!
//! A streamed answer is rendered chunk by chunk: once a chunk is complete it
//! can no longer change, so its lines go to the terminal's scrollback and are
//! never rendered again. [`ChunkScanner`] finds those split points line by
//! line, deciding each from the lines fed so far only, so the same text yields
//! the same chunks however it arrives; [`render_markdown`](super::render_markdown)
//! uses the very same splits, which is what makes a streamed answer equal to
//! the whole answer rendered at once.
//!
//! A split falls after a blank line that ends every open block: not inside a
//! fenced code block or a raw HTML block that runs to an end marker (types 1
//! to 5 of CommonMark), and not where the next line could still continue a
//! list, a footnote or an indented code block. Such a chunk ends there in the
//! whole document too. One limit: link reference definitions apply within
//! their own chunk only.

/// Where a chunk ends, relative to the line just fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// The chunk ended before this line; the line starts the next one.
    BeforeLine,
    /// This (blank) line ends the chunk.
    AfterLine,
}

/// A block that blank lines do not end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenBlock {
    /// A fenced code block: its fence character and length.
    Fence { marker: char, length: usize },
    /// An HTML block that ends at a line containing this (lowercase) marker.
    Html { end: &'static str },
}

/// Feeds complete lines in order and reports chunk boundaries.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChunkScanner {
    open: Option<OpenBlock>,
    previous_blank: bool,
    /// The current chunk has a non-blank line.
    has_content: bool,
    /// The current chunk has a line that a later, indented line could continue
    /// across a blank line (a list item, a footnote definition, indented code).
    may_continue: bool,
}

impl ChunkScanner {
    /// Feeds the next line (with or without its line ending) and says whether
    /// a chunk ends at it.
    pub(crate) fn feed(&mut self, line: &str) -> Option<Split> {
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(open) = self.open {
            if closes(open, content) {
                self.open = None;
            }
            self.previous_blank = false;
            return None;
        }
        if content.trim_matches([' ', '\t']).is_empty() {
            let ends_chunk = self.has_content && !self.previous_blank && !self.may_continue;
            self.previous_blank = true;
            if ends_chunk {
                self.start_chunk();
                return Some(Split::AfterLine);
            }
            return None;
        }
        let indent = indent_columns(content);
        let rest = content.trim_start_matches([' ', '\t']);
        let list_item = indent < 4 && is_list_item(rest);
        let mut split = None;
        if self.previous_blank && self.has_content && indent == 0 && !list_item {
            self.start_chunk();
            split = Some(Split::BeforeLine);
        }
        self.previous_blank = false;
        self.has_content = true;
        if indent >= 4 || list_item || rest.starts_with("[^") {
            self.may_continue = true;
        }
        if indent < 4 {
            self.open = opens(rest);
        }
        split
    }

    fn start_chunk(&mut self) {
        self.has_content = false;
        self.may_continue = false;
    }
}

/// Columns of leading whitespace, with tabs stopping every 4 columns.
fn indent_columns(line: &str) -> usize {
    let mut columns = 0;
    for c in line.chars() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += 4 - columns % 4,
            _ => break,
        }
    }
    columns
}

/// A bullet (`-`, `+`, `*`) or ordered (`12.`, `3)`) list marker followed by
/// whitespace or the end of the line.
fn is_list_item(rest: &str) -> bool {
    let after_marker = match rest.chars().next() {
        Some('-' | '+' | '*') => &rest[1..],
        Some(c) if c.is_ascii_digit() => {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits > 9 {
                return false;
            }
            match rest[digits..].strip_prefix(['.', ')']) {
                Some(after) => after,
                None => return false,
            }
        }
        _ => return false,
    };
    after_marker.is_empty() || after_marker.starts_with([' ', '\t'])
}

/// The block a line (without its indentation) opens, if blank lines cannot
/// end it and it is not closed on the same line.
fn opens(rest: &str) -> Option<OpenBlock> {
    if let Some(marker) = rest.chars().next().filter(|c| matches!(c, '`' | '~')) {
        let length = rest.chars().take_while(|&c| c == marker).count();
        let info = &rest[length..];
        if length >= 3 && !(marker == '`' && info.contains('`')) {
            return Some(OpenBlock::Fence { marker, length });
        }
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    let (end, opener_length) = if let Some(tag) = ["script", "pre", "style", "textarea"]
        .into_iter()
        .find(|tag| raw_tag_opens(&lower, tag))
    {
        let end = match tag {
            "script" => "</script>",
            "pre" => "</pre>",
            "style" => "</style>",
            _ => "</textarea>",
        };
        (end, tag.len() + 1)
    } else if lower.starts_with("<!--") {
        ("-->", 4)
    } else if lower.starts_with("<?") {
        ("?>", 2)
    } else if lower.starts_with("<![cdata[") {
        ("]]>", 9)
    } else if lower.starts_with("<!") && lower[2..].starts_with(|c: char| c.is_ascii_alphabetic()) {
        (">", 2)
    } else {
        return None;
    };
    let open = OpenBlock::Html { end };
    if lower[opener_length..].contains(end) {
        None
    } else {
        Some(open)
    }
}

/// `<tag` followed by whitespace, `>` or the end of the line.
fn raw_tag_opens(lower: &str, tag: &str) -> bool {
    lower
        .strip_prefix('<')
        .and_then(|after| after.strip_prefix(tag))
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '>']))
}

/// Whether `line` ends the open block.
fn closes(open: OpenBlock, line: &str) -> bool {
    match open {
        OpenBlock::Fence { marker, length } => {
            indent_columns(line) < 4 && {
                let rest = line.trim_matches([' ', '\t']);
                rest.chars().all(|c| c == marker) && rest.chars().count() >= length
            }
        }
        OpenBlock::Html { end } => line.to_ascii_lowercase().contains(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte offsets where chunks of `text` start (after the first).
    fn splits(text: &str) -> Vec<usize> {
        let mut scanner = ChunkScanner::default();
        let mut offset = 0;
        let mut found = Vec::new();
        for line in text.split_inclusive('\n') {
            match scanner.feed(line) {
                Some(Split::BeforeLine) => found.push(offset),
                Some(Split::AfterLine) => found.push(offset + line.len()),
                None => {}
            }
            offset += line.len();
        }
        found
    }

    fn chunks(text: &str) -> Vec<&str> {
        let mut start = 0;
        let mut out = Vec::new();
        for split in splits(text) {
            out.push(&text[start..split]);
            start = split;
        }
        out.push(&text[start..]);
        out
    }

    #[test]
    fn paragraphs_split_at_the_blank_line() {
        assert_eq!(chunks("a\nb\n\nc\n"), ["a\nb\n\n", "c\n"]);
    }

    #[test]
    fn lists_wait_for_an_unindented_line() {
        assert_eq!(
            chunks("- a\n\n  more\n\n- b\n\nafter\n"),
            ["- a\n\n  more\n\n- b\n\n", "after\n"]
        );
        assert_eq!(chunks("1. a\n\n2) b\n"), ["1. a\n\n2) b\n"]);
    }

    #[test]
    fn fences_and_html_blocks_hold_their_blank_lines() {
        assert_eq!(
            chunks("```rust\nfn a() {}\n\nfn b() {}\n```\n\nnext\n"),
            ["```rust\nfn a() {}\n\nfn b() {}\n```\n\n", "next\n"]
        );
        assert_eq!(
            chunks("~~~~\n~~~\n\nx\n~~~~\n\ny"),
            ["~~~~\n~~~\n\nx\n~~~~\n\n", "y"]
        );
        assert_eq!(
            chunks("<!--\n\nhidden\n-->\n\nshown\n"),
            ["<!--\n\nhidden\n-->\n\n", "shown\n"]
        );
        assert_eq!(
            chunks("<!-- one line -->\n\nx\n"),
            ["<!-- one line -->\n\n", "x\n"]
        );
    }

    #[test]
    fn indented_code_and_footnotes_continue_across_blank_lines() {
        assert_eq!(
            chunks("    a\n\n    b\n\nc\n"),
            ["    a\n\n    b\n\n", "c\n"]
        );
        assert_eq!(
            chunks("[^1]: a\n\n    b\n\nc\n"),
            ["[^1]: a\n\n    b\n\n", "c\n"]
        );
    }

    #[test]
    fn list_markers_need_whitespace() {
        assert!(is_list_item("- a"));
        assert!(is_list_item("-"));
        assert!(is_list_item("10. a"));
        assert!(!is_list_item("-a"));
        assert!(!is_list_item("1.5"));
        assert!(!is_list_item("1234567890. a"));
    }
}
