//! What the model is shown of a reviewed change that was applied only in
//! part or as the user edited it: enough to carry on from the file as it
//! now is without reading it again.
//!
//! Hunks are numbered from 1 in the order of the proposal's diff (the
//! numbers the review view shows the user); excerpts use read_file's
//! `{n}\t{line}` format, so line numbers mean the same in both.

use std::ops::Range;

use similar::{DiffOp, TextDiff};

use super::words::words;
use super::{FileProposal, Hunk};

/// Lines of one rejected hunk's diff shown at most.
const MAX_HUNK_DIFF_LINES: usize = 40;
/// Lines of the resulting file shown at most, all excerpts together.
const MAX_EXCERPT_LINES: usize = 300;
/// Lines of the proposal-to-applied diff shown at most.
const MAX_EDIT_DIFF_LINES: usize = 400;

/// The report of a file of which only the hunks flagged in `accepted` were
/// applied, giving `result`.
pub(super) fn partial(tool: &str, file: &FileProposal, accepted: &[bool], result: &str) -> String {
    let all = file.hunks();
    let taken = |i: usize| accepted.get(i).copied().unwrap_or(false);
    let (applied, rejected): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|&i| taken(i));
    let mut out = words(
        "partial",
        &[
            ("tool", tool),
            ("path", &file.path),
            ("applied", &hunk_list(&applied, all.len())),
            ("rejected", &hunk_list(&rejected, all.len())),
        ],
    );
    out.push_str("\n\n");
    out.push_str(&words("applied_hunks", &[]));
    for &i in &applied {
        out.push_str(&format!("\nhunk {} {}", i + 1, all[i].header()));
    }
    out.push_str("\n\n");
    out.push_str(&words("rejected_hunks", &[]));
    let before = file.before_text();
    for &i in &rejected {
        out.push_str(&format!("\nhunk {} {}\n", i + 1, all[i].header()));
        out.push_str(&hunk_diff(&all[i], before, &file.after));
    }
    out.push_str("\n\n");
    out.push_str(&words("excerpt", &[("path", &file.path)]));
    out.push('\n');
    out.push_str(&excerpts(result, &in_result(&all, accepted)));
    out
}

/// The report of a file the user edited: the diff from the proposal to
/// what was applied.
pub(super) fn edited(tool: &str, file: &FileProposal, applied: &str) -> String {
    let mut out = words("edited", &[("tool", tool), ("path", &file.path)]);
    out.push('\n');
    let diff = TextDiff::from_lines(file.after.as_str(), applied);
    let mut unified = diff.unified_diff();
    unified.context_radius(3).header(
        &format!("a/{} (your proposal)", file.path),
        &format!("b/{} (applied)", file.path),
    );
    let text = unified.to_string();
    out.push_str(&capped(
        text.lines().map(str::to_string).collect(),
        MAX_EDIT_DIFF_LINES,
    ));
    out
}

/// `hunks 1 and 3 of 4`, `hunk 2 of 4`, `none`.
fn hunk_list(indices: &[usize], total: usize) -> String {
    let numbers: Vec<String> = indices.iter().map(|i| (i + 1).to_string()).collect();
    let listed = match numbers.split_last() {
        None => return "none".into(),
        Some((only, [])) => return format!("hunk {only} of {total}"),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    format!("hunks {listed} of {total}")
}

/// A hunk as unified-diff lines (` `, `-`, `+`), cut to
/// [`MAX_HUNK_DIFF_LINES`].
fn hunk_diff(hunk: &Hunk, before: &str, after: &str) -> String {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut lines = Vec::new();
    for op in &hunk.ops {
        let (removed, added) = match op {
            DiffOp::Equal { .. } => {
                for line in slice(&old, op.old_range()) {
                    lines.push(format!(" {}", bare(line)));
                }
                continue;
            }
            _ => (op.old_range(), op.new_range()),
        };
        for line in slice(&old, removed) {
            lines.push(format!("-{}", bare(line)));
        }
        for line in slice(&new, added) {
            lines.push(format!("+{}", bare(line)));
        }
    }
    capped(lines, MAX_HUNK_DIFF_LINES)
}

/// The lines of `range`, or as many of them as exist.
fn slice<'a>(lines: &'a [&'a str], range: Range<usize>) -> &'a [&'a str] {
    let end = range.end.min(lines.len());
    &lines[range.start.min(end)..end]
}

/// A line without its line ending.
fn bare(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// `lines` joined, cut after `max` with a count of the rest.
fn capped(lines: Vec<String>, max: usize) -> String {
    let total = lines.len();
    let mut out = lines.into_iter().take(max).collect::<Vec<_>>().join("\n");
    if total > max {
        out.push_str(&format!("\n[... {} more lines]", total - max));
    }
    out
}

/// Where each hunk lies in the result of applying the flagged ones (0-based
/// line ranges): an applied hunk spans its new lines, a rejected one its
/// old lines, each shifted by what the applied hunks before it added or
/// removed.
fn in_result(all: &[Hunk], accepted: &[bool]) -> Vec<Range<usize>> {
    let mut shift: isize = 0;
    all.iter()
        .enumerate()
        .map(|(i, hunk)| {
            let start = hunk.old.start.saturating_add_signed(shift);
            if accepted.get(i).copied().unwrap_or(false) {
                shift += hunk.new.len() as isize - hunk.old.len() as isize;
                start..start + hunk.new.len()
            } else {
                start..start + hunk.old.len()
            }
        })
        .collect()
}

/// The lines of `text` in `ranges` (merged where they touch), numbered from
/// 1, `...` between separate excerpts, cut to [`MAX_EXCERPT_LINES`] in all.
fn excerpts(text: &str, ranges: &[Range<usize>]) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        let range = range.start.min(lines.len())..range.end.min(lines.len());
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut out = Vec::new();
    let mut shown = 0;
    for (index, range) in merged.iter().enumerate() {
        if index > 0 {
            out.push("...".to_string());
        }
        for n in range.clone() {
            if shown == MAX_EXCERPT_LINES {
                let left: usize =
                    merged[index..].iter().map(|r| r.len()).sum::<usize>() - (n - range.start);
                out.push(format!("[... {left} more lines; read_file shows the rest]"));
                return out.join("\n");
            }
            out.push(format!("{}\t{}", n + 1, bare(lines[n])));
            shown += 1;
        }
    }
    if merged.iter().all(|r| r.is_empty()) {
        return "(the file is empty)".into();
    }
    out.join("\n")
}

/// The hunk arithmetic the report relies on, checked against [`hunks`].
#[cfg(test)]
mod tests {
    use super::super::{apply, hunks};
    use super::*;

    #[test]
    fn hunks_are_located_in_the_partial_result() {
        let before: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let after = before
            .replace("line 3\n", "line 3\nnew a\nnew b\n")
            .replace("line 20\n", "")
            .replace("line 28\n", "LINE 28\n");
        let all = hunks(&before, &after);
        assert_eq!(all.len(), 3);
        let accepted = [true, false, true];
        let result = apply(&before, &after, &accepted);
        let lines: Vec<&str> = result.lines().collect();
        let ranges = in_result(&all, &accepted);
        // The applied first hunk holds the new lines, the rejected second
        // still has line 20, the third (shifted by two) the changed line.
        assert!(lines[ranges[0].clone()].contains(&"new b"));
        assert!(lines[ranges[1].clone()].contains(&"line 20"));
        assert!(lines[ranges[2].clone()].contains(&"LINE 28"));
        assert_eq!(ranges[2].end, lines.len());

        let file = FileProposal {
            path: "f.txt".into(),
            before: Some(before.clone()),
            after: after.clone(),
        };
        let report = partial("edit_file", &file, &accepted, &result);
        assert!(
            report.contains("hunks 1 and 3 of 3 applied, hunk 2 of 3 rejected"),
            "{report}"
        );
        assert!(
            report.contains("hunk 2 @@ -17,7 +19,6 @@\n line 17"),
            "{report}"
        );
        assert!(report.contains("\n-line 20\n"), "{report}");
        assert!(report.contains("\n5\tnew b\n"), "{report}");
        assert!(report.contains("\n22\tline 20\n"), "{report}");
    }

    #[test]
    fn the_hunk_list_reads_as_words() {
        assert_eq!(hunk_list(&[], 3), "none");
        assert_eq!(hunk_list(&[1], 3), "hunk 2 of 3");
        assert_eq!(hunk_list(&[0, 1, 3], 4), "hunks 1, 2 and 4 of 4");
    }
}
