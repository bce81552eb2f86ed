//! The project's instructions: every `AGENTS.md` from the repository root
//! (the nearest directory above the workspace holding `.git`) down to the
//! workspace, nearer ones last so that they read as the final word, within
//! one size cap for all of them.
//!
//! Each file is read through a confinement root, as glint reads its own
//! files: the workspace's own `AGENTS.md` through the workspace, the ones
//! above it through the repository, so a symlink can never lead out of the
//! repository, and only regular files are read, each only up to what is
//! left of the cap. The cap goes to the nearest files first; what it cuts
//! is said in the prompt (and to the user).

use std::path::{Path, PathBuf};

use crate::workspace::{Workspace, WorkspaceError};

/// All AGENTS.md text together is cut beyond this size, so the files
/// cannot crowd the task out of the context window.
pub const AGENTS_MD_MAX_BYTES: usize = 32 * 1024;

/// The project instructions file's name.
const AGENTS_MD: &str = "AGENTS.md";

/// One AGENTS.md found on the way down.
struct Found {
    /// Relative to the repository root (or the workspace outside a
    /// repository), for the prompt and warnings.
    label: String,
    body: Body,
}

enum Body {
    Text(String),
    /// Cut at `kept` of `total` bytes.
    Cut {
        text: String,
        kept: usize,
        total: u64,
    },
    /// Nothing of the cap was left for it.
    LeftOut,
}

/// The AGENTS.md text for the prompt, or `None` when there is none. What
/// stops a file from being used, or cuts it, is also a warning for the
/// user; none is ever a failure.
pub(super) fn read_agents_md(workspace: &Path, warnings: &mut Vec<String>) -> Option<String> {
    let ws = match Workspace::new(workspace) {
        Ok(ws) => ws,
        Err(e) => {
            warnings.push(format!("{AGENTS_MD} was not used: {e}"));
            return None;
        }
    };
    let root = ws.root().to_path_buf();
    let repo = repository_root(&root);
    let mut found = Vec::new();
    let mut left = AGENTS_MD_MAX_BYTES;
    // Nearest first, so the cap goes to the files that matter most.
    for dir in root.ancestors().take_while(|dir| match &repo {
        Some(repo) => dir.starts_with(repo),
        None => *dir == root,
    }) {
        let (reader, rel, scope) = if dir == root {
            (Ok(ws.clone()), AGENTS_MD.to_string(), "the workspace")
        } else {
            let Some(repo) = repo.as_ref() else { break };
            let Ok(inside) = dir.strip_prefix(repo) else {
                break;
            };
            let rel = inside.join(AGENTS_MD).to_string_lossy().into_owned();
            (Workspace::new(repo), rel, "the repository")
        };
        let label = match &repo {
            Some(repo) => dir
                .strip_prefix(repo)
                .unwrap_or(Path::new(""))
                .join(AGENTS_MD)
                .to_string_lossy()
                .into_owned(),
            None => AGENTS_MD.to_string(),
        };
        if left == 0 {
            if dir.join(AGENTS_MD).symlink_metadata().is_ok() {
                warnings.push(format!(
                    "{label} was left out of the prompt: the AGENTS.md files nearer the workspace use all of the {AGENTS_MD_MAX_BYTES}-byte allowance"
                ));
                found.push(Found {
                    label,
                    body: Body::LeftOut,
                });
            }
            continue;
        }
        let read = reader.and_then(|reader| reader.read_text_capped(&rel, left));
        let capped = match read {
            Ok(Some(capped)) => capped,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("{label} was not used: {}", skip_reason(&e, scope)));
                continue;
            }
        };
        left -= capped.text.len();
        let text = capped.text.trim().to_string();
        if text.is_empty() {
            continue;
        }
        let body = if capped.truncated {
            warnings.push(format!(
                "{label} is {} bytes; only its first {} bytes are in the prompt",
                capped.total_bytes,
                capped.text.len()
            ));
            Body::Cut {
                text,
                kept: capped.text.len(),
                total: capped.total_bytes,
            }
        } else {
            Body::Text(text)
        };
        found.push(Found { label, body });
    }
    found.reverse();
    assemble(&found)
}

/// The files' text, farthest first. One file reads as it always has; more
/// get a heading each and a line saying which wins.
fn assemble(found: &[Found]) -> Option<String> {
    let section = |file: &Found| match &file.body {
        Body::Text(text) => text.clone(),
        Body::Cut { text, kept, total } => {
            format!(
                "{text}\n[... {} cut at {kept} of {total} bytes]",
                file.label
            )
        }
        Body::LeftOut => format!(
            "[... {} left out: the AGENTS.md files nearer the workspace use all of the {AGENTS_MD_MAX_BYTES}-byte allowance]",
            file.label
        ),
    };
    match found {
        [] => None,
        [only] => Some(section(only)),
        several => {
            let mut out = String::from(
                "These files apply from the repository root down to the workspace; where they disagree, the later (nearer) one wins.",
            );
            for file in several {
                out.push_str(&format!("\n\n## {}\n\n{}", file.label, section(file)));
            }
            Some(out)
        }
    }
}

/// The nearest directory at or above `dir` holding `.git` (a directory,
/// or the file a worktree or submodule has).
fn repository_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|ancestor| ancestor.join(".git").symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}

/// Why a file was skipped, in words for the user (the workspace errors
/// speak to the model); `scope` is what it was confined to.
fn skip_reason(e: &WorkspaceError, scope: &str) -> String {
    match e {
        WorkspaceError::SymlinkOutside { target, .. } => format!(
            "it is a symlink to {}, outside {scope}, and glint reads only files inside it",
            target.display()
        ),
        WorkspaceError::BrokenSymlink { .. } => {
            "it is a symlink whose target does not exist".to_string()
        }
        WorkspaceError::NotRegularFile { kind, .. } => {
            format!("it is {kind}, not a regular file")
        }
        other => other.to_string(),
    }
}
