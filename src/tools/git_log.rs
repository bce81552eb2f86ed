//! `git_log`: one line per commit, newest first, optionally only the
//! commits that changed a path.
//!
//! The path filter compares the path's tree entry in each commit with its
//! parents' (an id comparison per commit, no content diff), which is what
//! `git log -- PATH` decides on and fast even on long histories. A merge is
//! listed only when the path differs from every parent, as git's default
//! history simplification does.

use std::path::Path;

use git2::{Commit, ErrorCode, Oid, Sort};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::support::git::{self, GitRepo, format_time, git_failed};
use super::{Tool, ToolContext, ToolError, ToolOutput, one_line, run_blocking_cancellable};
use crate::workspace::Workspace;

/// Commits listed when the model gives no `count`.
pub const DEFAULT_COUNT: i64 = 10;
/// The most commits one call lists.
pub const MAX_COUNT: i64 = 100;
/// Characters of a subject shown before it is cut.
const MAX_SUBJECT_CHARS: usize = 200;
/// Commits walked between cancellation checks.
const CANCEL_CHECK_EVERY: usize = 512;

pub struct GitLog;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    count: Option<i64>,
    path: Option<String>,
    revision: Option<String>,
}

impl Tool for GitLog {
    const NAME: &'static str = "git_log";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        git::check_opt_arg(Self::NAME, "`revision`", args.revision.as_deref())?;
        git::check_opt_arg(Self::NAME, "`path`", args.path.as_deref())?;
        let count = match args.count {
            None => DEFAULT_COUNT,
            Some(n) if n < 1 => {
                return Err(ToolError::InvalidArguments(format!(
                    "Invalid arguments for git_log: `count` must be at least 1 (at most {MAX_COUNT}), got {n}."
                )));
            }
            Some(n) => n.min(MAX_COUNT),
        } as usize;
        let ws = ctx.workspace.clone();
        let cancel = ctx.cancel.clone();
        run_blocking_cancellable(ctx, move || {
            let git = git::open(&ws)?;
            log(
                &git,
                &ws,
                count,
                args.path.as_deref(),
                args.revision.as_deref(),
                &cancel,
            )
        })
        .await
    }
}

fn log(
    git: &GitRepo,
    ws: &Workspace,
    count: usize,
    path: Option<&str>,
    revision: Option<&str>,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let repo = &git.repo;
    let start = match revision {
        Some(spec) => {
            let object = git.revision(ws, spec)?;
            object.peel_to_commit().map_err(|_| {
                ToolError::Failed(format!(
                    "`{spec}` names a {}, not a commit; give a branch, tag or commit",
                    object.kind().map_or("git object", |k| k.str())
                ))
            })?
        }
        None => match git.head_commit()? {
            Some(commit) => commit,
            None => {
                let branch = git.branch_name().unwrap_or_else(|| "HEAD".into());
                return Ok(ToolOutput {
                    content: format!("No commits yet on branch {branch}."),
                    summary: "no commits yet".into(),
                });
            }
        },
    };
    let from = revision.unwrap_or("HEAD");
    // A filter of the whole repository is no filter.
    let filter = match path {
        Some(p) => Some(git.resolve_path(ws, p)?).filter(|p| !p.is_empty()),
        None => None,
    };

    let failed = |e: git2::Error| git_failed("cannot walk the history", &e);
    let mut walk = repo.revwalk().map_err(failed)?;
    walk.set_sorting(Sort::TIME).map_err(failed)?;
    walk.push(start.id()).map_err(failed)?;

    let mut lines = Vec::new();
    let mut next: Option<Oid> = None;
    for (walked, oid) in walk.enumerate() {
        if walked % CANCEL_CHECK_EVERY == 0 && cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        let oid = oid.map_err(failed)?;
        let commit = repo.find_commit(oid).map_err(failed)?;
        if let Some(filter) = &filter
            && !touches(&commit, filter)?
        {
            continue;
        }
        if lines.len() == count {
            next = Some(oid);
            break;
        }
        lines.push(entry(git, &commit));
    }

    let shown = lines.len();
    let about = match path {
        Some(p) => format!(" touching `{p}`"),
        None => String::new(),
    };
    if lines.is_empty() {
        return Ok(ToolOutput {
            content: format!("No commits in the history of `{from}`{about}."),
            summary: "no commits".into(),
        });
    }
    let mut content = lines.join("\n");
    if let Some(next) = next {
        content.push_str(&format!(
            "\n[... more commits{about}; call git_log with revision={} to continue from the next one]",
            git.short(next)
        ));
    }
    Ok(ToolOutput {
        content,
        summary: format!(
            "{shown} {}{about}",
            if shown == 1 { "commit" } else { "commits" }
        ),
    })
}

/// `abc1234 2024-05-01 12:34:56 +0200 <Jane Doe> Subject`.
fn entry(git: &GitRepo, commit: &Commit<'_>) -> String {
    let author = commit.author();
    let subject = commit
        .summary_bytes()
        .map(|s| one_line(&String::from_utf8_lossy(s), MAX_SUBJECT_CHARS))
        .unwrap_or_default();
    format!(
        "{} {} <{}> {subject}",
        git.short(commit.id()),
        format_time(author.when()),
        String::from_utf8_lossy(author.name_bytes()),
    )
}

/// Whether `commit` changed `path` (a file or directory): its tree entry
/// differs from that of every parent (or exists, for a root commit).
fn touches(commit: &Commit<'_>, path: &str) -> Result<bool, ToolError> {
    let mine = entry_id(commit, path)?;
    if commit.parent_count() == 0 {
        return Ok(mine.is_some());
    }
    for parent in commit.parents() {
        if entry_id(&parent, path)? == mine {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The id of the blob or tree at `path` in `commit`'s tree.
fn entry_id(commit: &Commit<'_>, path: &str) -> Result<Option<Oid>, ToolError> {
    let tree = commit
        .tree()
        .map_err(|e| git_failed("cannot read a commit's tree", &e))?;
    match tree.get_path(Path::new(path)) {
        Ok(entry) => Ok(Some(entry.id())),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_failed("cannot read a commit's tree", &e)),
    }
}
