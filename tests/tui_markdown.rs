//! Markdown rendering for the TUI: snapshots of what each construct looks like,
//! and properties that must hold for any input (streamed output equals whole
//! output, no line wider than the width, no panic).

use glint::tui::markdown::{MarkdownStream, render_markdown};
use glint::tui::theme::Theme;
use proptest::prelude::*;
use ratatui::style::Style;
use ratatui::text::Line;
use unicode_width::UnicodeWidthStr;

/// The lines as plain text, one per row, with a `|` marking the width.
fn text(lines: &[Line<'_>], width: u16) -> String {
    let mut out = String::new();
    for line in lines {
        let content = line.to_string();
        let pad = usize::from(width).saturating_sub(content.width());
        out.push_str(&format!("{content}{}|\n", " ".repeat(pad)));
    }
    out
}

/// The lines with every styled span written as `«text»{style}`.
fn styled(lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    for line in lines {
        for span in &line.spans {
            if span.style == Style::default() {
                out.push_str(&span.content);
            } else {
                out.push_str(&format!("«{}»{{{}}}", span.content, style_name(span.style)));
            }
        }
        out.push('\n');
    }
    out
}

fn style_name(style: Style) -> String {
    let mut parts = Vec::new();
    if let Some(fg) = style.fg {
        parts.push(format!("{fg:?}"));
    }
    if let Some(bg) = style.bg {
        parts.push(format!("on {bg:?}"));
    }
    for (name, _) in style.add_modifier.iter_names() {
        parts.push(name.to_lowercase());
    }
    parts.join(" ")
}

fn assert_fits(lines: &[Line<'_>], width: u16) {
    for line in lines {
        assert!(
            line.width() <= usize::from(width.max(2)),
            "line wider than {width}: {:?}",
            line.to_string()
        );
    }
}

#[test]
fn headings_emphasis_links_quotes_and_rules() {
    let source = "# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `code`.\n\n\
                  ## Section\n\nA [link](https://example.com) and <https://auto.example>.\n\n\
                  > Quoted text that is long enough to wrap onto a second line here.\n>\n> Second.\n\n\
                  ---\n\n### Small\n";
    let lines = render_markdown(source, 40, &Theme::colored());
    assert_fits(&lines, 40);
    insta::assert_snapshot!("headings_text", text(&lines, 40));
    insta::assert_snapshot!("headings_styled", styled(&lines));
}

#[test]
fn lists_nest_with_hanging_indents() {
    let source = "1. First item whose text is long enough to wrap\n\
                  2. Second\n   - nested bullet that also wraps around\n   - [x] done task\n   - [ ] open task\n\
                  3. Third\n\n\
                  - loose one\n\n- loose two\n  continued line\n\nAfter.\n";
    let lines = render_markdown(source, 30, &Theme::colored());
    assert_fits(&lines, 30);
    insta::assert_snapshot!("lists_text", text(&lines, 30));
}

#[test]
fn a_wide_table_shrinks_to_forty_columns() {
    let source = "| Crate | Purpose | Notes |\n|:--|:-:|--:|\n\
                  | ratatui | terminal user interfaces drawn from widgets | 0.30 |\n\
                  | pulldown-cmark | parses CommonMark into a stream of events | fast |\n\
                  | tree-sitter | incremental parsing for syntax highlighting | C |\n";
    let wide = render_markdown(source, 120, &Theme::plain());
    assert!(
        wide.iter().any(|line| line.width() > 40),
        "the table must need more than 40 columns"
    );
    let lines = render_markdown(source, 40, &Theme::plain());
    assert_fits(&lines, 40);
    insta::assert_snapshot!("table_40_text", text(&lines, 40));
    let narrow = render_markdown(source, 12, &Theme::plain());
    assert_fits(&narrow, 12);
    insta::assert_snapshot!("table_12_text", text(&narrow, 12));
}

#[test]
fn rust_code_is_highlighted() {
    let source = "```rust\n/// Adds.\nfn add(a: i32, b: i32) -> i32 {\n    let s = \"sum\"; // note\n    a + b + 42\n}\n```\n";
    let theme = Theme::colored();
    let lines = render_markdown(source, 60, &theme);
    let keyword = theme.highlight_style("keyword");
    assert!(
        lines
            .iter()
            .flat_map(|line| &line.spans)
            .any(|span| span.content == "fn" && span.style == keyword)
    );
    insta::assert_snapshot!("rust_code_styled", styled(&lines));
}

#[test]
fn python_code_is_highlighted_and_long_lines_wrap_between_tokens() {
    let source = "```python\ndef greet(name):\n    \"\"\"Say hello.\"\"\"\n    return f\"hello {name}\" if name else default_greeting_for_anonymous_users()\n```\n";
    let lines = render_markdown(source, 40, &Theme::colored());
    assert_fits(&lines, 40);
    insta::assert_snapshot!("python_code_text", text(&lines, 40));
    insta::assert_snapshot!("python_code_styled", styled(&lines));
}

#[test]
fn other_languages_are_plain_code() {
    let lines = render_markdown("```toml\nkey = \"value\"\n```\n", 40, &Theme::colored());
    let texts: Vec<String> = lines.iter().map(Line::to_string).collect();
    assert_eq!(texts, ["```toml", "key = \"value\"", "```"]);
    assert_eq!(lines[1].spans[0].style, Theme::colored().text);
}

#[test]
fn the_plain_theme_has_no_colours() {
    let source = "# Title\n\nText with **bold**, `code` and a [link](https://x.dev).\n\n\
                  > quote\n\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n";
    let lines = render_markdown(source, 50, &Theme::plain());
    for span in lines.iter().flat_map(|line| &line.spans) {
        assert_eq!((span.style.fg, span.style.bg), (None, None), "{span:?}");
    }
    insta::assert_snapshot!("plain_theme_styled", styled(&lines));
}

#[test]
fn wide_characters_and_emoji_wrap_by_display_width() {
    let source = "漢字とかなの文章はスペースなしで折り返されます。\n\n\
                  Emoji 🎉🎉 and a family 👨\u{200d}👩\u{200d}👧 stay whole, e\u{301}clair too.\n\n\
                  - 中文列表项目也需要正确的悬挂缩进\n\n\
                  | 名前 | 説明 |\n|---|---|\n| 東京 | 日本の首都です |\n";
    let lines = render_markdown(source, 20, &Theme::plain());
    assert_fits(&lines, 20);
    insta::assert_snapshot!("wide_text", text(&lines, 20));
}

#[test]
fn a_stream_commits_finished_blocks_and_keeps_the_tail_pending() {
    let theme = Theme::plain();
    let mut stream = MarkdownStream::new();
    stream.push("First paragraph.\n\nSecond para");
    let committed = stream.take_committed(40, &theme);
    let texts: Vec<String> = committed.iter().map(Line::to_string).collect();
    assert_eq!(texts, ["First paragraph."]);
    let pending: Vec<String> = stream
        .pending(40, &theme)
        .iter()
        .map(Line::to_string)
        .collect();
    assert_eq!(pending, ["", "Second para"]);
    assert!(stream.take_committed(40, &theme).is_empty());

    stream.push("graph.\n\n```rust\nfn a() {}\n\n");
    let texts: Vec<String> = stream
        .take_committed(40, &theme)
        .iter()
        .map(Line::to_string)
        .collect();
    assert_eq!(texts, ["", "Second paragraph."]);
    // An open code fence is never committed, blank lines or not.
    stream.push("fn b() {}\n\nmore\n");
    assert!(stream.take_committed(40, &theme).is_empty());
    let rest: Vec<String> = stream
        .finish(40, &theme)
        .iter()
        .map(Line::to_string)
        .collect();
    assert_eq!(
        rest,
        [
            "",
            "```rust",
            "fn a() {}",
            "",
            "fn b() {}",
            "",
            "more",
            "```"
        ]
    );
}

/// Markdown-ish documents built from the constructs that make chunking hard:
/// fences with blank lines, loose lists, indented code, quotes, tables, HTML
/// comments, and wide text.
fn markdown_document() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Plain paragraph text that is long enough to wrap at small widths.\n".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("# Heading\n".to_owned()),
        Just("Setext\n---\n".to_owned()),
        Just("- item one\n".to_owned()),
        Just("  continued item text\n".to_owned()),
        Just("1. first\n".to_owned()),
        Just("2) second\n".to_owned()),
        Just("   - nested\n".to_owned()),
        Just("- [x] task\n".to_owned()),
        Just("```rust\nfn main() {\n\n    let x = 1;\n".to_owned()),
        Just("```\n".to_owned()),
        Just("~~~\n".to_owned()),
        Just("    indented code\n".to_owned()),
        Just("> quoted line\n".to_owned()),
        Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_owned()),
        Just("<!--\n".to_owned()),
        Just("-->\n".to_owned()),
        Just("[^1]: footnote\n".to_owned()),
        Just("Text with [link](http://x.y) and `code`.\n".to_owned()),
        Just("漢字と🎉絵文字\n".to_owned()),
        Just("***\n".to_owned()),
        "[a-z *_`|#>-]{0,20}\n",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Splits `text` at the given fractions of its length (moved back to char
/// boundaries).
fn split_at_fractions(text: &str, fractions: &[f64]) -> Vec<String> {
    let mut cuts: Vec<usize> = fractions
        .iter()
        .map(|fraction| {
            let mut cut = ((text.len() as f64) * fraction) as usize;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            cut
        })
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(text[start..cut].to_owned());
        start = cut;
    }
    pieces.push(text[start..].to_owned());
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn streamed_output_equals_whole_output(
        document in markdown_document(),
        fractions in prop::collection::vec(0.0f64..1.0, 0..30),
        width in 8u16..100,
        peek_pending in any::<bool>(),
    ) {
        let theme = Theme::colored();
        let whole = render_markdown(&document, width, &theme);
        let mut stream = MarkdownStream::new();
        let mut streamed = Vec::new();
        for delta in split_at_fractions(&document, &fractions) {
            stream.push(&delta);
            streamed.extend(stream.take_committed(width, &theme));
            if peek_pending {
                let _ = stream.pending(width, &theme);
            }
        }
        streamed.extend(stream.finish(width, &theme));
        prop_assert_eq!(streamed, whole);
    }

    #[test]
    fn any_text_renders_within_the_width(
        document in prop_oneof![markdown_document(), any::<String>()],
        width in 0u16..120,
    ) {
        let lines = render_markdown(&document, width, &Theme::colored());
        for line in &lines {
            prop_assert!(line.width() <= usize::from(width.max(2)), "{:?}", line.to_string());
        }
    }
}
