//! The approval prompt: a tool call waits for the user (the approval policy
//! asked for it), shown in the live area with what it would do and where,
//! and answered with a key. Also `/approvals`, which shows and switches the
//! policy.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use super::wrap::{wrap_text, wrap_with_prefix};
use crate::approval::{ApprovalPolicy, Approvals, Decision, SHELL_TOOL};

/// Summary rows shown in the live area; `v` shows all of it in the pager.
const SHOWN_ROWS: usize = 8;

/// A request waiting for the user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPrompt {
    pub id: String,
    pub tool: String,
    pub summary: String,
    pub cwd: String,
    pub prefix: Option<String>,
    /// The note being typed after `n`; `None` while choosing.
    pub note: Option<String>,
}

/// What a key did to the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptAction {
    /// Nothing to send (typing a note, an unbound key).
    None,
    Decide(Decision),
    /// Interrupt the run (which denies the call).
    Interrupt,
    /// Show the whole summary in the pager.
    ViewAll,
}

impl ApprovalPrompt {
    fn is_shell(&self) -> bool {
        self.tool == SHELL_TOOL
    }

    /// Handles one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> PromptAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(note) = self.note.as_mut() {
            match key.code {
                KeyCode::Char('c') if ctrl => return PromptAction::Interrupt,
                KeyCode::Enter => {
                    let note = note.trim().to_string();
                    return PromptAction::Decide(Decision::Deny { note });
                }
                KeyCode::Esc => self.note = None,
                KeyCode::Backspace => {
                    note.pop();
                }
                KeyCode::Char(c) if !ctrl => note.push(c),
                _ => {}
            }
            return PromptAction::None;
        }
        match key.code {
            KeyCode::Char('c') if ctrl => PromptAction::Interrupt,
            KeyCode::Esc => PromptAction::Interrupt,
            KeyCode::Char('y') | KeyCode::Enter => PromptAction::Decide(Decision::Once),
            KeyCode::Char('a') if self.is_shell() && self.prefix.is_some() => {
                PromptAction::Decide(Decision::AlwaysPrefix)
            }
            KeyCode::Char('n') => {
                self.note = Some(String::new());
                PromptAction::None
            }
            KeyCode::Char('v') => PromptAction::ViewAll,
            _ => PromptAction::None,
        }
    }

    /// The prompt's rows in the live area.
    pub fn lines(&self, width: u16, theme: &Theme) -> Vec<Line<'static>> {
        let bold = theme.text.add_modifier(Modifier::BOLD);
        let heading = if self.is_shell() {
            "run this command?"
        } else {
            "apply this change?"
        };
        let mut lines = vec![Line::from(vec![
            Span::styled("? ", theme.warning),
            Span::styled(self.tool.clone(), bold),
            Span::styled(format!(" — {heading}"), theme.warning),
        ])];
        let rows: Vec<&str> = self.summary.lines().collect();
        for row in rows.iter().take(SHOWN_ROWS) {
            let style = match row.chars().next() {
                Some('+') if !self.is_shell() => theme.success,
                Some('-') if !self.is_shell() => theme.error,
                _ => theme.text,
            };
            lines.extend(wrap_with_prefix(
                &Line::styled((*row).to_string(), style),
                width,
                Span::styled("│ ", theme.dim),
                Span::styled("│ ", theme.dim),
            ));
        }
        if rows.len() > SHOWN_ROWS {
            lines.push(Line::styled(
                format!("│ … {} more lines (v shows all)", rows.len() - SHOWN_ROWS),
                theme.dim,
            ));
        }
        if self.is_shell() {
            lines.extend(wrap_text(&format!("in {}", self.cwd), width, theme.dim));
        }
        match &self.note {
            Some(note) => {
                lines.push(Line::from(vec![
                    Span::styled("deny, note for the model: ", theme.warning),
                    Span::styled(format!("{note}▏"), theme.user),
                ]));
                lines.push(Line::styled(
                    "Enter denies with this note · Esc goes back",
                    theme.dim,
                ));
            }
            None => {
                let mut keys = vec![
                    Span::styled("y", bold),
                    Span::styled(" run once  ", theme.dim),
                ];
                if !self.is_shell() {
                    keys[1] = Span::styled(" apply  ", theme.dim);
                }
                if let (true, Some(prefix)) = (self.is_shell(), &self.prefix) {
                    keys.push(Span::styled("a", bold));
                    keys.push(Span::styled(
                        format!(" always allow `{prefix}` this session  "),
                        theme.dim,
                    ));
                }
                keys.push(Span::styled("n", bold));
                keys.push(Span::styled(" deny with a note  ", theme.dim));
                keys.push(Span::styled("Esc", bold));
                keys.push(Span::styled(" interrupt", theme.dim));
                lines.extend(wrap_with_prefix(
                    &Line::from(keys),
                    width,
                    Span::raw(""),
                    Span::raw(""),
                ));
            }
        }
        lines
    }

    /// The whole summary, for the pager.
    pub fn full_lines(&self, theme: &Theme) -> Vec<Line<'static>> {
        self.summary
            .lines()
            .map(|row| Line::styled(row.to_string(), theme.text))
            .collect()
    }
}

/// `/approvals [POLICY]`: switches to POLICY when given; returns the text
/// to show (the policy in force, what each means, the allowed prefixes) or
/// an error.
pub fn approvals_command(approvals: &Approvals, arg: Option<&str>) -> Result<String, String> {
    if let Some(name) = arg {
        let policy = ApprovalPolicy::from_name(name).ok_or_else(|| {
            format!("/approvals {name}: not a policy; use suggest, auto-edit or full-auto")
        })?;
        approvals.set_policy(policy);
    }
    let current = approvals.policy();
    let mut text = format!("approval policy: {current}\n");
    for policy in ApprovalPolicy::ALL {
        let mark = if policy == current { "●" } else { "○" };
        text.push_str(&format!(
            "  {mark} {:<10} {}\n",
            policy.name(),
            policy.describe()
        ));
    }
    let prefixes = approvals.allowed_prefixes();
    if prefixes.is_empty() {
        text.push_str("no command prefixes allowed this session\n");
    } else {
        text.push_str(&format!(
            "allowed this session: {}\n",
            prefixes
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text.push_str("/approvals POLICY switches");
    Ok(text)
}

impl super::app::App {
    /// A key while a tool call waits for approval: it goes to the prompt,
    /// not the composer.
    pub(super) fn on_approval_key(&mut self, key: KeyEvent) -> Vec<super::app::Effect> {
        use super::app::Effect;
        let Some(prompt) = self.approval.as_mut() else {
            return Vec::new();
        };
        match prompt.handle_key(key) {
            PromptAction::None => Vec::new(),
            PromptAction::ViewAll => {
                let lines = prompt.full_lines(&self.theme);
                let title = format!("{} (q closes)", prompt.tool);
                self.pager = Some(super::pager::Pager::from_lines(title, lines));
                Vec::new()
            }
            PromptAction::Interrupt => {
                self.approval = None;
                self.hint = Some("interrupting…".into());
                vec![Effect::Cancel]
            }
            PromptAction::Decide(decision) => {
                let id = prompt.id.clone();
                self.approval = None;
                vec![Effect::Approve { id, decision }]
            }
        }
    }

    /// `/approvals [POLICY]`.
    pub(super) fn run_approvals_command(&mut self, arg: Option<&str>) {
        use super::transcript::Entry;
        match approvals_command(&self.approvals, arg) {
            Ok(text) => self.push_entry(Entry::Notice(text)),
            Err(message) => self.push_entry(Entry::Error(message)),
        }
    }
}
