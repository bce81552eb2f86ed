//! The composer: the multi-line input at the bottom of the app.
//!
//! It owns the text being written and everything about editing it (keys,
//! history, bracketed paste, `@path` and slash-command completion) and tells
//! the app what the user asked for through [`ComposerAction`]. It draws into a
//! ratatui [`Buffer`] from its own state, so the app and tests render it
//! without a terminal.

mod buffer;
mod completion;
mod history;
mod layout;
mod paste;
mod popup;
mod render;

use std::cell::Cell;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use buffer::{Fragment, TextBuffer};
use completion::FileIndex;
use history::History;
use popup::{Popup, PopupItem, PopupKind};

pub use paste::{COLLAPSE_CHARS, COLLAPSE_LINES};

/// Most files the `@path` popup lists for a query.
const MAX_FILE_MATCHES: usize = 50;

/// What a key asked the app to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComposerAction {
    /// Nothing for the app (the composer handled the key, or ignored it).
    None,
    /// Enter: the message, with collapsed pastes expanded to their text.
    /// The composer has already cleared itself and recorded the history.
    Submit(String),
    /// Esc with no popup to close: interrupt the running turn.
    Interrupt,
    /// Ctrl-D on an empty composer.
    Quit,
    /// Ctrl-C: the app decides (first press clears or cancels, second quits).
    CtrlC,
}

/// The multi-line text editor at the bottom of the app.
#[derive(Debug)]
pub struct Composer {
    buffer: TextBuffer,
    history: History,
    files: FileIndex,
    /// Slash commands: name (without `/`) and one-line help.
    commands: Vec<(String, String)>,
    popup: Option<Popup>,
    /// Start of the token whose popup was closed with Esc; it stays closed
    /// until the user leaves that token.
    dismissed_token: Option<usize>,
    /// The last text cut by Ctrl-W/U/K/Alt-D, for Ctrl-Y.
    kill: Fragment,
    enabled: bool,
    placeholder: String,
    /// The column Up/Down aim for, kept across a run of vertical moves.
    preferred_column: Option<usize>,
    /// The width last laid out for, so Up/Down follow wrapped rows.
    last_width: Cell<u16>,
    /// First visible text row when the text is taller than the composer.
    scroll: Cell<usize>,
}

impl Composer {
    /// A composer completing `@path` against files under `workspace_root`
    /// (listed in the background the first time `@` is typed).
    pub fn new(workspace_root: PathBuf) -> Composer {
        Composer {
            buffer: TextBuffer::default(),
            history: History::default(),
            files: FileIndex::new(workspace_root),
            commands: Vec::new(),
            popup: None,
            dismissed_token: None,
            kill: Fragment::default(),
            enabled: true,
            placeholder: String::new(),
            preferred_column: None,
            last_width: Cell::new(80),
            scroll: Cell::new(0),
        }
    }

    /// The slash commands the popup offers: `(name, one-line help)`; a
    /// leading `/` on the name is optional.
    pub fn set_commands(&mut self, commands: Vec<(String, String)>) {
        self.commands = commands
            .into_iter()
            .map(|(name, help)| (name.trim_start_matches('/').to_owned(), help))
            .collect();
        self.refresh_popup();
    }

    /// A disabled composer shows its text dim, hides the cursor and ignores
    /// editing keys (Ctrl-C, Ctrl-D and Esc still reach the app).
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.popup = None;
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The dim hint shown while the composer is empty.
    pub fn set_placeholder(&mut self, placeholder: impl Into<String>) {
        self.placeholder = placeholder.into();
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Whether a completion popup is open (Esc closes it rather than
    /// interrupting).
    pub fn is_popup_open(&self) -> bool {
        self.popup.is_some()
    }

    /// The text as it would be submitted (collapsed pastes expanded).
    pub fn text(&self) -> String {
        self.buffer.expanded()
    }

    /// The text as shown, with collapsed pastes as their labels.
    pub fn display_text(&self) -> &str {
        self.buffer.text()
    }

    /// The cursor as a byte offset into [`Composer::display_text`].
    pub fn cursor(&self) -> usize {
        self.buffer.cursor()
    }

    /// Replaces the text (e.g. to put back a message that was not sent),
    /// cursor at the end.
    pub fn set_text(&mut self, text: &str) {
        self.buffer.set_fragment(Fragment::plain(text));
        self.after_edit();
    }

    /// Empties the composer and stops browsing the history.
    pub fn clear(&mut self) {
        self.buffer = TextBuffer::default();
        self.history.reset();
        self.popup = None;
        self.dismissed_token = None;
        self.preferred_column = None;
        self.scroll.set(0);
    }

    /// Seeds the history with messages sent in past sessions (oldest
    /// first); they come before anything sent here.
    pub fn seed_history(&mut self, past: Vec<String>) {
        self.history
            .seed(past.iter().map(|text| Fragment::plain(text)).collect());
    }

    /// Adds a message to the history as if it had been submitted here.
    pub fn push_history(&mut self, text: &str) {
        self.history.push(Fragment::plain(text));
    }

    /// Picks up background work (the file index finishing); returns whether
    /// the composer needs a redraw. Cheap; the app may call it every tick.
    pub fn poll_background(&mut self) -> bool {
        let waiting = self
            .popup
            .as_ref()
            .is_some_and(|p| p.kind == PopupKind::Files && p.items.is_empty());
        if waiting && self.files.files().is_some() {
            self.refresh_popup();
            return true;
        }
        false
    }

    /// Whether the workspace's file list is ready for `@path` completion.
    pub fn file_index_ready(&self) -> bool {
        self.files.files().is_some()
    }

    /// Inserts pasted text at the cursor; a long paste collapses to an
    /// atomic `[Pasted N lines]` label that expands again on submit.
    pub fn handle_paste(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        let text = paste::clean(text);
        match paste::collapsed_label(&text) {
            Some(label) => self.buffer.insert_element(&label, text),
            None => self.buffer.insert_str(&text),
        }
        self.after_edit();
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> ComposerAction {
        if key.kind == KeyEventKind::Release {
            return ComposerAction::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('c') if ctrl && !alt => return ComposerAction::CtrlC,
            KeyCode::Char('d') if ctrl && !alt && self.buffer.is_empty() => {
                return ComposerAction::Quit;
            }
            KeyCode::Esc if self.popup.is_none() => return ComposerAction::Interrupt,
            _ => {}
        }
        if !self.enabled {
            return ComposerAction::None;
        }
        if self.popup.is_some() {
            if let Some(action) = self.handle_popup_key(key) {
                return action;
            }
        }
        let vertical = matches!(key.code, KeyCode::Up | KeyCode::Down)
            || (ctrl && matches!(key.code, KeyCode::Char('p' | 'n')));
        if !vertical {
            self.preferred_column = None;
        }
        let action = self.handle_editing_key(key, ctrl, alt);
        self.refresh_popup();
        action
    }

    /// Keys the open popup takes; `None` passes the key on to editing.
    fn handle_popup_key(&mut self, key: KeyEvent) -> Option<ComposerAction> {
        let popup = self.popup.as_mut()?;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let plain_enter = key.code == KeyCode::Enter
            && !key
                .modifiers
                .intersects(KeyModifiers::SHIFT | KeyModifiers::ALT | KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Up | KeyCode::BackTab => popup.select_previous(),
            KeyCode::Char('p') if ctrl => popup.select_previous(),
            KeyCode::Down => popup.select_next(),
            KeyCode::Char('n') if ctrl => popup.select_next(),
            KeyCode::Esc => {
                self.dismissed_token = Some(popup.token.start);
                self.popup = None;
            }
            KeyCode::Tab => {
                self.accept_popup();
            }
            KeyCode::Enter if plain_enter && popup.selected().is_some() => {
                if popup.kind == PopupKind::Commands {
                    self.accept_popup();
                    return Some(self.submit());
                }
                self.accept_popup();
            }
            _ => return None,
        }
        Some(ComposerAction::None)
    }

    /// Replaces the popup's token with the selected choice.
    fn accept_popup(&mut self) {
        let Some(popup) = self.popup.take() else {
            return;
        };
        let Some(item) = popup.selected() else {
            return;
        };
        let replacement = match popup.kind {
            PopupKind::Files => format!("@{}", item.label),
            PopupKind::Commands => item.label.clone(),
        };
        self.buffer
            .replace(popup.token.clone(), &Fragment::plain(&replacement));
        let after = popup.token.start + replacement.len();
        if self.buffer.text()[after..].starts_with(' ') {
            self.buffer.set_cursor(after + 1);
        } else {
            self.buffer.set_cursor(after);
            self.buffer.insert_str(" ");
        }
        self.preferred_column = None;
        self.refresh_popup();
    }

    fn handle_editing_key(&mut self, key: KeyEvent, ctrl: bool, alt: bool) -> ComposerAction {
        let b = &mut self.buffer;
        match key.code {
            KeyCode::Enter if key.modifiers.is_empty() => return self.enter(),
            KeyCode::Enter => b.insert_str("\n"),
            KeyCode::Char('j') if ctrl => b.insert_str("\n"),
            KeyCode::Char(c) if (!ctrl && !alt) || (ctrl && alt) => {
                let mut utf8 = [0; 4];
                b.insert_str(c.encode_utf8(&mut utf8));
            }
            KeyCode::Left if ctrl || alt => b.move_word_left(),
            KeyCode::Right if ctrl || alt => b.move_word_right(),
            KeyCode::Left => b.move_left(),
            KeyCode::Right => b.move_right(),
            KeyCode::Char('b') if ctrl => b.move_left(),
            KeyCode::Char('f') if ctrl => b.move_right(),
            KeyCode::Char('b') if alt => b.move_word_left(),
            KeyCode::Char('f') if alt => b.move_word_right(),
            KeyCode::Home => b.move_line_start(),
            KeyCode::End => b.move_line_end(),
            KeyCode::Char('a') if ctrl => b.move_line_start(),
            KeyCode::Char('e') if ctrl => b.move_line_end(),
            KeyCode::Backspace if ctrl || alt => self.kill = b.cut_word_backward(),
            KeyCode::Char('w') if ctrl => self.kill = b.cut_word_backward(),
            KeyCode::Char('d') if alt => self.kill = b.cut_word_forward(),
            KeyCode::Char('u') if ctrl => self.kill = b.cut_to_line_start(),
            KeyCode::Char('k') if ctrl => self.kill = b.cut_to_line_end(),
            KeyCode::Char('y') if ctrl => b.insert_fragment(&self.kill),
            KeyCode::Backspace => b.delete_backward(),
            KeyCode::Char('h') if ctrl => b.delete_backward(),
            KeyCode::Delete => b.delete_forward(),
            KeyCode::Char('d') if ctrl => b.delete_forward(),
            KeyCode::Up => self.move_up(),
            KeyCode::Char('p') if ctrl => self.move_up(),
            KeyCode::Down => self.move_down(),
            KeyCode::Char('n') if ctrl => self.move_down(),
            _ => {}
        }
        ComposerAction::None
    }

    /// Plain Enter: a backslash before the cursor turns into a newline (for
    /// terminals that cannot send Shift+Enter); otherwise submit.
    fn enter(&mut self) -> ComposerAction {
        let cursor = self.buffer.cursor();
        if self.buffer.text()[..cursor].ends_with('\\') {
            self.buffer
                .replace(cursor - 1..cursor, &Fragment::plain("\n"));
            return ComposerAction::None;
        }
        self.submit()
    }

    /// Hands the text to the app, records it in the history and clears.
    fn submit(&mut self) -> ComposerAction {
        if self.buffer.text().trim().is_empty() {
            return ComposerAction::None;
        }
        let text = self.buffer.expanded().trim_end().to_owned();
        self.history.push(self.buffer.to_fragment());
        self.clear();
        ComposerAction::Submit(text)
    }

    /// The rows of the text at the width last laid out.
    fn rows(&self) -> Vec<layout::Row> {
        layout::wrap(&self.buffer, render::text_columns(self.last_width.get()))
    }

    /// Up: the row above; on the first row, the previous history entry.
    fn move_up(&mut self) {
        let rows = self.rows();
        let (row, column) = layout::position_of(&self.buffer, &rows, self.buffer.cursor());
        if row > 0 {
            let column = *self.preferred_column.get_or_insert(column);
            let target = layout::offset_at(&self.buffer, &rows, row - 1, column);
            self.buffer.set_cursor(target);
        } else if let Some(entry) = self.history.older(self.buffer.to_fragment()) {
            self.buffer.set_fragment(entry);
            self.buffer.set_cursor(0);
            self.preferred_column = None;
        }
    }

    /// Down: the row below; on the last row, the next history entry (or the
    /// draft after the newest).
    fn move_down(&mut self) {
        let rows = self.rows();
        let (row, column) = layout::position_of(&self.buffer, &rows, self.buffer.cursor());
        if row + 1 < rows.len() {
            let column = *self.preferred_column.get_or_insert(column);
            let target = layout::offset_at(&self.buffer, &rows, row + 1, column);
            self.buffer.set_cursor(target);
        } else if let Some(entry) = self.history.newer() {
            self.buffer.set_fragment(entry);
            self.preferred_column = None;
        }
    }

    fn after_edit(&mut self) {
        self.preferred_column = None;
        self.refresh_popup();
    }

    /// Opens, updates or closes the popup for the token at the cursor.
    fn refresh_popup(&mut self) {
        let popup = if !self.enabled {
            None
        } else if let Some(popup) = self.command_popup() {
            Some(popup)
        } else {
            self.file_popup()
        };
        match (&popup, self.dismissed_token) {
            (Some(p), Some(start)) if p.token.start == start => {
                self.popup = None;
                return;
            }
            _ => self.dismissed_token = None,
        }
        self.popup = popup.map(|mut popup| {
            if let Some(previous) = &self.popup {
                popup.keep_selection_from(previous);
            }
            popup
        });
    }

    /// The slash-command popup, while the cursor is in a leading `/word`.
    fn command_popup(&self) -> Option<Popup> {
        let text = self.buffer.text();
        if !text.starts_with('/') || self.commands.is_empty() {
            return None;
        }
        let token_end = text.find(char::is_whitespace).unwrap_or(text.len());
        if self.buffer.cursor() > token_end {
            return None;
        }
        let query = &text[1..token_end];
        let items: Vec<PopupItem> = if query.is_empty() {
            self.commands
                .iter()
                .map(|(name, help)| command_item(name, help, Vec::new()))
                .collect()
        } else {
            let names: Vec<String> = self.commands.iter().map(|(n, _)| n.clone()).collect();
            completion::rank(&names, query, self.commands.len())
                .into_iter()
                .filter_map(|m| {
                    let (name, help) = self.commands.iter().find(|(n, _)| *n == m.path)?;
                    // Shift match positions past the leading `/`.
                    let matched = m.positions.iter().map(|i| i + 1).collect();
                    Some(command_item(name, help, matched))
                })
                .collect()
        };
        Some(Popup::new(
            PopupKind::Commands,
            0..token_end,
            items,
            "no matching command",
        ))
    }

    /// The file popup, while the cursor is in an `@partial/path` token.
    fn file_popup(&mut self) -> Option<Popup> {
        let text = self.buffer.text();
        let cursor = self.buffer.cursor();
        let start = text[..cursor].rfind(char::is_whitespace).map_or(0, |i| {
            i + text[i..].chars().next().map_or(1, char::len_utf8)
        });
        if !text[start..].starts_with('@') {
            return None;
        }
        let end = text[cursor..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| cursor + i);
        let query = text[start + 1..cursor].to_owned();
        self.files.start();
        let (items, note) = match self.files.files() {
            None => (Vec::new(), "indexing workspace files…"),
            Some(files) => {
                let items = completion::rank(files, &query, MAX_FILE_MATCHES)
                    .into_iter()
                    .map(|m| PopupItem {
                        label: m.path,
                        detail: String::new(),
                        matched: m.positions,
                    })
                    .collect();
                (items, "no matching file")
            }
        };
        Some(Popup::new(PopupKind::Files, start..end, items, note))
    }
}

fn command_item(name: &str, help: &str, matched: Vec<usize>) -> PopupItem {
    PopupItem {
        label: format!("/{name}"),
        detail: help.to_owned(),
        matched,
    }
}
