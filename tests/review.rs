//! Per-hunk review arithmetic: applying a chosen subset of a proposal's
//! hunks gives exactly the expected file, byte for byte, whatever the line
//! endings and final newlines (property-tested over random edits).
//!
//! The properties compare against oracles built from the one diff of
//! `before` and `after`, never against a fresh diff of a partial result: a
//! line diff is not canonical (with repeated lines, `before` → result may
//! align differently and split one accepted hunk into two), so counting the
//! hunks of a re-diff tests the diff algorithm, not `apply`.

use proptest::prelude::*;
use similar::{DiffOp, TextDiff};

use glint::review::{apply, hunks};

/// Lines from a small alphabet, so random edits repeat lines and the diff
/// has real choices to make; each with `\n` or `\r\n`, the last one
/// possibly without a line ending.
fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c", "fn x() {", "}", "", "  let y = 1;"]),
                prop::bool::weighted(0.8),
            ),
            0..40,
        ),
        any::<bool>(),
    )
        .prop_map(|(lines, final_newline)| {
            let mut out = String::new();
            let count = lines.len();
            for (i, (line, lf)) in lines.into_iter().enumerate() {
                out.push_str(line);
                if i + 1 < count || final_newline {
                    out.push_str(if lf { "\n" } else { "\r\n" });
                }
            }
            out
        })
}

/// An edit of `before`: each line kept, dropped, replaced or followed by a
/// new one; sometimes the final newline toggled.
fn edited(before: &str, edits: &[(u8, &str)], toggle_final: bool) -> String {
    let mut out = String::new();
    for (i, line) in before.split_inclusive('\n').enumerate() {
        let (op, new) = edits.get(i).copied().unwrap_or((0, ""));
        match op % 5 {
            1 => {}
            2 => {
                out.push_str(new);
                out.push('\n');
            }
            3 => {
                out.push_str(line);
                out.push_str(new);
                out.push_str("\r\n");
            }
            _ => out.push_str(line),
        }
    }
    if toggle_final {
        if out.ends_with('\n') {
            out.pop();
        } else {
            out.push('\n');
        }
    }
    out
}

/// A pair of texts: an edit of a random text, or two unrelated ones.
fn pair() -> impl Strategy<Value = (String, String)> {
    let edits = prop::collection::vec(
        (
            any::<u8>(),
            prop::sample::select(vec!["a", "z", "}", "new line", ""]),
        ),
        0..40,
    );
    prop_oneof![
        3 => (text(), edits, prop::bool::weighted(0.2))
            .prop_map(|(before, edits, toggle)| {
                let after = edited(&before, &edits, toggle);
                (before, after)
            }),
        1 => (text(), text()),
    ]
}

/// The expected file, built without the hunk bookkeeping of `apply`: walk
/// the whole diff op by op, and take an op's new lines when the hunk that
/// contains it (by line range in the old text) is accepted.
fn oracle(before: &str, after: &str, accepted: &[bool]) -> String {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let groups = hunks(before, after);
    let diff = TextDiff::from_lines(before, after);
    let mut out = String::new();
    for op in diff.ops() {
        let take_new = !matches!(op, DiffOp::Equal { .. }) && {
            let at = op.old_range();
            let owner = groups.iter().position(|h| {
                h.ops.iter().any(|o| {
                    o.old_range() == at && o.new_range() == op.new_range() && o.tag() == op.tag()
                })
            });
            let owner = owner.expect("every change belongs to a hunk");
            accepted.get(owner).copied().unwrap_or(false)
        };
        let lines = if take_new {
            &new[op.new_range()]
        } else {
            &old[op.old_range()]
        };
        for line in lines {
            out.push_str(line);
        }
    }
    out
}

/// The expected file, built from the hunks' line ranges alone: old lines
/// between hunks, then each hunk's new lines if accepted, else its old ones.
/// Independent of [`oracle`]'s op-by-op walk, so a hunk whose ranges and ops
/// disagree fails one of the two.
fn splice(before: &str, after: &str, accepted: &[bool]) -> String {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut old_at = 0;
    for (index, hunk) in hunks(before, after).iter().enumerate() {
        out.extend(old[old_at..hunk.old.start].iter().copied());
        if accepted.get(index).copied().unwrap_or(false) {
            out.extend(new[hunk.new.clone()].iter().copied());
        } else {
            out.extend(old[hunk.old.clone()].iter().copied());
        }
        old_at = hunk.old.end;
    }
    out.extend(old[old_at..].iter().copied());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepting_a_subset_of_hunks_gives_exactly_the_expected_file(
        (before, after) in pair(),
        mask in prop::collection::vec(any::<bool>(), 0..12),
    ) {
        let all = hunks(&before, &after);
        prop_assert_eq!(all.is_empty(), before == after);
        // Everything or nothing gives either side, byte for byte.
        prop_assert_eq!(apply(&before, &after, &vec![true; all.len()]), after.clone());
        prop_assert_eq!(apply(&before, &after, &[]), before.clone());
        prop_assert_eq!(apply(&before, &after, &vec![false; all.len()]), before.clone());

        let result = apply(&before, &after, &mask);
        prop_assert_eq!(&result, &oracle(&before, &after, &mask));
        prop_assert_eq!(&result, &splice(&before, &after, &mask));

        // The result differs from the original exactly when a hunk was
        // taken, and from the proposal exactly when one was left; the rest
        // of the proposal applied to the result gives the proposal.
        let taken = (0..all.len()).filter(|&i| mask.get(i).copied().unwrap_or(false)).count();
        prop_assert_eq!(result != before, taken > 0);
        prop_assert_eq!(result != after, taken < all.len());
        let rest = hunks(&result, &after);
        prop_assert_eq!(apply(&result, &after, &vec![true; rest.len()]), after.clone());
        // Each hunk's new lines count matches its old lines count plus its
        // net change, and the hunks are in order without overlap.
        for pair in all.windows(2) {
            prop_assert!(pair[0].old.end <= pair[1].old.start);
            prop_assert!(pair[0].new.end <= pair[1].new.start);
        }
    }

    #[test]
    fn one_hunk_at_a_time_adds_up_to_the_proposal(
        (before, after) in pair(),
    ) {
        // Accepting hunks one by one, each against the file the previous
        // step left, ends at the proposal: no hunk depends on another.
        let total = hunks(&before, &after).len();
        let mut current = before.clone();
        let mut mask = vec![false; total];
        for i in 0..total {
            mask[i] = true;
            let next = apply(&before, &after, &mask);
            // The step changes the file, by exactly hunk i's lines.
            prop_assert_ne!(&current, &next);
            prop_assert_eq!(&next, &splice(&before, &after, &mask));
            current = next;
        }
        prop_assert_eq!(current, after);
    }
}

#[test]
fn line_endings_and_final_newlines_survive_a_partial_apply() {
    let before = "one\r\ntwo\r\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten";
    let after = "ONE\r\ntwo\r\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\n";
    assert_eq!(hunks(before, after).len(), 2);
    assert_eq!(
        apply(before, after, &[true, false]),
        "ONE\r\ntwo\r\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten"
    );
    assert_eq!(
        apply(before, after, &[false, true]),
        "one\r\ntwo\r\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\n"
    );
}

/// The input that failed CI at stop 22: taking only the second hunk is
/// right, though a fresh diff of the original against the result splits it
/// in two (repeated `a` lines let the diff align either way).
#[test]
fn a_partial_apply_that_a_re_diff_splits_is_still_exact() {
    let before = "a\r\na\r\na\na\r\na\na\r\nb\r\na\r\nb\r\nb\r\na\r\na\r\nfn x() {\nb\r\nfn x() {\na\r\na\r\na\r\na\r\na\r\na\r\na\na\r\na\r\na\r\na\r\na\r\na\r\na";
    let after = "a\r\nz\r\na\r\nz\nz\nz\nz\nb\r\nz\na\r\na\na\nfn x() {\na\r\na\r\na\r\na\r\na\r\na\r\na\r\na\na\r\na\r\na\r\na\r\na\r\na\r\na\n";
    let mask = [false, true];
    assert_eq!(hunks(before, after).len(), 2);
    let result = apply(before, after, &mask);
    assert_eq!(result, oracle(before, after, &mask));
    assert_eq!(result, splice(before, after, &mask));
    // The first hunk's edits are absent, the second's present.
    assert!(result.starts_with("a\r\na\r\na\na\r\n"));
    assert_ne!(result, before);
    assert_ne!(result, after);
}
