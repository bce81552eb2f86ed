//! Syntax highlighting of fenced code blocks with tree-sitter.
//!
//! Each language's `HighlightConfiguration` compiles its queries once, on first
//! use, and is shared from then on; the parser is reused per thread. Captures
//! are styled by [`Theme::highlight_style`], so `NO_COLOR` needs nothing here.

use std::cell::RefCell;
use std::sync::OnceLock;

use ratatui::style::Style;
use ratatui::text::Span;
use tree_sitter::{Language, QueryError};
use tree_sitter_highlight::{HighlightConfiguration, HighlightEvent, Highlighter};

use super::wrap::StyledLine;
use crate::tools::Lang;
use crate::tui::theme::Theme;

/// The capture names the theme distinguishes; tree-sitter maps each of a
/// grammar's captures to the longest of these it starts with.
const CAPTURE_NAMES: &[&str] = &[
    "attribute",
    "boolean",
    "character",
    "comment",
    "conditional",
    "constant",
    "constant.builtin",
    "constructor",
    "escape",
    "exception",
    "field",
    "float",
    "function",
    "function.builtin",
    "function.macro",
    "function.method",
    "include",
    "keyword",
    "label",
    "macro",
    "method",
    "module",
    "namespace",
    "number",
    "operator",
    "property",
    "punctuation",
    "repeat",
    "string",
    "string.escape",
    "string.regex",
    "string.special",
    "tag",
    "type",
    "type.builtin",
    "variable",
    "variable.builtin",
    "variable.parameter",
];

const LANGUAGE_COUNT: usize = 9;

/// Highlighting for the languages glint already navigates (the code tools'
/// [`Lang`], with the same grammars).
impl Lang {
    /// The language a fence's info string names (`rust`, `py`, `c++`, ...),
    /// judged by its first word; `None` for anything not highlighted.
    pub(crate) fn from_info(info: &str) -> Option<Lang> {
        let word = info
            .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let language = match word.as_str() {
            "rust" | "rs" => Lang::Rust,
            "python" | "py" | "python3" => Lang::Python,
            "javascript" | "js" | "jsx" | "mjs" | "cjs" | "node" => Lang::JavaScript,
            "typescript" | "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "go" | "golang" => Lang::Go,
            "c" | "h" => Lang::C,
            "cpp" | "c++" | "cc" | "cxx" | "hpp" | "hh" | "hxx" => Lang::Cpp,
            "java" => Lang::Java,
            _ => return None,
        };
        Some(language)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Compiles this language's highlight queries. C++ and TypeScript extend
    /// the C and JavaScript queries, as their grammars' own configurations do.
    fn build(self) -> Result<HighlightConfiguration, QueryError> {
        let (language, name, query): (Language, &str, String) = match self {
            Lang::Rust => (
                tree_sitter_rust::LANGUAGE.into(),
                "rust",
                tree_sitter_rust::HIGHLIGHTS_QUERY.to_owned(),
            ),
            Lang::Python => (
                tree_sitter_python::LANGUAGE.into(),
                "python",
                tree_sitter_python::HIGHLIGHTS_QUERY.to_owned(),
            ),
            Lang::JavaScript => (
                tree_sitter_javascript::LANGUAGE.into(),
                "javascript",
                [
                    tree_sitter_javascript::HIGHLIGHT_QUERY,
                    tree_sitter_javascript::JSX_HIGHLIGHT_QUERY,
                ]
                .join("\n"),
            ),
            Lang::TypeScript => (
                tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                "typescript",
                [
                    tree_sitter_typescript::HIGHLIGHTS_QUERY,
                    tree_sitter_javascript::HIGHLIGHT_QUERY,
                ]
                .join("\n"),
            ),
            Lang::Tsx => (
                tree_sitter_typescript::LANGUAGE_TSX.into(),
                "tsx",
                [
                    tree_sitter_typescript::HIGHLIGHTS_QUERY,
                    tree_sitter_javascript::HIGHLIGHT_QUERY,
                    tree_sitter_javascript::JSX_HIGHLIGHT_QUERY,
                ]
                .join("\n"),
            ),
            Lang::Go => (
                tree_sitter_go::LANGUAGE.into(),
                "go",
                tree_sitter_go::HIGHLIGHTS_QUERY.to_owned(),
            ),
            Lang::C => (
                tree_sitter_c::LANGUAGE.into(),
                "c",
                tree_sitter_c::HIGHLIGHT_QUERY.to_owned(),
            ),
            Lang::Cpp => (
                tree_sitter_cpp::LANGUAGE.into(),
                "cpp",
                [
                    tree_sitter_c::HIGHLIGHT_QUERY,
                    tree_sitter_cpp::HIGHLIGHT_QUERY,
                ]
                .join("\n"),
            ),
            Lang::Java => (
                tree_sitter_java::LANGUAGE.into(),
                "java",
                tree_sitter_java::HIGHLIGHTS_QUERY.to_owned(),
            ),
        };
        let mut config = HighlightConfiguration::new(language, name, &query, "", "")?;
        config.configure(CAPTURE_NAMES);
        Ok(config)
    }

    /// This language's configuration, compiled on first use; `None` if its
    /// queries do not compile (then its code is shown plain).
    fn config(self) -> Option<&'static HighlightConfiguration> {
        static CONFIGS: [OnceLock<Option<HighlightConfiguration>>; LANGUAGE_COUNT] =
            [const { OnceLock::new() }; LANGUAGE_COUNT];
        CONFIGS[self.index()]
            .get_or_init(|| match self.build() {
                Ok(config) => Some(config),
                Err(error) => {
                    tracing::warn!(language = ?self, %error, "highlight query does not compile");
                    None
                }
            })
            .as_ref()
    }
}

thread_local! {
    /// The parser and query cursors, reused across code blocks.
    static HIGHLIGHTER: RefCell<Highlighter> = RefCell::new(Highlighter::new());
}

/// Splits `code` into its lines (a final newline ends the last line rather
/// than starting an empty one), styled by `language`'s highlight captures, or
/// all in `base` when the language is unknown or highlighting fails.
pub(crate) fn highlight_code(
    language: Option<Lang>,
    code: &str,
    base: Style,
    theme: &Theme,
) -> Vec<StyledLine> {
    let code = code.strip_suffix('\n').unwrap_or(code);
    language
        .and_then(Lang::config)
        .and_then(|config| highlighted_lines(config, code, base, theme))
        .unwrap_or_else(|| {
            code.split('\n')
                .map(|line| styled_piece(line, base))
                .collect()
        })
}

/// `code`'s lines styled by `config`'s captures; `None` if tree-sitter fails.
fn highlighted_lines(
    config: &HighlightConfiguration,
    code: &str,
    base: Style,
    theme: &Theme,
) -> Option<Vec<StyledLine>> {
    HIGHLIGHTER.with(|highlighter| {
        let mut highlighter = highlighter.try_borrow_mut().ok()?;
        let events = highlighter
            .highlight(config, code.as_bytes(), None, |_| None)
            .ok()?;
        let mut styles: Vec<Style> = Vec::new();
        let mut lines: Vec<StyledLine> = vec![Vec::new()];
        for event in events {
            match event.ok()? {
                HighlightEvent::Source { start, end } => {
                    let style = styles.last().copied().unwrap_or(base);
                    let text = code.get(start..end)?;
                    for (index, piece) in text.split('\n').enumerate() {
                        if index > 0 {
                            lines.push(Vec::new());
                        }
                        if let Some(line) = lines.last_mut() {
                            line.extend(styled_piece(piece, style));
                        }
                    }
                }
                HighlightEvent::HighlightStart(highlight) => {
                    let name = CAPTURE_NAMES.get(highlight.0).copied().unwrap_or("");
                    styles.push(base.patch(theme.highlight_style(name)));
                }
                HighlightEvent::HighlightEnd => {
                    styles.pop();
                }
            }
        }
        Some(lines)
    })
}

fn styled_piece(text: &str, style: Style) -> StyledLine {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![Span::styled(text.to_owned(), style)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Lang; LANGUAGE_COUNT] = [
        Lang::Rust,
        Lang::Python,
        Lang::JavaScript,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::Go,
        Lang::C,
        Lang::Cpp,
        Lang::Java,
    ];

    #[test]
    fn every_language_query_compiles() {
        for (index, language) in ALL.into_iter().enumerate() {
            assert_eq!(language.index(), index);
            if let Err(error) = language.build() {
                panic!("{language:?}: {error}");
            }
        }
    }

    #[test]
    fn info_strings_name_languages() {
        assert_eq!(Lang::from_info("rust"), Some(Lang::Rust));
        assert_eq!(Lang::from_info("Python title=x"), Some(Lang::Python));
        assert_eq!(Lang::from_info("c++"), Some(Lang::Cpp));
        assert_eq!(Lang::from_info("rs,ignore"), Some(Lang::Rust));
        assert_eq!(Lang::from_info("toml"), None);
        assert_eq!(Lang::from_info(""), None);
    }

    #[test]
    fn keywords_strings_and_comments_get_their_styles() {
        let theme = Theme::colored();
        let code = "fn main() {\n    let s = \"hi\"; // note\n}\n";
        let lines = highlight_code(Some(Lang::Rust), code, theme.text, &theme);
        assert_eq!(lines.len(), 3);
        let style_of = |needle: &str| {
            lines
                .iter()
                .flatten()
                .find(|span| span.content.contains(needle))
                .map(|span| span.style)
        };
        assert_eq!(style_of("fn"), Some(theme.highlight_style("keyword")));
        assert_eq!(style_of("\"hi\""), Some(theme.highlight_style("string")));
        assert_eq!(style_of("// note"), Some(theme.highlight_style("comment")));
        let text: Vec<String> = lines
            .iter()
            .map(|line| line.iter().map(|span| span.content.as_ref()).collect())
            .collect();
        assert_eq!(text, ["fn main() {", "    let s = \"hi\"; // note", "}"]);
    }

    #[test]
    fn unknown_languages_are_plain() {
        let theme = Theme::colored();
        let lines = highlight_code(None, "a = 1\n\nb", theme.code, &theme);
        assert_eq!(lines.len(), 3);
        assert!(lines[1].is_empty());
        assert_eq!(lines[0][0].style, theme.code);
    }
}
