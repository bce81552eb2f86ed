//! Submitted messages, browsed with Up/Down like a shell's history.

use super::buffer::Fragment;

/// Most entries kept; older ones are dropped.
const MAX_ENTRIES: usize = 1_000;

/// In-memory history, oldest first. While browsing, the text that was being
/// written before the first Up (the draft) is kept and comes back when the
/// user walks down past the newest entry.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<Fragment>,
    /// Index into `entries` of the entry shown, while browsing.
    browsing: Option<usize>,
    draft: Option<Fragment>,
}

impl History {
    /// Records a submitted message (not twice in a row) and stops browsing.
    pub fn push(&mut self, entry: Fragment) {
        self.browsing = None;
        self.draft = None;
        if entry.text.trim().is_empty() || self.entries.last() == Some(&entry) {
            return;
        }
        self.entries.push(entry);
        if self.entries.len() > MAX_ENTRIES {
            let excess = self.entries.len() - MAX_ENTRIES;
            self.entries.drain(..excess);
        }
    }

    /// Puts messages from past sessions (oldest first) before everything
    /// recorded so far: they arrive from a background read, possibly after
    /// the user has sent something already.
    pub fn seed(&mut self, past: Vec<Fragment>) {
        let mut older: Vec<Fragment> = Vec::with_capacity(past.len());
        for entry in past {
            if !entry.text.trim().is_empty() && older.last() != Some(&entry) {
                older.push(entry);
            }
        }
        let room = MAX_ENTRIES.saturating_sub(self.entries.len());
        let skip = older.len().saturating_sub(room);
        let added = older.len() - skip;
        self.entries.splice(0..0, older.into_iter().skip(skip));
        if let Some(index) = self.browsing.as_mut() {
            *index += added;
        }
    }

    /// Stops browsing and forgets the draft (the composer was cleared).
    pub fn reset(&mut self) {
        self.browsing = None;
        self.draft = None;
    }

    /// The entry before the one shown; `current` is saved as the draft when
    /// browsing starts. `None` when there is nothing older.
    pub fn older(&mut self, current: Fragment) -> Option<Fragment> {
        let index = match self.browsing {
            None => self.entries.len().checked_sub(1)?,
            Some(index) => index.checked_sub(1)?,
        };
        if self.browsing.is_none() {
            self.draft = Some(current);
        }
        self.browsing = Some(index);
        self.entries.get(index).cloned()
    }

    /// The entry after the one shown, or the draft after the newest entry.
    /// `None` when not browsing.
    pub fn newer(&mut self) -> Option<Fragment> {
        let index = self.browsing?;
        if index + 1 < self.entries.len() {
            self.browsing = Some(index + 1);
            return self.entries.get(index + 1).cloned();
        }
        self.browsing = None;
        Some(self.draft.take().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_back_and_returns_to_the_draft() {
        let mut history = History::default();
        history.push(Fragment::plain("one"));
        history.push(Fragment::plain("two"));
        history.push(Fragment::plain("two"));
        assert_eq!(history.older(Fragment::plain("draft")).unwrap().text, "two");
        assert_eq!(history.older(Fragment::default()).unwrap().text, "one");
        assert_eq!(history.older(Fragment::default()), None);
        assert_eq!(history.newer().unwrap().text, "two");
        assert_eq!(history.newer().unwrap().text, "draft");
        assert_eq!(history.newer(), None);
    }

    #[test]
    fn past_sessions_come_before_what_was_sent_here() {
        let mut history = History::default();
        history.push(Fragment::plain("here"));
        history.seed(vec![Fragment::plain("old"), Fragment::plain("newer")]);
        assert_eq!(history.older(Fragment::default()).unwrap().text, "here");
        assert_eq!(history.older(Fragment::default()).unwrap().text, "newer");
        assert_eq!(history.older(Fragment::default()).unwrap().text, "old");
        assert_eq!(history.older(Fragment::default()), None);
    }
}
