//! The status line: model, engine state, context use, the turn's tokens, the
//! approval mode and the git branch.

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use crate::tools::SandboxPolicy;

/// What the engine is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    /// Opening or loading the model; `percent` when the loader knows it.
    Loading {
        message: String,
        percent: Option<u8>,
    },
    Ready,
    /// A turn is streaming at this many tokens per second (deltas stand in
    /// for tokens until the engine reports its count).
    Generating {
        tokens_per_s: Option<f64>,
    },
    /// Loading failed; `/model SPEC` can try another.
    Failed,
}

/// Everything the status line shows.
#[derive(Debug, Clone)]
pub struct StatusLine {
    pub model: String,
    pub engine: EngineState,
    /// Tokens the conversation held in the last turn (prompt + answer).
    pub context_used: Option<u64>,
    pub context_window: Option<u64>,
    /// Tokens the current (or last) turn generated.
    pub turn_tokens: Option<u64>,
    /// The tool call running now: while it runs, the engine waits for it,
    /// and the status says so instead of "ready" or "generating".
    pub running_tool: Option<String>,
    pub sandbox: SandboxPolicy,
    pub git_branch: Option<String>,
}

impl StatusLine {
    pub fn new(model: String, sandbox: SandboxPolicy) -> StatusLine {
        StatusLine {
            model,
            engine: EngineState::Loading {
                message: "opening the model".into(),
                percent: None,
            },
            context_used: None,
            context_window: None,
            turn_tokens: None,
            running_tool: None,
            sandbox,
            git_branch: None,
        }
    }

    /// The segments in order of importance: on a narrow terminal the last
    /// ones are dropped first.
    fn segments(&self, theme: &Theme) -> Vec<Span<'static>> {
        let tool = self.running_tool.as_deref();
        let engine = match &self.engine {
            EngineState::Ready | EngineState::Generating { .. } if tool.is_some() => Span::styled(
                format!("running {}", tool.unwrap_or_default()),
                theme.accent,
            ),
            EngineState::Loading {
                percent: Some(p), ..
            } => Span::styled(format!("loading {p}%"), theme.warning),
            EngineState::Loading { .. } => Span::styled("loading", theme.warning),
            EngineState::Ready => Span::styled("ready", theme.success),
            EngineState::Generating {
                tokens_per_s: Some(rate),
            } => Span::styled(format!("generating {rate:.0} tok/s"), theme.accent),
            EngineState::Generating { tokens_per_s: None } => {
                Span::styled("generating", theme.accent)
            }
            EngineState::Failed => Span::styled("no model", theme.error),
        };
        let mut segments = vec![Span::styled(self.model.clone(), theme.text), engine];
        let context = match (self.context_used, self.context_window) {
            (Some(used), Some(window)) if window > 0 => Some(format!(
                "ctx {}/{} ({}%)",
                tokens(used),
                tokens(window),
                used * 100 / window
            )),
            (Some(used), _) => Some(format!("ctx {}", tokens(used))),
            (None, Some(window)) => Some(format!("ctx -/{}", tokens(window))),
            (None, None) => None,
        };
        if let Some(context) = context {
            segments.push(Span::styled(context, theme.dim));
        }
        if let Some(turn) = self.turn_tokens {
            segments.push(Span::styled(
                format!("turn {} tok", tokens(turn)),
                theme.dim,
            ));
        }
        let sandbox = match self.sandbox {
            SandboxPolicy::WorkspaceWrite => "sandbox: workspace-write",
            SandboxPolicy::Off => "sandbox: off",
        };
        segments.push(Span::styled(sandbox, theme.dim));
        if let Some(branch) = &self.git_branch {
            segments.push(Span::styled(format!("⎇ {branch}"), theme.dim));
        }
        segments
    }

    /// The line for `width` columns: as many segments as fit, ` · ` apart.
    pub fn line(&self, width: u16, theme: &Theme) -> Line<'static> {
        let width = usize::from(width);
        let mut spans: Vec<Span<'static>> = Vec::new();
        let mut used = 0;
        for segment in self.segments(theme) {
            let separator = if spans.is_empty() { 0 } else { 3 };
            let needed = separator + segment.content.width();
            if used + needed > width {
                if spans.is_empty() {
                    // Even the model name does not fit: cut it.
                    let cut: String = segment.content.chars().take(width).collect();
                    spans.push(Span::styled(cut, segment.style));
                }
                break;
            }
            if separator > 0 {
                spans.push(Span::styled(" · ", theme.dim));
            }
            used += needed;
            spans.push(segment);
        }
        Line::from(spans)
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.line(area.width, theme).render(area, buf);
    }
}

/// 1234 → "1.2k", 200000 → "200k".
fn tokens(count: u64) -> String {
    match count {
        0..1_000 => count.to_string(),
        1_000..10_000 => format!("{:.1}k", count as f64 / 1000.0),
        10_000..1_000_000 => format!("{}k", count / 1000),
        _ => format!("{:.1}M", count as f64 / 1_000_000.0),
    }
}

/// The checked-out branch of the repository holding `root` (a short commit
/// id when HEAD is detached); `None` outside a repository.
pub fn git_branch(root: &Path) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let head = match repo.head() {
        Ok(head) => head,
        // A repository with no commit yet: HEAD names the unborn branch.
        Err(_) => {
            let head = repo.find_reference("HEAD").ok()?;
            let target = head.symbolic_target().ok()??;
            return Some(target.trim_start_matches("refs/heads/").to_string());
        }
    };
    if head.is_branch() {
        return head.shorthand().ok().map(str::to_string);
    }
    let id = head.target()?.to_string();
    Some(id.chars().take(7).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_read_short() {
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(1234), "1.2k");
        assert_eq!(tokens(202_752), "202k");
        assert_eq!(tokens(1_500_000), "1.5M");
    }

    #[test]
    fn narrow_lines_drop_the_last_segments() {
        let mut status =
            StatusLine::new("script:answer.json".into(), SandboxPolicy::WorkspaceWrite);
        status.engine = EngineState::Ready;
        status.git_branch = Some("main".into());
        let theme = Theme::plain();
        assert_eq!(
            status.line(200, &theme).to_string(),
            "script:answer.json · ready · sandbox: workspace-write · ⎇ main"
        );
        assert_eq!(
            status.line(30, &theme).to_string(),
            "script:answer.json · ready"
        );
        assert_eq!(status.line(10, &theme).to_string(), "script:ans");
    }
}
