//! The plan panel: the model's latest plan (its `update_plan` calls) as a
//! checklist just above the composer, so the user sees where a long task
//! stands without scrolling back. One row per step (cut to the width), so
//! the panel never takes more than [`MAX_STEPS_SHOWN`] + 2 rows. Each
//! update replaces the panel; `/new` clears it.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::tools::one_line;
use crate::tools::update_plan::{PlanItem, StepStatus};

/// Steps shown at most: the live area is a third of the terminal (10 rows
/// on a 24-row one), and the streaming turn needs room too. Longer plans
/// show a window from the step before the one in progress, the heading
/// counting what is done and a last row what is left.
pub const MAX_STEPS_SHOWN: usize = 4;

/// The plan the panel shows, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanPanel {
    explanation: Option<String>,
    steps: Vec<PlanItem>,
}

impl PlanPanel {
    /// Shows `steps` instead of the previous plan.
    pub fn update(&mut self, explanation: Option<String>, steps: Vec<PlanItem>) {
        self.explanation = explanation.filter(|e| !e.trim().is_empty());
        self.steps = steps;
    }

    /// Hides the panel (a new conversation has no plan).
    pub fn clear(&mut self) {
        *self = PlanPanel::default();
    }

    /// The panel's rows at `width`: nothing without a plan, one line once
    /// every step is completed, else a heading and the steps.
    pub fn lines(&self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        if self.steps.is_empty() {
            return Vec::new();
        }
        let total = self.steps.len();
        let done = self
            .steps
            .iter()
            .filter(|item| item.status == StepStatus::Completed)
            .count();
        let steps = if total == 1 { "step" } else { "steps" };
        if done == total {
            return vec![Line::from(vec![
                Span::styled("☑ ", theme.success),
                Span::styled(format!("plan: all {total} {steps} completed"), theme.dim),
            ])];
        }
        let mut heading = vec![
            Span::styled("plan", theme.accent.add_modifier(Modifier::BOLD)),
            Span::styled(format!(" · {done} of {total} {steps} completed"), theme.dim),
        ];
        if let Some(explanation) = &self.explanation {
            // ` · ` before it, and `…` after it when it is cut.
            let room = usize::from(width)
                .saturating_sub(heading.iter().map(Span::width).sum::<usize>() + 4);
            if room > 8 {
                heading.push(Span::styled(
                    format!(" · {}", one_line(explanation, room)),
                    theme.dim,
                ));
            }
        }
        let mut lines = vec![Line::from(heading)];
        let (start, end) = window(&self.steps);
        // `  ☐ ` before each step, and `…` after one that is cut.
        let room = usize::from(width).saturating_sub(5).max(1);
        for item in &self.steps[start..end] {
            let (mark, mark_style, text_style) = look(item.status, theme);
            lines.push(Line::from(vec![
                Span::styled(format!("  {mark} "), mark_style),
                Span::styled(one_line(&item.step, room), text_style),
            ]));
        }
        if end < total {
            let n = total - end;
            let steps = if n == 1 { "step" } else { "steps" };
            lines.push(Line::styled(format!("  … {n} more {steps}"), theme.dim));
        }
        lines
    }
}

/// The steps shown, `start..end`: all of them when they fit, else
/// [`MAX_STEPS_SHOWN`] from the step before the one in progress (or the
/// first pending one), so what was just done and what comes next stay in
/// view.
fn window(steps: &[PlanItem]) -> (usize, usize) {
    let total = steps.len();
    if total <= MAX_STEPS_SHOWN {
        return (0, total);
    }
    let focus = steps
        .iter()
        .position(|item| item.status == StepStatus::InProgress)
        .or_else(|| {
            steps
                .iter()
                .position(|item| item.status == StepStatus::Pending)
        })
        .unwrap_or(0);
    let start = focus.saturating_sub(1).min(total - MAX_STEPS_SHOWN);
    (start, start + MAX_STEPS_SHOWN)
}

/// A step's mark, the mark's style and the text's style.
fn look(status: StepStatus, theme: &Theme) -> (&'static str, Style, Style) {
    match status {
        StepStatus::Completed => (
            "☑",
            theme.success,
            theme.dim.add_modifier(Modifier::CROSSED_OUT),
        ),
        StepStatus::InProgress => ("◐", theme.accent, theme.text.add_modifier(Modifier::BOLD)),
        StepStatus::Pending => ("☐", theme.dim, theme.text),
    }
}
