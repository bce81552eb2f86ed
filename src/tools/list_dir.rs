//! `list_dir`: the entries of one directory, sorted, with enough detail
//! (kind, size, symlink target) for the model to decide what to read next.

use std::path::Path;

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable};

/// Entries shown at most; a huge directory (node_modules, build output)
/// would otherwise flood the context.
pub const MAX_ENTRIES: usize = 500;

pub struct ListDir;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: Option<String>,
}

impl Tool for ListDir {
    const NAME: &'static str = "list_dir";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        // An empty path is what a model writes when it means "here".
        let given = match args.path.as_deref() {
            None | Some("") => ".",
            Some(p) => p,
        };
        let path = ctx.workspace.resolve_existing(given)?;
        let shown = ctx.workspace.display(&path);
        run_blocking_cancellable(ctx, move || list(&path, &shown)).await
    }
}

fn list(path: &Path, shown: &str) -> Result<ToolOutput, ToolError> {
    let io_failed = |e: std::io::Error| ToolError::Failed(format!("cannot list `{shown}`: {e}"));
    let meta = std::fs::metadata(path).map_err(io_failed)?;
    if !meta.is_dir() {
        return Err(ToolError::Failed(format!(
            "`{shown}` is a file, not a directory; use read_file to read it"
        )));
    }

    let mut entries: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_failed)? {
        let entry = entry.map_err(io_failed)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `DirEntry::metadata` does not follow symlinks, so a link is shown
        // as a link rather than as what it points to.
        let line = match entry.metadata() {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(entry.path()) {
                Ok(target) => format!("{name} -> {}", target.to_string_lossy()),
                Err(_) => format!("{name} -> (unreadable link)"),
            },
            Ok(m) if m.is_dir() => format!("{name}/"),
            Ok(m) if m.is_file() => format!("{name} ({} bytes)", m.len()),
            Ok(_) => format!("{name} (special file)"),
            Err(_) => format!("{name} (unreadable)"),
        };
        entries.push((name, line));
    }
    entries.sort();

    let total = entries.len();
    let summary = format!(
        "{shown}: {total} {}",
        if total == 1 { "entry" } else { "entries" }
    );
    if total == 0 {
        return Ok(ToolOutput {
            content: format!("`{shown}` is empty."),
            summary,
        });
    }
    let mut content = entries
        .iter()
        .take(MAX_ENTRIES)
        .map(|(_, line)| line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if total > MAX_ENTRIES {
        content.push_str(&format!("\n[... {} more entries]", total - MAX_ENTRIES));
    }
    Ok(ToolOutput { content, summary })
}
