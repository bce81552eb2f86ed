//! `git_status`: the branch, its upstream, and the staged, unstaged,
//! untracked and conflicted files of the workspace.
//!
//! Groups follow what the other git tools do with them, so the model can
//! tell at a glance what `git_commit` will commit and what `git_diff`
//! shows. Ignored files are left out, and untracked directories are shown
//! as one `dir/` entry, as `git status` does, so a build directory that is
//! not ignored cannot flood the output.

use git2::{BranchType, ErrorCode, RepositoryState, Status, StatusOptions};
use serde::Deserialize;

use super::support::git::{self, GitRepo, git_failed, plural};
use super::{Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable};

/// Entries listed per group before the rest are only counted.
const MAX_GROUP_ENTRIES: usize = 200;

pub struct GitStatus;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {}

impl Tool for GitStatus {
    const NAME: &'static str = "git_status";
    type Args = Args;

    async fn run(&self, _args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace.clone();
        run_blocking_cancellable(ctx, move || {
            let git = git::open(&ws)?;
            status(&git)
        })
        .await
    }
}

/// The files of one group, as `(kind, path)`; kind is empty for untracked
/// and conflicted files.
#[derive(Default)]
struct Group {
    entries: Vec<(&'static str, String)>,
}

impl Group {
    fn render(&self, title: &str, more_hint: &str, out: &mut String) {
        if self.entries.is_empty() {
            return;
        }
        out.push_str(title);
        out.push('\n');
        for (kind, path) in self.entries.iter().take(MAX_GROUP_ENTRIES) {
            if kind.is_empty() {
                out.push_str(&format!("  {path}\n"));
            } else {
                out.push_str(&format!("  {:<12}{path}\n", format!("{kind}:")));
            }
        }
        if self.entries.len() > MAX_GROUP_ENTRIES {
            out.push_str(&format!(
                "  [... {} more entries; {more_hint}]\n",
                self.entries.len() - MAX_GROUP_ENTRIES
            ));
        }
        out.push('\n');
    }
}

fn status(git: &GitRepo) -> Result<ToolOutput, ToolError> {
    let repo = &git.repo;
    let mut out = String::new();
    let branch = branch_lines(git, &mut out)?;

    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .renames_head_to_index(true);
    if let Some(scope) = git.scope() {
        opts.pathspec(scope).disable_pathspec_match(true);
    }
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(|e| git_failed("cannot read the git status", &e))?;

    let mut staged = Group::default();
    let mut unstaged = Group::default();
    let mut untracked = Group::default();
    let mut conflicted = Group::default();
    for entry in statuses.iter() {
        let s = entry.status();
        let path = git.display(&String::from_utf8_lossy(entry.path_bytes()));
        if s.is_conflicted() {
            conflicted.entries.push(("", path));
            continue;
        }
        if s.is_index_renamed() {
            let delta = entry.head_to_index();
            let name = |f: Option<git2::DiffFile<'_>>| {
                f.and_then(|f| {
                    f.path_bytes()
                        .map(|p| git.display(&String::from_utf8_lossy(p)))
                })
                .unwrap_or_default()
            };
            let from = name(delta.as_ref().map(|d| d.old_file()));
            let to = name(delta.as_ref().map(|d| d.new_file()));
            staged.entries.push(("renamed", format!("{from} -> {to}")));
        } else if let Some(kind) = index_kind(s) {
            staged.entries.push((kind, path.clone()));
        }
        if s.is_wt_new() {
            untracked.entries.push(("", path));
        } else if let Some(kind) = worktree_kind(s) {
            unstaged.entries.push((kind, path));
        }
    }

    if let Some(note) = git.scope_note() {
        out.push_str(&note);
        out.push('\n');
    }
    let counts = [
        (staged.entries.len(), "staged"),
        (unstaged.entries.len(), "unstaged"),
        (untracked.entries.len(), "untracked"),
        (conflicted.entries.len(), "conflicted"),
    ];
    if counts.iter().all(|(n, _)| *n == 0) {
        out.push_str("Nothing to commit: the working tree is clean.");
        return Ok(ToolOutput {
            content: out,
            summary: format!("{branch}: clean"),
        });
    }
    out.push('\n');
    conflicted.render(
        "Conflicted (resolve the markers, then commit them with git_commit paths):",
        "use the shell tool (`git status`) to list them all",
        &mut out,
    );
    staged.render(
        "Staged changes (git_commit commits these; git_diff staged=true shows them):",
        "use git_diff staged=true with a path to look at a part",
        &mut out,
    );
    unstaged.render(
        "Unstaged changes (git_diff shows them; git_commit without paths stages and commits them):",
        "use git_diff with a path to look at a part",
        &mut out,
    );
    untracked.render(
        "Untracked files (git_commit adds them only when named in paths):",
        "use list_dir to look inside",
        &mut out,
    );
    let summary = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(ToolOutput {
        content: out.trim_end().to_string(),
        summary: format!("{branch}: {summary}"),
    })
}

fn index_kind(s: Status) -> Option<&'static str> {
    if s.is_index_new() {
        Some("new")
    } else if s.is_index_modified() {
        Some("modified")
    } else if s.is_index_deleted() {
        Some("deleted")
    } else if s.is_index_typechange() {
        Some("typechange")
    } else {
        None
    }
}

fn worktree_kind(s: Status) -> Option<&'static str> {
    if s.is_wt_modified() {
        Some("modified")
    } else if s.is_wt_deleted() {
        Some("deleted")
    } else if s.is_wt_typechange() {
        Some("typechange")
    } else if s.is_wt_renamed() {
        Some("renamed")
    } else {
        None
    }
}

/// Writes the branch line (and the upstream and operation lines when they
/// apply); returns a short branch label for the summary.
fn branch_lines(git: &GitRepo, out: &mut String) -> Result<String, ToolError> {
    let repo = &git.repo;
    let label = match repo.head() {
        Err(e) if e.code() == ErrorCode::UnbornBranch => {
            let name = git.branch_name().unwrap_or_else(|| "HEAD".into());
            out.push_str(&format!("On branch {name} (no commits yet)\n"));
            name
        }
        Err(e) => return Err(git_failed("cannot read HEAD", &e)),
        Ok(head) if head.is_branch() => {
            let name = String::from_utf8_lossy(head.shorthand_bytes()).into_owned();
            out.push_str(&format!("On branch {name}\n"));
            if let Some(line) = upstream_line(git, &name, head.target()) {
                out.push_str(&line);
                out.push('\n');
            }
            name
        }
        Ok(head) => {
            let short = head
                .target()
                .map(|oid| git.short(oid))
                .unwrap_or_else(|| "?".into());
            out.push_str(&format!("HEAD detached at {short}\n"));
            format!("detached at {short}")
        }
    };
    let operation = match repo.state() {
        RepositoryState::Clean => None,
        RepositoryState::Merge => Some("a merge"),
        RepositoryState::Revert | RepositoryState::RevertSequence => Some("a revert"),
        RepositoryState::CherryPick | RepositoryState::CherryPickSequence => Some("a cherry-pick"),
        RepositoryState::Bisect => Some("a bisect"),
        RepositoryState::Rebase
        | RepositoryState::RebaseInteractive
        | RepositoryState::RebaseMerge => Some("a rebase"),
        RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => Some("a `git am`"),
    };
    if let Some(operation) = operation {
        out.push_str(&format!(
            "{} is in progress (finish or abort it with the shell tool).\n",
            capitalise(operation)
        ));
    }
    Ok(label)
}

/// `Upstream origin/main: 2 ahead, 1 behind.`, or `None` without an
/// upstream (or when it cannot be read, which is not worth failing for).
fn upstream_line(git: &GitRepo, name: &str, local: Option<git2::Oid>) -> Option<String> {
    let repo = &git.repo;
    let branch = repo.find_branch(name, BranchType::Local).ok()?;
    let upstream = branch.upstream().ok()?;
    let upstream_name = String::from_utf8_lossy(upstream.name_bytes().ok()?).into_owned();
    let (local, remote) = (local?, upstream.get().target()?);
    let (ahead, behind) = repo.graph_ahead_behind(local, remote).ok()?;
    Some(if ahead == 0 && behind == 0 {
        format!("Up to date with {upstream_name}.")
    } else {
        format!(
            "Upstream {upstream_name}: {} ahead, {} behind.",
            plural(ahead, "commit", "commits"),
            plural(behind, "commit", "commits")
        )
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
