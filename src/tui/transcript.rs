//! Finished transcript entries and how each is drawn.
//!
//! An entry is rendered once, when it finishes, into lines that go to the
//! terminal's scrollback; the pager renders the same entries again in full.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::markdown::render_markdown;
use super::theme::Theme;
use super::wrap::{wrap_text, wrap_with_prefix};
use crate::tools::one_line;

/// How many lines of a shell command's output a compact tool entry shows.
pub const SHELL_TAIL_LINES: usize = 5;

/// One finished thing in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// What the user sent.
    User(String),
    /// The model's visible text (markdown source).
    Assistant(String),
    /// The model's reasoning for one turn.
    Reasoning(String),
    Tool(ToolEntry),
    /// A failed run or a command that could not be done.
    Error(String),
    Warning(String),
    /// Output of a slash command, or a note such as "interrupted".
    Notice(String),
}

/// A finished tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolEntry {
    pub name: String,
    /// The argument that best identifies the call (a path, a command).
    pub target: Option<String>,
    pub ok: bool,
    /// One line for the compact view.
    pub summary: String,
    /// What the model saw.
    pub output: String,
}

/// How much of an entry to show: scrollback shows the compact form (reasoning
/// follows Ctrl-R), the transcript pager shows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub reasoning: bool,
    pub tool_output: bool,
}

impl Detail {
    pub const FULL: Detail = Detail {
        reasoning: true,
        tool_output: true,
    };

    pub fn compact(show_reasoning: bool) -> Detail {
        Detail {
            reasoning: show_reasoning,
            tool_output: false,
        }
    }
}

impl Entry {
    /// The entry as screen rows `width` columns wide.
    pub fn render(&self, width: u16, theme: &Theme, detail: Detail) -> Vec<Line<'static>> {
        match self {
            Entry::User(text) => render_user(text, width, theme),
            Entry::Assistant(text) => render_markdown(text, width, theme),
            Entry::Reasoning(text) if detail.reasoning => render_reasoning_full(text, width, theme),
            Entry::Reasoning(text) => vec![reasoning_summary(text, width, theme)],
            Entry::Tool(tool) => render_tool(tool, width, theme, detail.tool_output),
            Entry::Error(text) => prefixed(text, width, "✗ ", theme.error),
            Entry::Warning(text) => prefixed(text, width, "! ", theme.warning),
            Entry::Notice(text) => text
                .lines()
                .flat_map(|line| {
                    wrap_with_prefix(
                        &Line::styled(line.to_string(), theme.dim),
                        width,
                        Span::raw(""),
                        Span::raw("  "),
                    )
                })
                .collect(),
        }
    }
}

fn render_user(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let first = if index == 0 { "› " } else { "  " };
        rows.extend(wrap_with_prefix(
            &Line::styled(line.to_string(), theme.user),
            width,
            Span::styled(first, theme.accent),
            Span::raw("  "),
        ));
    }
    if rows.is_empty() {
        rows.push(Line::styled("›", theme.accent));
    }
    rows
}

/// One row: the first words of the reasoning and its length.
pub fn reasoning_summary(text: &str, width: u16, theme: &Theme) -> Line<'static> {
    reasoning_summary_with("▸ thought: ", text, width, theme)
}

/// [`reasoning_summary`] headed by `head` ("▸ thinking: " while it streams),
/// the row sized for that head.
pub fn reasoning_summary_with(
    head: &'static str,
    text: &str,
    width: u16,
    theme: &Theme,
) -> Line<'static> {
    let words = text.split_whitespace().count();
    let tail = format!(" ({words} words, Ctrl-R shows)");
    // One column more for the ellipsis a cut line ends with.
    let room = usize::from(width).saturating_sub(head.width() + tail.width() + 1);
    let first = first_line_within(text.trim(), room.max(1));
    let style = theme.dim.add_modifier(Modifier::ITALIC);
    Line::from(vec![
        Span::styled(head, style),
        Span::styled(first, style),
        Span::styled(tail, theme.dim),
    ])
}

fn render_reasoning_full(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let style = theme.dim.add_modifier(Modifier::ITALIC);
    let mut rows = vec![Line::styled("▾ thought", theme.dim)];
    for line in text.lines() {
        rows.extend(wrap_with_prefix(
            &Line::styled(line.to_string(), style),
            width,
            Span::styled("│ ", theme.dim),
            Span::styled("│ ", theme.dim),
        ));
    }
    rows
}

fn render_tool(tool: &ToolEntry, width: u16, theme: &Theme, full: bool) -> Vec<Line<'static>> {
    let (mark, mark_style) = if tool.ok {
        ("✓", theme.success)
    } else {
        ("✗", theme.error)
    };
    let bold = theme.text.add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::styled("● ", theme.accent)];
    let mut summary = tool.summary.as_str();
    match crate::mcp::McpManager::origin_of(&tool.name) {
        // An MCP call shows its server, not the `mcp__NAME__TOOL` the model
        // used; the summary's own `SERVER: TOOL → ` would say it twice.
        Some(origin) => {
            let said = format!("{}: {} → ", origin.server, origin.tool);
            summary = summary.strip_prefix(said.as_str()).unwrap_or(summary);
            spans.push(Span::styled(format!("{} · ", origin.server), theme.accent));
            spans.push(Span::styled(origin.tool, bold));
            spans.push(Span::styled(" (MCP)", theme.dim));
        }
        None => spans.push(Span::styled(tool.name.clone(), bold)),
    }
    if let Some(target) = &tool.target {
        spans.push(Span::styled(format!(" {target}"), theme.text));
    }
    spans.push(Span::styled(format!(" {mark} "), mark_style));
    let summary_style = if tool.ok { theme.dim } else { theme.error };
    spans.push(Span::styled(one_line(summary, 200), summary_style));
    let mut rows = wrap_with_prefix(&Line::from(spans), width, Span::raw(""), Span::raw("  "));

    let output: Vec<&str> = tool.output.lines().collect();
    let shown: &[&str] = if full {
        &output
    } else if tool.name == "shell" {
        &output[output.len().saturating_sub(SHELL_TAIL_LINES)..]
    } else {
        &[]
    };
    if !full && shown.len() < output.len() && !shown.is_empty() {
        let hidden = output.len() - shown.len();
        rows.push(Line::styled(
            format!("  │ … {hidden} earlier lines (Ctrl-T shows all)"),
            theme.dim,
        ));
    }
    for line in shown {
        rows.extend(wrap_with_prefix(
            &Line::styled(line.to_string(), theme.dim),
            width,
            Span::styled("  │ ", theme.dim),
            Span::styled("  │ ", theme.dim),
        ));
    }
    rows
}

fn prefixed(text: &str, width: u16, mark: &'static str, style: Style) -> Vec<Line<'static>> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let first = if index == 0 { mark } else { "  " };
        rows.extend(wrap_with_prefix(
            &Line::styled(line.to_string(), style),
            width,
            Span::styled(first, style),
            Span::raw("  "),
        ));
    }
    if rows.is_empty() {
        rows = wrap_text(mark, width, style);
    }
    rows
}

/// The argument that best identifies a call, for its one-line entry.
pub fn key_argument(arguments: &Map<String, Value>) -> Option<String> {
    ["path", "command", "pattern", "name", "query"]
        .iter()
        .find_map(|key| arguments.get(*key).and_then(Value::as_str))
        .or_else(|| arguments.values().find_map(Value::as_str))
        .map(|value| one_line(value, 80))
}

/// The first line of `text`, cut to at most `columns` display columns (plus
/// an ellipsis when cut), so wide characters cannot push a row past its
/// width.
fn first_line_within(text: &str, columns: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.width() <= columns {
        return line.to_string();
    }
    let mut used = 0;
    let mut cut = String::new();
    for ch in line.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > columns {
            break;
        }
        used += w;
        cut.push(ch);
    }
    cut.push('…');
    cut
}
