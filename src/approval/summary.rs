//! What an approval request shows the user: the shell command, or a short
//! unified diff of what an edit would change, so the decision is made on
//! the change itself rather than on the model's description of it.

use serde_json::{Map, Value};

use crate::workspace::Workspace;

/// Diff lines shown at most; the rest is counted.
const MAX_LINES: usize = 60;

/// The current file is read up to this many bytes for the diff.
const MAX_READ: usize = 256 * 1024;

/// The text shown for a call to `tool` with `arguments`.
pub(super) fn of_call(tool: &str, arguments: &Map<String, Value>, workspace: &Workspace) -> String {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).unwrap_or("");
    match tool {
        "shell" => text("command").to_string(),
        "write_file" => {
            let path = text("path");
            let current = workspace
                .read_text_capped(path, MAX_READ)
                .ok()
                .flatten()
                .map(|file| file.text);
            match current {
                Some(before) => diff(path, &before, text("content")),
                None => diff(path, "", text("content")).replacen(
                    &format!("--- a/{path}"),
                    "--- /dev/null (new file)",
                    1,
                ),
            }
        }
        "edit_file" => {
            let mut shown = diff(text("path"), text("old_string"), text("new_string"));
            if arguments.get("replace_all").and_then(Value::as_bool) == Some(true) {
                shown.push_str("\n(every occurrence)");
            }
            shown
        }
        "git_commit" => {
            let mut shown = format!("commit: {}", text("message"));
            match arguments.get("paths").and_then(Value::as_array) {
                Some(paths) => {
                    let names: Vec<&str> = paths.iter().filter_map(Value::as_str).collect();
                    shown.push_str(&format!("\nstaging: {}", names.join(", ")));
                }
                None => shown.push_str("\nstaging: every change to tracked files"),
            }
            shown
        }
        _ => serde_json::to_string(arguments).unwrap_or_default(),
    }
}

/// A unified diff of `before` to `after`, cut to [`MAX_LINES`].
fn diff(path: &str, before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut unified = diff.unified_diff();
    unified
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"));
    let text = unified.to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= MAX_LINES {
        return lines.join("\n");
    }
    let mut shown = lines[..MAX_LINES].join("\n");
    shown.push_str(&format!("\n[... {} more lines]", lines.len() - MAX_LINES));
    shown
}
