//! Rendering a git2 diff as a stat block and unified patch text, within an
//! output budget.
//!
//! The stat and the patch come from one pass over the diff
//! (`Diff::print(DiffFormat::Patch, ..)`): the counts are taken from the
//! patch lines themselves, and lines past the budget are only counted, so a
//! huge diff costs time but never memory, and the model learns exactly how
//! much it did not see.

use git2::{Delta, Diff, DiffDelta, DiffFindOptions, DiffFormat, DiffLine, DiffOptions};

use super::{GitRepo, git_failed, plural};
use crate::tools::support::spill::{SpillArea, SpillFile, spill_note};
use crate::tools::{ToolError, count_lines};

/// Bytes of patch text shown in one result; the rest of the 64 KiB
/// result is left for the header, the stat and the marker.
pub const PATCH_BUDGET: usize = 48 * 1024;
/// Files listed in a stat block before the rest are only counted.
const STAT_MAX_FILES: usize = 100;
/// Characters of one patch line shown before it is cut (minified files).
const MAX_LINE_CHARS: usize = 2000;
/// The widest `+++---` bar in a stat line.
const BAR_WIDTH: usize = 40;

/// Diff options limited to `pathspec` (a repository path, matched
/// literally: a file, or a directory and everything under it).
pub fn options(pathspec: Option<&str>) -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    if let Some(path) = pathspec.filter(|p| !p.is_empty()) {
        opts.pathspec(path);
        opts.disable_pathspec_match(true);
    }
    opts
}

/// Pairs deleted and added files into renames, as `git diff` does by
/// default.
pub fn detect_renames(diff: &mut Diff<'_>) -> Result<(), ToolError> {
    let mut find = DiffFindOptions::new();
    find.renames(true);
    diff.find_similar(Some(&mut find))
        .map_err(|e| git_failed("cannot detect renames", &e))
}

/// One file of a stat block.
struct FileStat {
    label: String,
    added: usize,
    removed: usize,
    binary: bool,
}

/// A rendered diff.
pub struct Rendered {
    /// The stat block: one line per file, then the totals line.
    pub stat: String,
    /// The patch text, ending with a `[... N more lines ...]` marker when it
    /// was cut; empty when no patch was asked for.
    pub patch: String,
    pub files: usize,
    pub insertions: usize,
    pub deletions: usize,
    /// The whole patch text (lines uncut), kept only when the budget cut
    /// the patch: see [`Rendered::spill`].
    whole: Option<SpillFile>,
    /// Lines of the whole patch text.
    whole_lines: usize,
}

impl Rendered {
    /// `2 files changed, 3 insertions(+), 1 deletion(-)`, as git writes it.
    pub fn totals(&self) -> String {
        let mut line = format!("{} changed", plural(self.files, "file", "files"));
        if self.insertions > 0 || self.deletions == 0 {
            line.push_str(&format!(
                ", {}(+)",
                plural(self.insertions, "insertion", "insertions")
            ));
        }
        if self.deletions > 0 || self.insertions == 0 {
            line.push_str(&format!(
                ", {}(-)",
                plural(self.deletions, "deletion", "deletions")
            ));
        }
        line
    }

    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    /// When the budget cut the patch: writes `head` (what the result shows
    /// before the patch) and then the whole patch to a spill file of `area`
    /// for `tool`, and returns the note naming it. `None` when nothing was
    /// cut or the file could not be written (the result is then as before).
    pub fn spill(&mut self, area: &SpillArea, tool: &str, head: &str) -> Option<String> {
        let whole = self.whole.take()?;
        let written = (|| -> std::io::Result<std::path::PathBuf> {
            let patch_path = whole.finish()?;
            let copied = (|| {
                let mut file = area.create(tool)?;
                file.write(head.as_bytes());
                let mut patch = std::fs::File::open(&patch_path)?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = std::io::Read::read(&mut patch, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    file.write(&buf[..n]);
                }
                file.finish()
            })();
            let _ = std::fs::remove_file(&patch_path);
            copied
        })();
        match written {
            Ok(path) => Some(spill_note(&path, count_lines(head) + self.whole_lines)),
            Err(e) => {
                tracing::warn!("cannot write a spill file for {tool}: {e}");
                None
            }
        }
    }
}

/// Renders `diff`: the stat block always, the patch text only when
/// `patch_budget` is non-zero, cut at that many bytes with a marker ending
/// in `hint` (how to see the rest).
pub fn render(
    diff: &Diff<'_>,
    git: &GitRepo,
    patch_budget: usize,
    hint: &str,
) -> Result<Rendered, ToolError> {
    render_spilling(diff, git, patch_budget, hint, None)
}

/// [`render`], and with `spill` (a spill area and the
/// tool's name), the whole patch text is streamed to a file as well, kept
/// for [`Rendered::spill`] only when the budget cut the patch.
pub fn render_spilling(
    diff: &Diff<'_>,
    git: &GitRepo,
    patch_budget: usize,
    hint: &str,
    spill: Option<(&SpillArea, &str)>,
) -> Result<Rendered, ToolError> {
    let mut files: Vec<FileStat> = Vec::new();
    let mut patch = String::new();
    let mut more_lines = 0usize;
    let mut full = patch_budget == 0;
    let mut piece = String::new();
    let mut whole = match spill.filter(|_| patch_budget > 0) {
        Some((area, tool)) => match area.create(&format!("{tool}-patch")) {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::warn!("cannot make a spill file for {tool}: {e}");
                None
            }
        },
        None => None,
    };
    let mut whole_lines = 0usize;
    let mut whole_piece = String::new();
    diff.print(DiffFormat::Patch, |delta, _hunk, line| {
        match line.origin() {
            'F' => files.push(FileStat {
                label: label(&delta, git),
                added: 0,
                removed: 0,
                binary: false,
            }),
            '+' => {
                if let Some(f) = files.last_mut() {
                    f.added += 1;
                }
            }
            '-' => {
                if let Some(f) = files.last_mut() {
                    f.removed += 1;
                }
            }
            'B' => {
                if let Some(f) = files.last_mut() {
                    f.binary = true;
                }
            }
            _ => {}
        }
        if patch_budget == 0 {
            return true;
        }
        if let Some(file) = whole.as_mut() {
            whole_piece.clear();
            line_text(&line, git.prefix(), &mut whole_piece, false);
            whole_lines += count_lines(&whole_piece);
            file.write(whole_piece.as_bytes());
        }
        if full {
            more_lines += count_lines(&String::from_utf8_lossy(line.content()));
            return true;
        }
        piece.clear();
        line_text(&line, git.prefix(), &mut piece, true);
        if !patch.is_empty() && patch.len() + piece.len() > patch_budget {
            full = true;
            more_lines += count_lines(&piece);
        } else {
            patch.push_str(&piece);
        }
        true
    })
    .map_err(|e| git_failed("cannot compute the diff", &e))?;

    if more_lines > 0 {
        if !patch.ends_with('\n') {
            patch.push('\n');
        }
        patch.push_str(&format!(
            "[... {} more {}; {hint}]",
            more_lines,
            if more_lines == 1 { "line" } else { "lines" }
        ));
    }
    let whole = match whole {
        Some(file) if more_lines > 0 => Some(file),
        Some(file) => {
            file.discard();
            None
        }
        None => None,
    };
    let mut rendered = Rendered {
        stat: String::new(),
        patch: patch.trim_end_matches('\n').to_string(),
        files: files.len(),
        insertions: files.iter().map(|f| f.added).sum(),
        deletions: files.iter().map(|f| f.removed).sum(),
        whole,
        whole_lines,
    };
    rendered.stat = stat_block(&files, &rendered.totals());
    Ok(rendered)
}

/// How a file is named in the stat: its path, or `old -> new` for a rename.
fn label(delta: &DiffDelta<'_>, git: &GitRepo) -> String {
    let path = |f: git2::DiffFile<'_>| {
        f.path_bytes()
            .map(|p| git.display(&String::from_utf8_lossy(p)))
            .unwrap_or_default()
    };
    match delta.status() {
        Delta::Renamed | Delta::Copied => {
            format!("{} -> {}", path(delta.old_file()), path(delta.new_file()))
        }
        Delta::Deleted => path(delta.old_file()),
        _ => path(delta.new_file()),
    }
}

/// One printed diff line as patch text, with paths in file headers made
/// relative to the workspace and over-long lines cut (when `cut`).
fn line_text(line: &DiffLine<'_>, prefix: &str, out: &mut String, cut: bool) {
    let content = String::from_utf8_lossy(line.content());
    let push_cut = |text: &str, out: &mut String| {
        if cut {
            push_cut(text, out)
        } else {
            out.push_str(text)
        }
    };
    match line.origin() {
        origin @ ('+' | '-' | ' ') => {
            out.push(origin);
            push_cut(&content, out);
        }
        'F' if !prefix.is_empty() => {
            for header in content.split_inclusive('\n') {
                out.push_str(&strip_header_prefix(header, prefix));
            }
        }
        _ => push_cut(&content, out),
    }
}

/// Appends `text`, cutting a line longer than [`MAX_LINE_CHARS`].
fn push_cut(text: &str, out: &mut String) {
    match text.char_indices().nth(MAX_LINE_CHARS) {
        None => out.push_str(text),
        Some((end, _)) => {
            let rest = text[end..].trim_end_matches('\n');
            out.push_str(&text[..end]);
            out.push_str(&format!(
                " [... {} more characters]\n",
                rest.chars().count()
            ));
        }
    }
}

/// A file header line (`diff --git a/P b/P`, `--- a/P`, `rename from P`,
/// ...) with the workspace's repository prefix removed from its paths.
fn strip_header_prefix(line: &str, prefix: &str) -> String {
    let line = line
        .replace(&format!(" a/{prefix}/"), " a/")
        .replace(&format!(" b/{prefix}/"), " b/");
    for key in ["rename from ", "rename to ", "copy from ", "copy to "] {
        if let Some(rest) = line.strip_prefix(key)
            && let Some(path) = rest.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
        {
            return format!("{key}{path}");
        }
    }
    line
}

/// The stat block: `path | N ++--` per file (at most [`STAT_MAX_FILES`]),
/// then the totals line.
fn stat_block(files: &[FileStat], totals: &str) -> String {
    let shown = &files[..files.len().min(STAT_MAX_FILES)];
    let name_width = shown
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let max_changes = shown.iter().map(|f| f.added + f.removed).max().unwrap_or(0);
    let count_width = max_changes.to_string().len();
    let mut out = String::new();
    for f in shown {
        let changes = f.added + f.removed;
        let detail = if f.binary {
            "Bin".to_string()
        } else {
            let (plus, minus) = bars(f.added, f.removed, max_changes);
            format!(
                "{changes:>count_width$} {}{}",
                "+".repeat(plus),
                "-".repeat(minus)
            )
        };
        out.push_str(&format!(
            " {:<name_width$} | {}\n",
            f.label,
            detail.trim_end()
        ));
    }
    if files.len() > shown.len() {
        out.push_str(&format!(
            " [... {} more files]\n",
            files.len() - shown.len()
        ));
    }
    out.push(' ');
    out.push_str(totals);
    out
}

/// The `+` and `-` bar lengths for a file, scaled so the largest change in
/// the block fits [`BAR_WIDTH`]; a non-zero count always gets one mark.
fn bars(added: usize, removed: usize, max_changes: usize) -> (usize, usize) {
    if max_changes <= BAR_WIDTH {
        return (added, removed);
    }
    let scale = |n: usize| {
        if n == 0 {
            0
        } else {
            (n * BAR_WIDTH / max_changes).max(1)
        }
    };
    (scale(added), scale(removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_paths_lose_the_workspace_prefix() {
        assert_eq!(
            strip_header_prefix("diff --git a/sub/x.rs b/sub/x.rs\n", "sub"),
            "diff --git a/x.rs b/x.rs\n"
        );
        assert_eq!(
            strip_header_prefix("+++ b/sub/x.rs\n", "sub"),
            "+++ b/x.rs\n"
        );
        assert_eq!(
            strip_header_prefix("rename from sub/a\n", "sub"),
            "rename from a\n"
        );
        assert_eq!(
            strip_header_prefix("--- a/other/x\n", "sub"),
            "--- a/other/x\n"
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let mut out = String::new();
        push_cut(&format!("{}\n", "x".repeat(MAX_LINE_CHARS + 5)), &mut out);
        assert!(out.ends_with(" [... 5 more characters]\n"), "{out}");
    }

    #[test]
    fn bars_scale() {
        assert_eq!(bars(3, 2, 5), (3, 2));
        assert_eq!(bars(400, 0, 400), (40, 0));
        assert_eq!(bars(1, 399, 400), (1, 39));
    }
}
