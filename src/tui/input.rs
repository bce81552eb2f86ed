//! Keys, pastes and slash commands: what the user does to the app.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Effect};
use super::commands::{self, SlashCommand};
use super::composer::ComposerAction;
use super::diff::workspace_diff;
use super::pager::Pager;
use super::status::EngineState;
use super::transcript::{Detail, Entry};

impl App {
    /// A key press; returns what the loop must do about it.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        self.dirty = true;
        if let Some(pager) = self.pager.as_mut() {
            if pager.handle_key(key) {
                self.pager = None;
            }
            return Vec::new();
        }
        if self.review.is_some() {
            return self.on_review_key(key);
        }
        if self.approval.is_some() {
            return self.on_approval_key(key);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('r') if ctrl => {
                self.show_reasoning = !self.show_reasoning;
                self.hint = Some(if self.show_reasoning {
                    "reasoning shown in full (Ctrl-R hides it; Ctrl-T shows the whole transcript)"
                        .into()
                } else {
                    "reasoning collapsed to one line (Ctrl-R shows it)".into()
                });
                return Vec::new();
            }
            KeyCode::Char('t') if ctrl => {
                self.open_transcript_pager();
                return Vec::new();
            }
            _ => {}
        }
        let action = self.composer.handle_key(key);
        let armed = std::mem::take(&mut self.quit_armed);
        match action {
            ComposerAction::Submit(text) => {
                self.hint = None;
                self.submit(text)
            }
            ComposerAction::Interrupt => {
                if self.running {
                    self.hint = Some("interrupting…".into());
                    vec![Effect::Cancel]
                } else {
                    Vec::new()
                }
            }
            ComposerAction::Quit => self.quit_now(),
            ComposerAction::CtrlC => {
                if armed {
                    return self.quit_now();
                }
                self.quit_armed = true;
                self.hint = Some("Ctrl-C again to quit".into());
                if self.running {
                    vec![Effect::Cancel]
                } else {
                    self.composer.clear();
                    Vec::new()
                }
            }
            _ => {
                if !armed && self.hint.as_deref() == Some("Ctrl-C again to quit") {
                    self.hint = None;
                }
                Vec::new()
            }
        }
    }

    /// Bracketed paste: into the composer (or ignored under the pager).
    pub fn on_paste(&mut self, text: &str) {
        if let Some(review) = self.review.as_mut() {
            review.paste(text);
            self.dirty = true;
            return;
        }
        if self.pager.is_none() {
            self.composer.handle_paste(text);
            self.dirty = true;
        }
    }

    fn quit_now(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    /// A submitted composer text: a slash command or a message.
    pub fn submit(&mut self, text: String) -> Vec<Effect> {
        if text.trim().is_empty() {
            return Vec::new();
        }
        match commands::parse(&text) {
            Some(Ok(command)) => self.run_command(command),
            Some(Err(message)) => {
                self.push_entry(Entry::Error(message));
                Vec::new()
            }
            None => self.send_or_queue(text),
        }
    }

    fn run_command(&mut self, command: SlashCommand) -> Vec<Effect> {
        let busy = "a turn is running; press Esc to interrupt it first";
        match command {
            SlashCommand::Help => {
                self.push_entry(Entry::Notice(commands::help_text()));
                Vec::new()
            }
            SlashCommand::New if self.running => {
                self.push_entry(Entry::Error(busy.into()));
                Vec::new()
            }
            SlashCommand::New => {
                self.reset_conversation();
                self.push_entry(Entry::Notice("new conversation".into()));
                vec![Effect::NewSession]
            }
            SlashCommand::Model(None) => {
                let window = self
                    .status
                    .context_window
                    .map_or("unknown".to_string(), |window| format!("{window} tokens"));
                let state = match &self.status.engine {
                    EngineState::Loading { message, .. } => format!("loading ({message})"),
                    EngineState::Ready => "ready".into(),
                    EngineState::Generating { .. } => "generating".into(),
                    EngineState::Failed => "failed to load".into(),
                };
                self.push_entry(Entry::Notice(format!(
                    "model: {}\nengine: {state}\ncontext window: {window}\n/model SPEC switches (a Hugging Face id, a path, openai:NAME, script:FILE)",
                    self.status.model
                )));
                Vec::new()
            }
            SlashCommand::Model(Some(_)) if self.running => {
                self.push_entry(Entry::Error(busy.into()));
                Vec::new()
            }
            SlashCommand::Model(Some(spec)) => {
                self.push_entry(Entry::Notice(format!(
                    "switching to {spec}; the conversation carries over"
                )));
                self.status.model = spec.clone();
                self.status.context_window = None;
                self.status.engine = EngineState::Loading {
                    message: "opening the model".into(),
                    percent: None,
                };
                vec![Effect::SwitchModel(spec)]
            }
            SlashCommand::Diff => {
                match workspace_diff(&self.workspace_root, &self.theme) {
                    Ok(lines) => self.pager = Some(Pager::from_lines("git diff", lines)),
                    Err(error) => self.push_entry(Entry::Error(format!("/diff: {error}"))),
                }
                Vec::new()
            }
            SlashCommand::Approvals(arg) => {
                self.run_approvals_command(arg.as_deref());
                Vec::new()
            }
            SlashCommand::Mcp => {
                self.push_entry(Entry::Notice(crate::mcp::status_report()));
                Vec::new()
            }
            command @ (SlashCommand::Undo { .. } | SlashCommand::Checkpoints) => {
                self.run_checkpoint_command(command);
                Vec::new()
            }
            SlashCommand::Sessions => vec![Effect::ListSessions],
            SlashCommand::Resume(id) => self.request_resume(id),
            command @ (SlashCommand::Compact | SlashCommand::Pin(_) | SlashCommand::Compacted) => {
                self.run_compaction_command(command)
            }
            SlashCommand::Quit => self.quit_now(),
        }
    }

    /// Ctrl-T: every entry in full, in the alternate screen.
    fn open_transcript_pager(&mut self) {
        let entries = self.entries.clone();
        let theme = self.theme.clone();
        self.pager = Some(Pager::new("transcript", move |width| {
            let mut rows = Vec::new();
            for (index, entry) in entries.iter().enumerate() {
                if index > 0 {
                    rows.push(ratatui::text::Line::default());
                }
                rows.extend(entry.render(width, &theme, Detail::FULL));
            }
            rows
        }));
    }
}
