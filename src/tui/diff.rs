//! `/diff`: the workspace's changes against HEAD (staged and unstaged,
//! untracked files included) as coloured patch lines.

use std::path::Path;

use git2::{DiffFormat, DiffOptions, Repository};
use ratatui::style::Modifier;
use ratatui::text::Line;

use super::theme::Theme;

/// The patch of the work tree against HEAD, one line per patch line; a note
/// when there is nothing to show.
pub fn workspace_diff(root: &Path, theme: &Theme) -> Result<Vec<Line<'static>>, git2::Error> {
    let repo = Repository::discover(root)?;
    let head = match repo.head() {
        Ok(head) => Some(head.peel_to_tree()?),
        // No commit yet: everything is new.
        Err(_) => None,
    };
    let mut options = DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true);
    let diff = repo.diff_tree_to_workdir_with_index(head.as_ref(), Some(&mut options))?;
    let mut lines = Vec::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        let text = String::from_utf8_lossy(line.content());
        let text = text.trim_end_matches(['\n', '\r']);
        let (prefix, style) = match line.origin() {
            '+' => ("+", theme.success),
            '-' => ("-", theme.error),
            ' ' => (" ", theme.text),
            'F' => ("", theme.text.add_modifier(Modifier::BOLD)),
            'H' => ("", theme.accent),
            _ => ("", theme.dim),
        };
        for (index, part) in text.split('\n').enumerate() {
            let prefix = if index == 0 { prefix } else { "" };
            lines.push(Line::styled(format!("{prefix}{part}"), style));
        }
        true
    })?;
    if lines.is_empty() {
        lines.push(Line::styled(
            "no changes against HEAD in this repository",
            theme.dim,
        ));
    }
    Ok(lines)
}
