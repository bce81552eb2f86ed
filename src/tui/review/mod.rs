//! The review view: an edit the agent proposes under the `suggest` policy,
//! shown full-screen as a unified diff, file by file and hunk by hunk, for
//! the user to accept or reject each hunk, edit the proposal in their
//! editor, attach a note, and send the answer (a
//! [`ReviewAnswer`](crate::review::ReviewAnswer)).
//!
//! Keys (also in the view's footer and the README):
//!
//! | key | does |
//! |---|---|
//! | `y` / `n` | accept / reject the hunk, then go to the next undecided one |
//! | `j` `k`, Down Up | next / previous hunk of the file |
//! | Tab, Shift-Tab | next / previous file |
//! | `A` / `R` | accept / reject every hunk of the file |
//! | `a` / `r` | accept / reject every hunk of every file |
//! | `e` | edit the file's proposed text in `$VISUAL` / `$EDITOR` (else `vi`) |
//! | `m` | write or change the note for the model |
//! | PgDn PgUp, Space `b` | scroll a page; Left Right (`h` `l`) scroll sideways |
//! | Enter | send the review; every hunk must be decided first |
//! | Esc, Ctrl-C | interrupt the run: nothing of the proposal is applied |
//!
//! Enter with undecided hunks sends nothing: it moves to the first of them
//! and says how many are left, so a hunk the user never saw is never
//! applied (nor silently dropped).

mod editor;
mod file;
mod hooks;
mod render;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use editor::EditRequest;
pub(crate) use editor::edit_in_terminal;
use file::{FileView, HunkState};

use crate::review::{ChangeProposal, ReviewAnswer};
use crate::tui::theme::Theme;

/// Columns one Left/Right press scrolls.
const SIDEWAYS: u16 = 8;

/// What a key did to the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    /// Nothing to send.
    None,
    /// Every hunk is decided: send this answer.
    Submit(ReviewAnswer),
    /// Interrupt the run (the call is not applied).
    Interrupt,
    /// Edit a file's proposed text in the user's editor.
    Edit(EditRequest),
}

/// A proposal under review and the user's decisions so far.
pub struct ReviewView {
    pub id: String,
    pub tool: String,
    files: Vec<FileView>,
    /// The file on screen.
    file: usize,
    /// The focused hunk (decision slot) of that file.
    slot: usize,
    /// The note for the model.
    note: String,
    /// The note being typed after `m`; `None` otherwise.
    typing: Option<String>,
    /// A one-line message in the footer (what Enter needs, an editor's
    /// failure), cleared by the next key.
    notice: Option<String>,
    /// Columns of code scrolled off to the left.
    x: u16,
    /// The focus moved: scroll the focused hunk into view at the next frame
    /// (which knows the screen's height).
    reveal: bool,
    /// Diff rows on screen at the last frame (a page for PgUp/PgDn).
    page: usize,
}

impl ReviewView {
    /// Lays out every file's diff once (highlighted by its language).
    pub fn new(id: String, tool: String, proposal: ChangeProposal, theme: &Theme) -> ReviewView {
        ReviewView {
            id,
            tool,
            files: proposal
                .files
                .into_iter()
                .map(|file| FileView::new(file, theme))
                .collect(),
            file: 0,
            slot: 0,
            note: String::new(),
            typing: None,
            notice: None,
            x: 0,
            reveal: true,
            page: 1,
        }
    }

    /// The answer as the decisions stand (undecided hunks count as
    /// rejected); Enter sends it only once none is undecided.
    pub fn answer(&self) -> ReviewAnswer {
        ReviewAnswer {
            files: self.files.iter().map(FileView::verdict).collect(),
            note: self.note.clone(),
        }
    }

    fn pending(&self) -> usize {
        self.files.iter().map(FileView::pending).sum()
    }

    /// Handles one key.
    pub fn handle_key(&mut self, key: KeyEvent) -> ReviewAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return ReviewAction::Interrupt;
        }
        if let Some(typed) = self.typing.as_mut() {
            match key.code {
                KeyCode::Enter => {
                    self.note = typed.trim().to_string();
                    self.typing = None;
                }
                KeyCode::Esc => self.typing = None,
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Char(c) if !ctrl => typed.push(c),
                _ => {}
            }
            return ReviewAction::None;
        }
        self.notice = None;
        let page = self.page.max(1);
        match key.code {
            KeyCode::Esc => return ReviewAction::Interrupt,
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('y') => self.decide(HunkState::Accepted),
            KeyCode::Char('n') => self.decide(HunkState::Rejected),
            KeyCode::Char('A') => self.decide_file(HunkState::Accepted),
            KeyCode::Char('R') => self.decide_file(HunkState::Rejected),
            KeyCode::Char('a') => self.decide_all(HunkState::Accepted),
            KeyCode::Char('r') => self.decide_all(HunkState::Rejected),
            KeyCode::Char('j') | KeyCode::Down => self.focus(self.file, self.slot + 1),
            KeyCode::Char('k') | KeyCode::Up => self.focus(self.file, self.slot.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => self.focus(self.file, 0),
            KeyCode::End | KeyCode::Char('G') => self.focus(self.file, usize::MAX),
            KeyCode::Tab => self.focus_file((self.file + 1) % self.files.len().max(1)),
            KeyCode::BackTab => {
                let count = self.files.len().max(1);
                self.focus_file((self.file + count - 1) % count);
            }
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll(page as isize),
            KeyCode::Char('f') if ctrl => self.scroll(page as isize),
            KeyCode::PageUp | KeyCode::Char('b') => self.scroll(-(page as isize)),
            KeyCode::Right | KeyCode::Char('l') => self.x = self.x.saturating_add(SIDEWAYS),
            KeyCode::Left | KeyCode::Char('h') => self.x = self.x.saturating_sub(SIDEWAYS),
            KeyCode::Char('m') => self.typing = Some(self.note.clone()),
            KeyCode::Char('e') => {
                if let Some(file) = self.files.get(self.file) {
                    return ReviewAction::Edit(EditRequest {
                        id: self.id.clone(),
                        file: self.file,
                        path: file.path.clone(),
                        text: file.after.clone(),
                    });
                }
            }
            _ => {}
        }
        ReviewAction::None
    }

    /// A bracketed paste: into the note being typed (one line: the note is
    /// a sentence for the model), else nowhere.
    pub fn paste(&mut self, text: &str) {
        if let Some(typed) = self.typing.as_mut() {
            typed.push_str(&text.replace(['\r', '\n'], " "));
        }
    }

    fn submit(&mut self) -> ReviewAction {
        let pending = self.pending();
        if pending == 0 {
            return ReviewAction::Submit(self.answer());
        }
        if let Some((file, slot)) = self.next_pending(0, 0, true) {
            self.focus(file, slot);
        }
        let hunks = if pending == 1 { "hunk" } else { "hunks" };
        self.notice = Some(format!(
            "{pending} {hunks} undecided: y/n each, A/R the whole file, a/r everything; then Enter"
        ));
        ReviewAction::None
    }

    /// Decides the focused hunk, then moves to the next undecided one.
    fn decide(&mut self, state: HunkState) {
        let Some(slot) = self
            .files
            .get_mut(self.file)
            .and_then(|file| file.states.get_mut(self.slot))
        else {
            return;
        };
        *slot = state;
        match self.next_pending(self.file, self.slot + 1, false) {
            Some((file, slot)) => self.focus(file, slot),
            None => self.notice = Some("every hunk is decided: Enter sends the review".into()),
        }
    }

    fn decide_file(&mut self, state: HunkState) {
        if let Some(file) = self.files.get_mut(self.file) {
            file.states.fill(state);
        }
    }

    fn decide_all(&mut self, state: HunkState) {
        for file in &mut self.files {
            file.states.fill(state);
        }
    }

    /// The first undecided hunk from `(file, slot)` on, wrapping around
    /// to the first file unless `from_start` already starts there.
    fn next_pending(&self, file: usize, slot: usize, from_start: bool) -> Option<(usize, usize)> {
        let count = self.files.len();
        let rounds = if from_start { count } else { count + 1 };
        (0..rounds).find_map(|step| {
            let index = (file + step) % count.max(1);
            let first = if step == 0 { slot } else { 0 };
            let states = &self.files.get(index)?.states;
            (first..states.len())
                .find(|&s| states[s] == HunkState::Pending)
                .map(|s| (index, s))
        })
    }

    /// Focuses hunk `slot` (clamped) of file `file`.
    fn focus(&mut self, file: usize, slot: usize) {
        let Some(view) = self.files.get(file) else {
            return;
        };
        self.file = file;
        self.slot = slot.min(view.states.len().saturating_sub(1));
        self.reveal = true;
    }

    /// Shows file `file` at its first undecided hunk (else its first).
    fn focus_file(&mut self, file: usize) {
        let slot = self
            .files
            .get(file)
            .and_then(|view| view.states.iter().position(|s| *s == HunkState::Pending))
            .unwrap_or(0);
        self.x = 0;
        self.focus(file, slot);
    }

    fn scroll(&mut self, rows: isize) {
        if let Some(file) = self.files.get_mut(self.file) {
            file.top = file.top.saturating_add_signed(rows);
        }
    }

    /// The editor closed on file `index`: its text (when changed) becomes
    /// the proposal under review, every hunk of it accepted, since the user
    /// wrote it; an unchanged text or a failed editor changes nothing and
    /// says so.
    pub fn editor_closed(
        &mut self,
        index: usize,
        result: Result<Option<String>, String>,
        theme: &Theme,
    ) {
        let Some(file) = self.files.get_mut(index) else {
            return;
        };
        self.notice = Some(match result {
            Ok(Some(text)) => {
                file.set_after(text, HunkState::Accepted, theme);
                if file.is_edited() {
                    format!(
                        "{}: your edit is under review, every hunk accepted (n rejects one)",
                        file.path
                    )
                } else {
                    format!("{}: back to the proposal as the model wrote it", file.path)
                }
            }
            Ok(None) => format!("{}: not changed in the editor", file.path),
            Err(message) => message,
        });
        self.focus(index, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{FileProposal, FileVerdict};

    const BEFORE: &str = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    const AFTER: &str = "a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk\n";

    fn view() -> ReviewView {
        let proposal = ChangeProposal {
            files: vec![
                FileProposal {
                    path: "one.txt".into(),
                    before: Some(BEFORE.into()),
                    after: AFTER.into(),
                },
                FileProposal {
                    path: "two.txt".into(),
                    before: None,
                    after: "new\n".into(),
                },
            ],
        };
        ReviewView::new(
            "call_1".into(),
            "edit_file".into(),
            proposal,
            &Theme::plain(),
        )
    }

    fn press(view: &mut ReviewView, keys: &str) -> ReviewAction {
        let mut last = ReviewAction::None;
        for ch in keys.chars() {
            let code = match ch {
                '\n' => KeyCode::Enter,
                '\t' => KeyCode::Tab,
                c => KeyCode::Char(c),
            };
            last = view.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
        }
        last
    }

    #[test]
    fn deciding_moves_through_every_hunk_of_every_file() {
        let mut view = view();
        assert_eq!((view.file, view.slot), (0, 0));
        press(&mut view, "y");
        assert_eq!((view.file, view.slot), (0, 1));
        press(&mut view, "n");
        assert_eq!((view.file, view.slot), (1, 0));
        let action = press(&mut view, "y\n");
        assert_eq!(
            action,
            ReviewAction::Submit(ReviewAnswer {
                files: vec![FileVerdict::Hunks(vec![true, false]), FileVerdict::Accept],
                note: String::new(),
            })
        );
    }

    #[test]
    fn enter_with_undecided_hunks_goes_to_the_first_of_them() {
        let mut view = view();
        press(&mut view, "jy");
        assert_eq!(press(&mut view, "\n"), ReviewAction::None);
        assert_eq!((view.file, view.slot), (0, 0));
        assert!(view.notice.as_deref().unwrap_or("").starts_with("2 hunks"));
    }

    #[test]
    fn a_note_goes_with_the_answer_and_esc_drops_an_unfinished_one() {
        let mut view = view();
        press(&mut view, "mkeep it short\n");
        press(&mut view, "mxyz");
        view.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(
            press(&mut view, "r\n"),
            ReviewAction::Submit(ReviewAnswer {
                files: vec![FileVerdict::Reject, FileVerdict::Reject],
                note: "keep it short".into(),
            })
        );
    }

    #[test]
    fn an_edit_replaces_the_files_proposal_and_a_failure_changes_nothing() {
        let theme = Theme::plain();
        let mut view = view();
        let ReviewAction::Edit(request) = press(&mut view, "\te") else {
            panic!("e asks for the editor");
        };
        assert_eq!((request.file, request.text.as_str()), (1, "new\n"));
        view.editor_closed(1, Err("the editor failed".into()), &theme);
        assert_eq!(view.notice.as_deref(), Some("the editor failed"));
        view.editor_closed(1, Ok(Some("newer\n".into())), &theme);
        press(&mut view, "\tA\n");
        let answer = view.answer();
        assert_eq!(answer.files[0], FileVerdict::Accept);
        assert_eq!(answer.files[1], FileVerdict::Edited("newer\n".into()));
    }

    #[test]
    fn esc_and_ctrl_c_interrupt() {
        let mut view = view();
        assert_eq!(
            view.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            ReviewAction::Interrupt
        );
        press(&mut view, "m");
        assert_eq!(
            view.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            ReviewAction::Interrupt
        );
    }
}
