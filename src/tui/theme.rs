//! Styles shared by every part of the TUI.
//!
//! One value decides every colour the app draws, so honouring `NO_COLOR` is a
//! single choice made at start-up: [`Theme::from_env`] picks [`Theme::plain`]
//! (modifiers only) or [`Theme::colored`]. Colours are the terminal's own named
//! ANSI colours, so the user's palette (light or dark) still applies.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

/// Every style the TUI draws with.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// Whether this theme uses colours at all (false under `NO_COLOR`).
    pub color: bool,
    /// Ordinary text.
    pub text: Style,
    /// Secondary text: urls, hints, borders, fences.
    pub dim: Style,
    /// What should catch the eye: list bullets, the prompt marker, spinners.
    pub accent: Style,
    /// The user's own messages.
    pub user: Style,
    pub error: Style,
    pub warning: Style,
    pub success: Style,
    /// Markdown headings.
    pub heading: Style,
    /// Inline code and code blocks without a known language.
    pub code: Style,
    /// Link text.
    pub link: Style,
    /// Block-quote text and its bar.
    pub quote: Style,
    /// Selected rows in popups and lists.
    pub selection: Style,
    /// Table and rule lines.
    pub border: Style,
}

impl Theme {
    /// The theme the environment asks for: plain when `NO_COLOR` is set to a
    /// non-empty value (<https://no-color.org>), coloured otherwise.
    pub fn from_env() -> Theme {
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a given value of `NO_COLOR` (`None` when unset); split
    /// from [`Theme::from_env`] so the rule is testable without touching the
    /// process environment.
    pub fn for_no_color(no_color: Option<&OsStr>) -> Theme {
        match no_color {
            Some(value) if !value.is_empty() => Theme::plain(),
            _ => Theme::colored(),
        }
    }

    /// Named ANSI colours plus modifiers.
    pub fn colored() -> Theme {
        let plain = Theme::plain();
        Theme {
            color: true,
            text: Style::new(),
            dim: plain.dim.fg(Color::DarkGray),
            accent: plain.accent.fg(Color::Cyan),
            user: plain.user.fg(Color::Cyan),
            error: plain.error.fg(Color::Red),
            warning: plain.warning.fg(Color::Yellow),
            success: plain.success.fg(Color::Green),
            heading: plain.heading.fg(Color::Magenta),
            code: plain.code.fg(Color::Yellow),
            link: plain.link.fg(Color::Blue),
            quote: plain.quote.fg(Color::Gray),
            selection: Style::new().fg(Color::Black).bg(Color::Cyan),
            border: Style::new().fg(Color::DarkGray),
        }
    }

    /// No colours at all: only bold, dim, italic, reversed and underlined.
    pub fn plain() -> Theme {
        Theme {
            color: false,
            text: Style::new(),
            dim: Style::new().add_modifier(Modifier::DIM),
            accent: Style::new().add_modifier(Modifier::BOLD),
            user: Style::new().add_modifier(Modifier::BOLD),
            error: Style::new().add_modifier(Modifier::BOLD),
            warning: Style::new().add_modifier(Modifier::BOLD),
            success: Style::new(),
            heading: Style::new().add_modifier(Modifier::BOLD),
            code: Style::new(),
            link: Style::new().add_modifier(Modifier::UNDERLINED),
            quote: Style::new().add_modifier(Modifier::ITALIC),
            selection: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new().add_modifier(Modifier::DIM),
        }
    }

    /// The style of a tree-sitter highlight capture such as `keyword`,
    /// `string.special` or `function.method`: the most specific known prefix
    /// wins, unknown captures are drawn as ordinary text.
    pub fn highlight_style(&self, capture_name: &str) -> Style {
        let mut name = capture_name;
        loop {
            if let Some(style) = self.capture_style(name) {
                return style;
            }
            match name.rfind('.') {
                Some(dot) => name = &name[..dot],
                None => return self.text,
            }
        }
    }

    /// The style of one exact capture name, if this theme knows it.
    fn capture_style(&self, name: &str) -> Option<Style> {
        let style = Style::new();
        if !self.color {
            return match name {
                "keyword" => Some(style.add_modifier(Modifier::BOLD)),
                "comment" => Some(style.add_modifier(Modifier::ITALIC)),
                _ => None,
            };
        }
        let color = match name {
            "keyword" | "conditional" | "repeat" | "include" | "exception" => Color::Magenta,
            "string" | "character" => Color::Green,
            "string.special" | "string.escape" | "escape" | "string.regex" => Color::Cyan,
            "comment" => return Some(style.fg(Color::DarkGray).add_modifier(Modifier::ITALIC)),
            "function" | "function.method" | "method" | "constructor" => Color::Blue,
            "function.macro" | "macro" => Color::Cyan,
            "function.builtin" => Color::Cyan,
            "type" | "type.builtin" | "namespace" | "module" => Color::Yellow,
            "number" | "float" | "boolean" | "constant" | "constant.builtin" => Color::LightRed,
            "attribute" | "label" | "tag" => Color::LightMagenta,
            "property" | "field" => Color::LightBlue,
            "variable.builtin" => Color::LightRed,
            // Operators, punctuation and plain variables stay ordinary text.
            _ => return None,
        };
        Some(style.fg(color))
    }
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::colored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_non_empty_means_plain() {
        assert!(!Theme::for_no_color(Some(OsStr::new("1"))).color);
        assert!(Theme::for_no_color(Some(OsStr::new(""))).color);
        assert!(Theme::for_no_color(None).color);
    }

    #[test]
    fn plain_theme_has_no_colours_anywhere() {
        let theme = Theme::plain();
        let styles = [
            theme.text,
            theme.dim,
            theme.accent,
            theme.user,
            theme.error,
            theme.warning,
            theme.success,
            theme.heading,
            theme.code,
            theme.link,
            theme.quote,
            theme.selection,
            theme.border,
            theme.highlight_style("keyword"),
            theme.highlight_style("string"),
            theme.highlight_style("comment.documentation"),
        ];
        for style in styles {
            assert_eq!((style.fg, style.bg), (None, None), "{style:?}");
        }
    }

    #[test]
    fn captures_fall_back_to_their_most_specific_known_prefix() {
        let theme = Theme::colored();
        assert_eq!(
            theme.highlight_style("function.method.call"),
            theme.highlight_style("function.method")
        );
        assert_eq!(
            theme.highlight_style("string.special.symbol"),
            theme.highlight_style("string.special")
        );
        assert_ne!(
            theme.highlight_style("string.special"),
            theme.highlight_style("string")
        );
        assert_eq!(theme.highlight_style("no.such.capture"), theme.text);
    }
}
