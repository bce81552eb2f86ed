//! Finding `old_string` in a file for `edit_file`: exactly, then line by
//! line ignoring more and more whitespace, and if nothing matches, the most
//! similar region for the error message.

use std::ops::Range;

use crate::tools::{ToolError, one_line};

/// Lines of the closest region quoted when `old_string` is not found.
const MAX_QUOTED_LINES: usize = 40;
/// Line comparisons made at most when looking for the closest region.
const MAX_COMPARISONS: usize = 4_000_000;
/// Occurrences listed by line number in an "ambiguous" error.
const MAX_LISTED: usize = 20;

/// How `old_string` was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Exact,
    TrailingWhitespace,
    Indentation,
    Whitespace,
}

impl How {
    /// What to tell the model about a whitespace-tolerant match.
    pub(super) fn note(self) -> Option<&'static str> {
        match self {
            How::Exact => None,
            How::TrailingWhitespace => {
                Some("old_string matched only when ignoring trailing whitespace and line endings.")
            }
            How::Indentation => Some(
                "old_string matched only when ignoring indentation; new_string was re-indented to match the file.",
            ),
            How::Whitespace => Some(
                "old_string matched only when ignoring whitespace; new_string was re-indented to match the file.",
            ),
        }
    }

    /// A line's comparison key at this level.
    fn key(self, line: &str) -> String {
        let line = line.trim_start_matches('\u{feff}');
        match self {
            How::Exact => line.to_string(),
            How::TrailingWhitespace => line.trim_end().to_string(),
            How::Indentation => line.trim().to_string(),
            How::Whitespace => line.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

pub(super) struct Replacement {
    pub range: Range<usize>,
    pub text: String,
}

pub(super) struct Plan {
    pub replacements: Vec<Replacement>,
    pub how: How,
}

/// The dominant line ending of `text` (`\n` when there is none).
fn dominant_eol(text: &str) -> &'static str {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count();
    if crlf * 2 > lf { "\r\n" } else { "\n" }
}

/// `s` with every line ending made `eol`.
fn with_eol(s: &str, eol: &str) -> String {
    let lf = s.replace("\r\n", "\n");
    if eol == "\n" {
        lf
    } else {
        lf.replace('\n', eol)
    }
}

/// 1-based line number of each byte offset in `starts` (ascending).
fn line_numbers(text: &str, starts: &[usize]) -> Vec<usize> {
    let mut line = 1;
    let mut at = 0;
    starts
        .iter()
        .map(|&s| {
            line += text.as_bytes()[at..s]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            at = s;
            line
        })
        .collect()
}

/// `4, 10 and 22` (at most [`MAX_LISTED`], then `and N more`).
fn list(items: &[String]) -> String {
    let mut shown: Vec<String> = items.iter().take(MAX_LISTED).cloned().collect();
    if items.len() > MAX_LISTED {
        shown.push(format!("{} more", items.len() - MAX_LISTED));
    }
    match shown.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Finds where `old` occurs and what replaces it, or says why it cannot.
pub(super) fn plan(
    text: &str,
    old: &str,
    new: &str,
    replace_all: bool,
    shown: &str,
) -> Result<Plan, ToolError> {
    let eol = dominant_eol(text);
    // Exactly as given, then with the file's line endings.
    let mut candidates = vec![old.to_string()];
    let converted = with_eol(old, eol);
    if converted != old {
        candidates.push(converted);
    }
    for candidate in &candidates {
        // Replacing all takes non-overlapping occurrences; the uniqueness
        // check counts overlapping ones too (`aa` is ambiguous in `aaa`).
        let starts: Vec<usize> = if replace_all {
            text.match_indices(candidate.as_str())
                .map(|(i, _)| i)
                .collect()
        } else {
            overlapping_starts(text, candidate)
        };
        if starts.is_empty() {
            continue;
        }
        if starts.len() > 1 && !replace_all {
            let lines: Vec<String> = line_numbers(text, &starts)
                .iter()
                .map(|n| n.to_string())
                .collect();
            return Err(ToolError::Failed(format!(
                "old_string occurs {} times in `{shown}` (at lines {}), so nothing was changed; add surrounding lines to old_string so that it matches once, or set replace_all to true to change every occurrence",
                starts.len(),
                list(&lines)
            )));
        }
        // The replacement takes the line endings of the text it replaces.
        let region_eol = if candidate.contains("\r\n") {
            "\r\n"
        } else if candidate.contains('\n') {
            "\n"
        } else {
            eol
        };
        let replacement = with_eol(new, region_eol);
        return Ok(Plan {
            replacements: starts
                .into_iter()
                .map(|s| Replacement {
                    range: s..s + candidate.len(),
                    text: replacement.clone(),
                })
                .collect(),
            how: How::Exact,
        });
    }
    fuzzy(text, old, new, replace_all, shown, eol)
}

/// Where `pattern` starts in `text`, overlapping occurrences included.
fn overlapping_starts(text: &str, pattern: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|rest| rest.find(pattern)) {
        let at = from + i;
        starts.push(at);
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    starts
}

/// A line of the file: where it starts, where its text ends, and where the
/// next line starts (after the line ending).
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    next: usize,
}

fn spans(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let (end, next) = match text[start..].find('\n') {
            Some(i) => {
                let nl = start + i;
                let end = if text[..nl].ends_with('\r') {
                    nl - 1
                } else {
                    nl
                };
                (end, nl + 1)
            }
            None => (text.len(), text.len()),
        };
        spans.push(Span { start, end, next });
        start = next;
    }
    spans
}

/// Whole-line matching that ignores more and more whitespace; applied only
/// at the first level that matches, and only if it matches once (or
/// `replace_all`).
fn fuzzy(
    text: &str,
    old: &str,
    new: &str,
    replace_all: bool,
    shown: &str,
    eol: &str,
) -> Result<Plan, ToolError> {
    let old = old.replace("\r\n", "\n");
    let ends_with_newline = old.ends_with('\n');
    let old_lines: Vec<&str> = old.strip_suffix('\n').unwrap_or(&old).split('\n').collect();
    let spans = spans(text);
    let file_lines: Vec<&str> = spans.iter().map(|s| &text[s.start..s.end]).collect();
    let m = old_lines.len();
    let meaningful = old_lines.iter().any(|l| !l.trim().is_empty());
    for how in [How::TrailingWhitespace, How::Indentation, How::Whitespace] {
        if !meaningful || m > file_lines.len() {
            break;
        }
        let old_keys: Vec<String> = old_lines.iter().map(|l| how.key(l)).collect();
        let file_keys: Vec<String> = file_lines.iter().map(|l| how.key(l)).collect();
        let mut windows = Vec::new();
        let mut i = 0;
        while i + m <= file_keys.len() {
            if file_keys[i..i + m] == old_keys[..] {
                windows.push(i);
                i += m;
            } else {
                i += 1;
            }
        }
        if windows.is_empty() {
            continue;
        }
        if windows.len() > 1 && !replace_all {
            let places: Vec<String> = windows
                .iter()
                .map(|&w| {
                    if m == 1 {
                        format!("{}", w + 1)
                    } else {
                        format!("{}-{}", w + 1, w + m)
                    }
                })
                .collect();
            return Err(ToolError::Failed(format!(
                "old_string does not occur exactly in `{shown}`, and ignoring {} it matches {} places (lines {}), so nothing was changed; copy the exact text of one of them (read_file shows it) with enough surrounding lines to make it unique",
                how.describe(),
                windows.len(),
                list(&places)
            )));
        }
        let new = new.replace("\r\n", "\n");
        let replacements = windows
            .into_iter()
            .map(|w| {
                let last = spans[w + m - 1];
                let end = if ends_with_newline {
                    last.next
                } else {
                    last.end
                };
                let body = if how == How::TrailingWhitespace {
                    new.clone()
                } else {
                    reindent(&old_lines, &file_lines[w..w + m], &new)
                };
                Replacement {
                    range: spans[w].start..end,
                    text: with_eol(&body, eol),
                }
            })
            .collect();
        return Ok(Plan { replacements, how });
    }
    Err(not_found(&old_lines, &file_lines, shown))
}

impl How {
    fn describe(self) -> &'static str {
        match self {
            How::Exact => "nothing",
            How::TrailingWhitespace => "trailing whitespace",
            How::Indentation => "indentation",
            How::Whitespace => "whitespace",
        }
    }
}

/// The leading whitespace of a line.
fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Width of the model's indentation, a tab counting four columns.
fn model_width(indent: &str) -> i64 {
    indent.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// `new` re-indented the way the matched file lines differ from the model's
/// `old` lines: by a common prefix added or removed, or else by a linear map
/// of indentation widths onto the file's indent character (which covers two
/// spaces against four, and spaces against tabs). If no consistent mapping
/// exists, `new` is left as the model wrote it.
fn reindent(old: &[&str], file: &[&str], new: &str) -> String {
    let pairs: Vec<(&str, &str)> = old
        .iter()
        .zip(file)
        .filter(|(o, _)| !o.trim().is_empty())
        .map(|(o, f)| (indent(o), indent(f)))
        .collect();
    if pairs.iter().all(|(o, f)| o == f) {
        return new.to_string();
    }
    let map_lines = |f: &dyn Fn(&str) -> Option<String>| -> Option<String> {
        let lines: Option<Vec<String>> = new
            .split('\n')
            .map(|line| {
                if line.trim().is_empty() {
                    Some(line.to_string())
                } else {
                    f(line)
                }
            })
            .collect();
        lines.map(|l| l.join("\n"))
    };
    // A common prefix added to every line.
    let (o0, f0) = pairs[0];
    if let Some(added) = f0.strip_suffix(o0) {
        if pairs.iter().all(|(o, f)| f.strip_suffix(o) == Some(added)) {
            if let Some(out) = map_lines(&|l| Some(format!("{added}{l}"))) {
                return out;
            }
        }
    }
    // A common prefix removed from every line.
    if let Some(removed) = o0.strip_suffix(f0) {
        if pairs
            .iter()
            .all(|(o, f)| o.strip_suffix(f) == Some(removed))
        {
            if let Some(out) = map_lines(&|l| {
                Some(
                    l.strip_prefix(removed)
                        .unwrap_or(l.trim_start())
                        .to_string(),
                )
            }) {
                return out;
            }
        }
    }
    // A linear map of widths, onto the one character the file indents with.
    let unit = match pairs.iter().flat_map(|(_, f)| f.chars()).next() {
        Some(c) if pairs.iter().all(|(_, f)| f.chars().all(|x| x == c)) => c,
        _ => return new.to_string(),
    };
    let points: Vec<(i64, i64)> = pairs
        .iter()
        .map(|(o, f)| (model_width(o), f.chars().count() as i64))
        .collect();
    let (x1, y1) = points[0];
    // Through two points with different widths, or proportional through one.
    let (x2, y2) = points
        .iter()
        .copied()
        .find(|&(x, _)| x != x1)
        .unwrap_or((0, 0));
    if x1 == x2 {
        return new.to_string();
    }
    let map = |x: i64| -> Option<i64> {
        let num = y1 * (x2 - x) + y2 * (x - x1);
        let den = x2 - x1;
        (num % den == 0 && num / den >= 0).then_some(num / den)
    };
    if points.iter().any(|&(x, y)| map(x) != Some(y)) {
        return new.to_string();
    }
    map_lines(&|l| {
        let width = map(model_width(indent(l)))?;
        Some(format!(
            "{}{}",
            unit.to_string().repeat(width as usize),
            l.trim_start()
        ))
    })
    .unwrap_or_else(|| new.to_string())
}

/// The error for text that matches nowhere: the most similar region of the
/// file, quoted with line numbers, and the first line that differs.
fn not_found(old: &[&str], file: &[&str], shown: &str) -> ToolError {
    let lead = format!(
        "old_string was not found in `{shown}` (not even ignoring whitespace), so nothing was changed"
    );
    if file.is_empty() {
        return ToolError::Failed(format!("{lead}; the file is empty"));
    }
    let old_grams: Vec<Vec<u64>> = old.iter().map(|l| bigrams(l)).collect();
    let file_grams: Vec<Vec<u64>> = file.iter().map(|l| bigrams(l)).collect();
    let m = old.len().min(file.len());
    // Bound the work on big files with long old_strings by comparing an
    // evenly spaced sample of the old lines.
    let windows = file.len() - m + 1;
    let step = (windows * m).div_ceil(MAX_COMPARISONS).max(1);
    let sample: Vec<usize> = (0..m).step_by(step).collect();
    let mut best = (0usize, -1.0f64);
    for start in 0..windows {
        let score: f64 = sample
            .iter()
            .map(|&j| {
                dice(
                    old[j],
                    &old_grams[j],
                    file[start + j],
                    &file_grams[start + j],
                )
            })
            .sum::<f64>()
            / sample.len() as f64;
        if score > best.1 {
            best = (start, score);
        }
    }
    let (start, score) = best;
    if score < 0.25 {
        return ToolError::Failed(format!(
            "{lead}, and no part of the file resembles it; read the file with read_file and copy the exact text to replace"
        ));
    }
    let mut message = format!(
        "{lead}. The most similar part is lines {}-{} ({:.0}% similar):",
        start + 1,
        start + m,
        score * 100.0
    );
    for (i, line) in file[start..start + m]
        .iter()
        .enumerate()
        .take(MAX_QUOTED_LINES)
    {
        message.push_str(&format!("\n{}\t{line}", start + i + 1));
    }
    if m > MAX_QUOTED_LINES {
        message.push_str(&format!("\n[... {} more lines]", m - MAX_QUOTED_LINES));
    }
    if let Some(j) = (0..m).find(|&j| old[j].trim() != file[start + j].trim()) {
        message.push_str(&format!(
            "\nFirst difference at line {}: the file has `{}` where old_string has `{}`.",
            start + j + 1,
            one_line(file[start + j].trim(), 120),
            one_line(old[j].trim(), 120)
        ));
    }
    message.push_str("\nCopy the exact text from these lines (without the line numbers) into old_string and retry.");
    ToolError::Failed(message)
}

/// The sorted character bigrams of a trimmed line.
fn bigrams(line: &str) -> Vec<u64> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut grams: Vec<u64> = chars
        .windows(2)
        .map(|w| ((w[0] as u64) << 21) | w[1] as u64)
        .collect();
    grams.sort_unstable();
    grams
}

/// The Dice similarity of two lines from their bigrams (0 to 1).
fn dice(a: &str, ga: &[u64], b: &str, gb: &[u64]) -> f64 {
    if a.trim() == b.trim() {
        return 1.0;
    }
    if ga.is_empty() || gb.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < ga.len() && j < gb.len() {
        match ga[i].cmp(&gb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (ga.len() + gb.len()) as f64
}
