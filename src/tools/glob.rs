//! `glob`: files whose path matches a glob pattern, sorted by path.
//!
//! The walk (see `support::search`) skips ignored files, never enters
//! version-control directories and never follows symlinks; a link is listed
//! only when it points to a file inside the workspace.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use super::support::search::{
    Batch, PathPattern, count_of, link_to_file_inside, sort_paths, visit_parallel,
};
use super::{MAX_OUTPUT_BYTES, Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable};
use crate::workspace::Workspace;

/// Paths listed at most; the rest are counted in a marker.
pub const MAX_RESULTS: usize = 1000;
/// Room kept under [`MAX_OUTPUT_BYTES`] for the marker.
const NOTE_RESERVE_BYTES: usize = 300;

pub struct Glob;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pattern: String,
    path: Option<String>,
}

impl Tool for Glob {
    const NAME: &'static str = "glob";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if args.pattern.trim().is_empty() {
            return Err(ToolError::InvalidArguments(
                "Invalid arguments for glob: `pattern` is empty; give a glob such as `**/*.rs`."
                    .into(),
            ));
        }
        let given = match args.path.as_deref() {
            None | Some("") => ".",
            Some(p) => p,
        };
        if given.contains('\0') {
            return Err(ToolError::invalid(
                Self::NAME,
                "`path` contains a NUL byte, which no path can hold",
            ));
        }
        let root = ctx.workspace.root().to_path_buf();
        // The pattern is checked before the path, so that a bad pattern is
        // reported as such even when the path is wrong too.
        let pattern = PathPattern::new(&args.pattern, &root, false).map_err(|problem| {
            ToolError::invalid(
                Self::NAME,
                format!(
                    "`pattern` is not a valid glob ({problem}); use `*`, `?`, `**`, `[abc]` and `{{a,b}}`, e.g. `src/**/*.{{ts,tsx}}`"
                ),
            )
        })?;
        let dir = ctx.workspace.resolve_existing(given)?;
        let workspace = ctx.workspace.clone();
        let cancel = ctx.cancel.clone();
        run_blocking_cancellable(ctx, move || {
            glob(&workspace, &dir, &pattern, &args.pattern, &cancel)
        })
        .await
    }
}

fn glob(
    workspace: &Workspace,
    dir: &Path,
    pattern: &PathPattern,
    raw_pattern: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let shown_dir = workspace.display(dir);
    if !dir.is_dir() {
        return Err(ToolError::Failed(format!(
            "`{shown_dir}` is a file, not a directory; give the directory to search as `path`"
        )));
    }
    let root = workspace.root();
    let found: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let stats = visit_parallel(dir, cancel, || {
        let mut hits = Batch::new(&found);
        move |entry: &ignore::DirEntry| {
            let Some(kind) = entry.file_type() else {
                return true;
            };
            let path = entry.path();
            // The pattern first: resolving a link costs system calls.
            if (kind.is_file() || kind.is_symlink())
                && pattern.matches(path, dir, root)
                && (kind.is_file() || link_to_file_inside(path, root))
            {
                hits.push(path.to_path_buf());
            }
            true
        }
    })?;
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    sort_paths(&mut found, |p| p);

    let total = found.len();
    let shown_pattern = crate::tools::one_line(raw_pattern, 80);
    let summary = format!(
        "glob `{shown_pattern}`: {}",
        count_of(total, "file", "files")
    );
    if total == 0 {
        let mut content = format!(
            "No files match `{raw_pattern}` under `{shown_dir}` (ignored files and version-control directories are skipped)."
        );
        if !raw_pattern.contains('/') && !raw_pattern.starts_with("**") {
            content.push_str(&format!(
                " The pattern is matched against the whole path relative to `{shown_dir}`, so `{raw_pattern}` finds only files directly in it; use `**/{raw_pattern}` to search subdirectories too."
            ));
        }
        return Ok(ToolOutput { content, summary });
    }

    let budget = MAX_OUTPUT_BYTES - NOTE_RESERVE_BYTES;
    let mut content = String::new();
    let mut shown = 0;
    for path in found.iter().take(MAX_RESULTS) {
        let line = workspace.display(path);
        if shown > 0 && content.len() + 1 + line.len() > budget {
            break;
        }
        if shown > 0 {
            content.push('\n');
        }
        content.push_str(&line);
        shown += 1;
    }
    if shown < total {
        content.push_str(&format!(
            "\n[... {} more {}; narrow the pattern or the path to see them]",
            total - shown,
            if total - shown == 1 {
                "match"
            } else {
                "matches"
            }
        ));
    }
    if stats.unreadable > 0 {
        content.push_str(&format!(
            "\n[{} could not be read and were skipped]",
            count_of(stats.unreadable, "entry", "entries")
        ));
    }
    Ok(ToolOutput { content, summary })
}
