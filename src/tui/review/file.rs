//! One file of a review: its proposal, its hunks with the user's decision
//! on each, and its diff rows laid out once when the file is opened (or
//! edited), so that a frame only copies the rows on screen however long the
//! diff is.

use std::ops::Range;
use std::path::Path;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use similar::DiffTag;

use crate::review::{FileProposal, FileVerdict, Hunk, apply, hunks};
use crate::tools::Lang;
use crate::tui::markdown::highlight_code;
use crate::tui::theme::Theme;

/// Texts longer than this are shown without syntax highlighting: parsing a
/// huge file would hold up the view's opening for little gain.
const HIGHLIGHT_LIMIT: usize = 4 << 20;

/// Tabs are drawn as this (a terminal cell cannot hold a tab).
const TAB: &str = "    ";

/// The user's decision on one hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HunkState {
    Pending,
    Accepted,
    Rejected,
}

impl HunkState {
    pub fn label(self) -> &'static str {
        match self {
            HunkState::Pending => "○ pending",
            HunkState::Accepted => "✓ accepted",
            HunkState::Rejected => "✗ rejected",
        }
    }
}

/// What a row of the diff shows.
pub enum RowKind {
    /// The hunk's `@@` line, drawn with the hunk's state as it is then.
    Header,
    /// A diff line: line numbers and sign, then the highlighted code.
    Code {
        gutter: Line<'static>,
        code: Line<'static>,
    },
    /// A blank row between hunks.
    Gap,
}

/// One row of a file's diff, and the decision slot it belongs to.
pub struct Row {
    pub slot: usize,
    pub kind: RowKind,
}

/// One file under review.
pub struct FileView {
    pub path: String,
    pub before: Option<String>,
    /// The text the model proposed.
    proposed: String,
    /// The text the hunks lead to: the proposal, or the user's edit of it.
    pub after: String,
    pub hunks: Vec<Hunk>,
    /// One decision per hunk; a file without hunks (an empty new file, a
    /// write of the same text) has one decision for the whole file.
    pub states: Vec<HunkState>,
    pub rows: Vec<Row>,
    /// The first row (the header) of each decision slot.
    starts: Vec<usize>,
    /// The first row on screen.
    pub top: usize,
}

impl FileView {
    pub fn new(proposal: FileProposal, theme: &Theme) -> FileView {
        let mut file = FileView {
            path: proposal.path,
            before: proposal.before,
            proposed: proposal.after.clone(),
            after: String::new(),
            hunks: Vec::new(),
            states: Vec::new(),
            rows: Vec::new(),
            starts: Vec::new(),
            top: 0,
        };
        file.set_after(proposal.after, HunkState::Pending, theme);
        file
    }

    /// Makes `after` the text under review, every decision `state`: the
    /// hunks and rows are computed again.
    pub fn set_after(&mut self, after: String, state: HunkState, theme: &Theme) {
        let before = self.before.as_deref().unwrap_or("");
        self.hunks = hunks(before, &after);
        self.after = after;
        self.states = vec![state; self.hunks.len().max(1)];
        let (rows, starts) = layout(self, theme);
        self.rows = rows;
        self.starts = starts;
        self.top = 0;
    }

    /// Whether the user changed the proposal in their editor.
    pub fn is_edited(&self) -> bool {
        self.after != self.proposed
    }

    pub fn is_new(&self) -> bool {
        self.before.is_none()
    }

    /// The rows of decision slot `slot`, its header first.
    pub fn slot_rows(&self, slot: usize) -> Range<usize> {
        let start = self.starts.get(slot).copied().unwrap_or(0);
        let end = self
            .starts
            .get(slot + 1)
            // The gap before the next hunk is not part of this one.
            .map(|next| next.saturating_sub(1))
            .unwrap_or(self.rows.len());
        start..end.max(start)
    }

    /// The `@@` text of slot `slot`.
    pub fn slot_header(&self, slot: usize) -> String {
        match self.hunks.get(slot) {
            Some(hunk) => hunk.header(),
            None if self.is_new() => "@@ -0,0 +0,0 @@ creates an empty file".into(),
            None => "@@ no change to the text @@".into(),
        }
    }

    pub fn pending(&self) -> usize {
        self.count(HunkState::Pending)
    }

    pub fn count(&self, state: HunkState) -> usize {
        self.states.iter().filter(|s| **s == state).count()
    }

    /// The answer for this file; an undecided hunk counts as rejected
    /// (the view sends an answer only once every hunk is decided).
    pub fn verdict(&self) -> FileVerdict {
        let flags: Vec<bool> = self
            .states
            .iter()
            .map(|state| *state == HunkState::Accepted)
            .collect();
        let all = flags.iter().all(|flag| *flag);
        let none = !flags.iter().any(|flag| *flag);
        if none {
            return FileVerdict::Reject;
        }
        if self.is_edited() {
            let text = if all {
                self.after.clone()
            } else {
                apply(self.before.as_deref().unwrap_or(""), &self.after, &flags)
            };
            return FileVerdict::Edited(text);
        }
        if all {
            FileVerdict::Accept
        } else {
            FileVerdict::Hunks(flags)
        }
    }
}

/// The rows of `file`'s diff and where each slot starts.
fn layout(file: &FileView, theme: &Theme) -> (Vec<Row>, Vec<usize>) {
    let before = file.before.as_deref().unwrap_or("");
    let language = Lang::from_path(Path::new(&file.path));
    // Highlighting is most of the cost of opening a long diff: the two
    // texts are parsed at the same time.
    let old_needed: Vec<Range<usize>> = file.hunks.iter().map(|hunk| hunk.old.clone()).collect();
    let new_needed: Vec<Range<usize>> = file.hunks.iter().map(|hunk| hunk.new.clone()).collect();
    let (old, new) = std::thread::scope(|scope| {
        let old = scope.spawn(|| code_lines(language, before, &old_needed, theme));
        let new = code_lines(language, &file.after, &new_needed, theme);
        let old = old
            .join()
            .unwrap_or_else(|_| code_lines(None, before, &old_needed, theme));
        (old, new)
    });
    let old_count = line_count(before);
    let new_count = line_count(&file.after);
    let digits = old_count.max(new_count).max(1).to_string().len();
    let old_open = !before.is_empty() && !before.ends_with('\n');
    let new_open = !file.after.is_empty() && !file.after.ends_with('\n');
    let row_of = |sign: char, old_no: Option<usize>, new_no: Option<usize>| {
        let number = |n: Option<usize>| match n {
            Some(n) => format!("{:>digits$}", n + 1),
            None => " ".repeat(digits),
        };
        let (style, base) = match sign {
            '-' => (theme.error, theme.error),
            '+' => (theme.success, theme.success),
            _ => (theme.dim, theme.text),
        };
        let source = match (sign, old_no, new_no) {
            ('-', Some(n), _) => old.get(n),
            (_, _, Some(n)) => new.get(n),
            _ => None,
        };
        let mut spans: Vec<Span<'static>> = source
            .map(|spans| {
                spans
                    .iter()
                    .map(|span| Span::styled(span.content.clone(), base.patch(span.style)))
                    .collect()
            })
            .unwrap_or_default();
        let open = match (sign, old_no, new_no) {
            ('-', Some(n), _) => old_open && n + 1 == old_count,
            ('+', _, Some(n)) => new_open && n + 1 == new_count,
            _ => false,
        };
        if open {
            spans.push(Span::styled(" ⏎ no newline at end of file", theme.dim));
        }
        RowKind::Code {
            gutter: Line::styled(
                format!("{} {} {sign} ", number(old_no), number(new_no)),
                style,
            ),
            code: Line::from(spans),
        }
    };
    let mut rows = Vec::new();
    let mut starts = Vec::new();
    for (slot, hunk) in file.hunks.iter().enumerate() {
        if slot > 0 {
            rows.push(Row {
                slot,
                kind: RowKind::Gap,
            });
        }
        starts.push(rows.len());
        rows.push(Row {
            slot,
            kind: RowKind::Header,
        });
        for op in &hunk.ops {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            let mut push = |kind| rows.push(Row { slot, kind });
            match tag {
                DiffTag::Equal => {
                    for (o, n) in old_range.zip(new_range) {
                        push(row_of(' ', Some(o), Some(n)));
                    }
                }
                DiffTag::Delete | DiffTag::Insert | DiffTag::Replace => {
                    for o in old_range {
                        push(row_of('-', Some(o), None));
                    }
                    for n in new_range {
                        push(row_of('+', None, Some(n)));
                    }
                }
            }
        }
    }
    if file.hunks.is_empty() {
        starts.push(0);
        rows.push(Row {
            slot: 0,
            kind: RowKind::Header,
        });
    }
    (rows, starts)
}

/// Lines as `similar` counts them (a final line without a newline counts).
fn line_count(text: &str) -> usize {
    text.split_inclusive('\n').count()
}

/// `text`'s lines highlighted for `language`, with tabs expanded and line
/// endings dropped, ready to draw. Only the lines in `needed` are drawn:
/// a long text is highlighted in windows around them, each starting
/// [`LEAD_LINES`] earlier so the parser has the code's context, since
/// highlighting all of a long file would hold up the view's opening for
/// rows it never shows. Lines outside `needed` may come back empty.
fn code_lines(
    language: Option<Lang>,
    text: &str,
    needed: &[Range<usize>],
    theme: &Theme,
) -> Vec<Vec<Span<'static>>> {
    if text.is_empty() {
        return Vec::new();
    }
    let language = language.filter(|_| text.len() <= HIGHLIGHT_LIMIT);
    let total = line_count(text);
    if total <= WHOLE_LINES {
        return drawable(highlight_code(language, text, Style::new(), theme));
    }
    // Byte offset of every line's start, and of the text's end.
    let mut offsets: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    if offsets.last() != Some(&text.len()) {
        offsets.push(text.len());
    }
    let mut lines = vec![Vec::new(); total];
    for window in windows(needed, total) {
        let (Some(&from), Some(&to)) = (offsets.get(window.start), offsets.get(window.end)) else {
            continue;
        };
        let highlighted = highlight_code(language, &text[from..to], Style::new(), theme);
        for (line, spans) in window.zip(drawable(highlighted)) {
            lines[line] = spans;
        }
    }
    lines
}

/// Texts of at most this many lines are highlighted whole.
const WHOLE_LINES: usize = 2_000;
/// Lines highlighted before a needed one, for the parser's context.
const LEAD_LINES: usize = 200;

/// The line windows to highlight: each needed range and the lines leading
/// to it, overlapping ones merged, within `total` lines.
fn windows(needed: &[Range<usize>], total: usize) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = needed
        .iter()
        .filter(|range| !range.is_empty())
        .map(|range| range.start.saturating_sub(LEAD_LINES)..range.end.min(total))
        .collect();
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Highlighted lines as a terminal can draw them: tabs expanded, carriage
/// returns dropped.
fn drawable(lines: Vec<Vec<Span<'static>>>) -> Vec<Vec<Span<'static>>> {
    lines
        .into_iter()
        .map(|spans| {
            spans
                .into_iter()
                .filter_map(|span| {
                    let content = span.content.trim_end_matches('\r');
                    if content.is_empty() {
                        return None;
                    }
                    let content = if content.contains('\t') {
                        content.replace('\t', TAB)
                    } else {
                        content.to_owned()
                    };
                    Some(Span::styled(content, span.style))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(before: Option<&str>, after: &str) -> FileProposal {
        FileProposal {
            path: "src/lib.rs".into(),
            before: before.map(str::to_owned),
            after: after.into(),
        }
    }

    const BEFORE: &str = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    const AFTER: &str = "a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk\n";

    #[test]
    fn rows_are_headers_then_lines_with_numbers_and_signs() {
        let theme = Theme::plain();
        let file = FileView::new(proposal(Some(BEFORE), AFTER), &theme);
        assert_eq!(file.hunks.len(), 2);
        assert_eq!(file.states, vec![HunkState::Pending; 2]);
        let text: Vec<String> = file
            .rows
            .iter()
            .map(|row| match &row.kind {
                RowKind::Header => file.slot_header(row.slot),
                RowKind::Code { gutter, code } => format!("{gutter}{code}"),
                RowKind::Gap => String::new(),
            })
            .collect();
        assert_eq!(text[0], "@@ -1,5 +1,5 @@");
        assert_eq!(text[1], " 1  1   a");
        assert_eq!(text[2], " 2    - b");
        assert_eq!(text[3], "    2 + B");
        assert_eq!(file.slot_rows(0), 0..7);
        assert_eq!(file.slot_rows(1), 8..text.len());
        assert!(matches!(file.rows[7].kind, RowKind::Gap));
    }

    #[test]
    fn verdicts_follow_the_decisions() {
        let theme = Theme::plain();
        let mut file = FileView::new(proposal(Some(BEFORE), AFTER), &theme);
        file.states = vec![HunkState::Accepted, HunkState::Rejected];
        assert_eq!(file.verdict(), FileVerdict::Hunks(vec![true, false]));
        file.states = vec![HunkState::Accepted; 2];
        assert_eq!(file.verdict(), FileVerdict::Accept);
        file.states = vec![HunkState::Rejected; 2];
        assert_eq!(file.verdict(), FileVerdict::Reject);
    }

    #[test]
    fn an_edited_file_answers_with_the_text_its_accepted_hunks_give() {
        let theme = Theme::plain();
        let mut file = FileView::new(proposal(Some(BEFORE), AFTER), &theme);
        let edited = "a\nBee\nc\nd\ne\nf\ng\nh\ni\nJay\nk\n";
        file.set_after(edited.into(), HunkState::Accepted, &theme);
        assert!(file.is_edited());
        assert_eq!(file.verdict(), FileVerdict::Edited(edited.into()));
        file.states[1] = HunkState::Rejected;
        assert_eq!(
            file.verdict(),
            FileVerdict::Edited("a\nBee\nc\nd\ne\nf\ng\nh\ni\nj\nk\n".into())
        );
        // Editing back to the proposal is no edit.
        file.set_after(AFTER.into(), HunkState::Accepted, &theme);
        assert_eq!(file.verdict(), FileVerdict::Accept);
    }

    #[test]
    fn an_empty_new_file_is_one_decision() {
        let theme = Theme::plain();
        let mut file = FileView::new(proposal(None, ""), &theme);
        assert_eq!(file.states.len(), 1);
        assert_eq!(file.slot_rows(0), 0..1);
        file.states[0] = HunkState::Accepted;
        assert_eq!(file.verdict(), FileVerdict::Accept);
    }

    #[test]
    fn tabs_and_carriage_returns_are_drawable() {
        let theme = Theme::plain();
        let file = FileView::new(proposal(Some("x\r\n"), "\tx\r\n"), &theme);
        let RowKind::Code { code, .. } = &file.rows[2].kind else {
            panic!("not a code row");
        };
        assert_eq!(code.to_string(), "    x");
    }

    #[test]
    fn windows_lead_into_each_range_and_merge() {
        assert_eq!(
            windows(&[300..310, 450..460, 2000..2001], 2500),
            vec![100..460, 1800..2001]
        );
        assert_eq!(windows(&[5..9, 0..0], 8), vec![0..8]);
    }

    #[test]
    fn a_long_file_is_highlighted_around_its_hunks_as_a_whole_file_would_be() {
        let theme = Theme::colored();
        let text: String = (0..5000)
            .map(|i| format!("fn f{i}() {{ let s = \"{i}\"; }}\n"))
            .collect();
        let whole = drawable(highlight_code(
            Some(Lang::Rust),
            &text,
            Style::new(),
            &theme,
        ));
        let lines = code_lines(
            Some(Lang::Rust),
            &text,
            std::slice::from_ref(&(4000..4007)),
            &theme,
        );
        assert_eq!(lines.len(), 5000);
        assert_eq!(lines[4000..4007], whole[4000..4007]);
        assert!(lines[100].is_empty());
    }
}
