//! `write_file`: create or replace a whole file, atomically.
//!
//! The content goes to a temporary file in the target's directory which is
//! then renamed over the target, so a crash or a full disk never leaves a
//! half-written source file, and editors or build tools watching the file
//! see one complete change.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput, count_lines, run_blocking};
use crate::workspace::Workspace;

pub struct WriteFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    path: String,
    content: String,
}

impl Tool for WriteFile {
    const NAME: &'static str = "write_file";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let target = ctx.workspace.resolve_for_write(&args.path)?;
        let workspace = ctx.workspace.clone();
        // Not cancellable once started: the write is short and atomic,
        // and the model must be told truthfully whether it happened.
        run_blocking(move || write(&workspace, &target, args.content.as_bytes())).await
    }
}

pub(crate) fn write(
    workspace: &Workspace,
    target: &Path,
    content: &[u8],
) -> Result<ToolOutput, ToolError> {
    let shown = workspace.display(target);
    let failed = |what: &str, e: std::io::Error| {
        ToolError::Failed(format!("cannot write `{shown}`: {what}: {e}"))
    };

    let existing = match std::fs::symlink_metadata(target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed("cannot inspect it", e)),
    };
    if let Some(meta) = &existing {
        if meta.is_dir() {
            return Err(ToolError::Failed(format!(
                "`{shown}` is a directory; give the path of a file to write"
            )));
        }
        if !meta.is_file() {
            return Err(ToolError::Failed(format!(
                "`{shown}` is not a regular file; glint writes only regular files"
            )));
        }
    }

    let Some(parent) = target.parent() else {
        return Err(ToolError::Failed(format!(
            "`{shown}` has no parent directory"
        )));
    };
    let created_dir = first_missing_ancestor(parent);
    std::fs::create_dir_all(parent).map_err(|e| failed("cannot create its directory", e))?;
    // Re-check now the directories exist: resolution already ensured this,
    // but it costs little and guards against the tree changing under us.
    let parent_real =
        std::fs::canonicalize(parent).map_err(|e| failed("cannot resolve its directory", e))?;
    if !parent_real.starts_with(workspace.root()) {
        return Err(ToolError::Failed(format!(
            "`{shown}` is no longer inside the workspace {}; use a path inside it",
            workspace.root().display()
        )));
    }

    let mut builder = tempfile::Builder::new();
    builder.prefix(".glint-write-").suffix(".tmp");
    // New files get the usual 0666-minus-umask, not tempfile's private 0600;
    // existing files keep exactly the mode they had.
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        match &existing {
            Some(meta) => meta.permissions(),
            None => std::fs::Permissions::from_mode(0o666),
        }
    };
    #[cfg(unix)]
    builder.permissions(mode);
    let mut temp = builder
        .tempfile_in(&parent_real)
        .map_err(|e| failed("cannot create a temporary file", e))?;
    temp.write_all(content)
        .map_err(|e| failed("write failed", e))?;
    if let Some(meta) = &existing {
        // The umask may have narrowed the mode passed at creation.
        std::fs::set_permissions(temp.path(), meta.permissions())
            .map_err(|e| failed("cannot keep its permissions", e))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| failed("cannot flush it to disk", e))?;
    temp.persist(target)
        .map_err(|e| failed("cannot move it into place", e.error))?;

    let bytes = content.len();
    let lines = std::str::from_utf8(content).map(count_lines).unwrap_or(0);
    let verb = if existing.is_some() {
        "Overwrote"
    } else {
        "Created"
    };
    let mut message = format!(
        "{verb} {shown}: wrote {bytes} {} ({lines} {}).",
        if bytes == 1 { "byte" } else { "bytes" },
        if lines == 1 { "line" } else { "lines" }
    );
    if let Some(dir) = created_dir {
        message.push_str(&format!(" Created directory {}.", workspace.display(&dir)));
    }
    Ok(ToolOutput {
        summary: format!(
            "{shown}: {} ({bytes} {})",
            verb.to_lowercase(),
            if bytes == 1 { "byte" } else { "bytes" }
        ),
        content: message,
    })
}

/// The outermost directory that `create_dir_all(dir)` will create, if any,
/// so the result can tell the model which directories appeared.
fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut current = Some(dir);
    while let Some(d) = current {
        if std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing = Some(d.to_path_buf());
        current = d.parent();
    }
    missing
}
