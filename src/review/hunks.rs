//! Hunks of a proposed change and applying a chosen subset of them.
//!
//! Lines keep their line endings (`similar`'s line diff), so applying every
//! hunk gives the proposal and applying none gives the original, byte for
//! byte, whatever the line endings or a missing final newline.

use std::ops::Range;

use similar::{DiffOp, TextDiff};

/// Lines of unchanged context around a change; changes closer than twice
/// this form one hunk, as in `git diff`.
pub const CONTEXT_LINES: usize = 3;

/// One hunk: a group of nearby changes with their context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The hunk's lines in the old text (0-based, context included).
    pub old: Range<usize>,
    /// The hunk's lines in the new text (0-based, context included).
    pub new: Range<usize>,
    /// The diff operations of the hunk, context included.
    pub ops: Vec<DiffOp>,
}

impl Hunk {
    /// The `@@ -a,b +c,d @@` header, as a unified diff writes it.
    pub fn header(&self) -> String {
        format!(
            "@@ -{} +{} @@",
            unified_range(&self.old),
            unified_range(&self.new)
        )
    }
}

fn unified_range(range: &Range<usize>) -> String {
    let len = range.len();
    // An empty range names the line before it, as diff(1) does.
    let start = if len == 0 {
        range.start
    } else {
        range.start + 1
    };
    if len == 1 {
        start.to_string()
    } else {
        format!("{start},{len}")
    }
}

/// The hunks that turn `before` into `after`.
pub fn hunks(before: &str, after: &str) -> Vec<Hunk> {
    let diff = TextDiff::from_lines(before, after);
    diff.grouped_ops(CONTEXT_LINES)
        .into_iter()
        .filter(|group| group.iter().any(|op| !matches!(op, DiffOp::Equal { .. })))
        .map(|ops| {
            let (first, last) = (ops[0], ops[ops.len() - 1]);
            Hunk {
                old: first.old_range().start..last.old_range().end,
                new: first.new_range().start..last.new_range().end,
                ops,
            }
        })
        .collect()
}

/// `before` with the hunks of [`hunks`]`(before, after)` whose flag in
/// `accepted` is true applied; a missing flag counts as rejected.
pub fn apply(before: &str, after: &str, accepted: &[bool]) -> String {
    let diff = TextDiff::from_lines(before, after);
    let old_lines: Vec<&str> = diff.iter_old_slices().collect();
    let new_lines: Vec<&str> = diff.iter_new_slices().collect();
    let groups = hunks(before, after);
    let mut out = String::with_capacity(before.len().max(after.len()));
    // Old lines up to here are written.
    let mut old_at = 0;
    for (index, hunk) in groups.iter().enumerate() {
        let take = accepted.get(index).copied().unwrap_or(false);
        for op in &hunk.ops {
            let old = op.old_range();
            // Lines between hunks are unchanged.
            for line in &old_lines[old_at..old.start] {
                out.push_str(line);
            }
            let is_change = !matches!(op, DiffOp::Equal { .. });
            if is_change && take {
                for line in &new_lines[op.new_range()] {
                    out.push_str(line);
                }
            } else {
                for line in &old_lines[old.clone()] {
                    out.push_str(line);
                }
            }
            old_at = old.end;
        }
    }
    for line in &old_lines[old_at..] {
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_none_gives_either_side() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        let after = "a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk\nl";
        let n = hunks(before, after).len();
        assert_eq!(n, 2);
        assert_eq!(apply(before, after, &vec![true; n]), after);
        assert_eq!(apply(before, after, &[]), before);
        assert_eq!(
            apply(before, after, &[true, false]),
            "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"
        );
    }

    #[test]
    fn headers_count_like_diff() {
        let hunk = &hunks("x\n", "x\ny\n")[0];
        assert_eq!(hunk.header(), "@@ -1 +1,2 @@");
        let created = &hunks("", "a\nb\n")[0];
        assert_eq!(created.header(), "@@ -0,0 +1,2 @@");
    }
}
