//! The review view inside the app: a `ReviewRequested` event opens it, keys
//! go to it while it is open, and its answer goes back through the session
//! as `Op::Approve` (an [`Effect::Approve`] with `Decision::Review`).

use crossterm::event::KeyEvent;

use super::{EditRequest, ReviewAction, ReviewView};
use crate::approval::Decision;
use crate::review::ChangeProposal;
use crate::tui::app::{App, Effect};

impl App {
    /// Opens the review of tool call `id`'s proposal.
    pub(in crate::tui) fn open_review(
        &mut self,
        id: String,
        tool: String,
        proposal: ChangeProposal,
    ) {
        self.review = Some(ReviewView::new(id, tool, proposal, &self.theme));
        self.dirty = true;
    }

    /// The proposal under review, if any.
    pub fn review(&self) -> Option<&ReviewView> {
        self.review.as_ref()
    }

    /// A key while the review view is open.
    pub(in crate::tui) fn on_review_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(review) = self.review.as_mut() else {
            return Vec::new();
        };
        match review.handle_key(key) {
            ReviewAction::None => Vec::new(),
            ReviewAction::Edit(request) => vec![Effect::Edit(request)],
            ReviewAction::Interrupt => {
                self.review = None;
                self.hint = Some("interrupting…".into());
                vec![Effect::Cancel]
            }
            ReviewAction::Submit(answer) => {
                let id = review.id.clone();
                self.review = None;
                vec![Effect::Approve {
                    id,
                    decision: Decision::Review(answer),
                }]
            }
        }
    }

    /// The editor [`Effect::Edit`] started has closed: `Ok(Some(text))` is
    /// the edited text, `Ok(None)` an unchanged one, `Err` why it failed.
    pub fn on_editor_closed(
        &mut self,
        request: &EditRequest,
        result: Result<Option<String>, String>,
    ) {
        self.dirty = true;
        let theme = self.theme.clone();
        if let Some(review) = self
            .review
            .as_mut()
            .filter(|review| review.id == request.id)
        {
            review.editor_closed(request.file, result, &theme);
        }
    }
}
