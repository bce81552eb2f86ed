//! `git_commit`: stage the named paths (or every change to tracked files)
//! and commit the index on the current branch.
//!
//! Everything is checked before the index is written, so a refused commit
//! (no identity, nothing to commit, unresolved conflicts, a bad path)
//! leaves the repository exactly as it was. The commit uses the identity
//! git is configured with and never invents one. libgit2 runs no hooks and
//! does not sign commits.

use std::path::Path;

use git2::{Index, IndexAddOption, RepositoryState, StatusOptions};
use serde::Deserialize;

use super::support::git::patch;
use super::support::git::{self, GitRepo, git_failed, identity, plural};
use super::{Tool, ToolContext, ToolError, ToolOutput, one_line, run_blocking};
use crate::workspace::Workspace;

/// Conflicted paths named in a refusal before the rest are only counted.
const MAX_CONFLICTS_LISTED: usize = 10;

pub struct GitCommit;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    message: String,
    paths: Option<Vec<String>>,
}

impl Tool for GitCommit {
    const NAME: &'static str = "git_commit";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if args.message.trim().is_empty() {
            return Err(ToolError::InvalidArguments(
                "Invalid arguments for git_commit: `message` is empty; give a commit message (a short subject line, then optionally a blank line and a body).".into(),
            ));
        }
        git::check_arg(Self::NAME, "`message`", &args.message)?;
        for (i, path) in args.paths.iter().flatten().enumerate() {
            git::check_arg(Self::NAME, &format!("`paths[{i}]`"), path)?;
        }
        let paths = args.paths.filter(|p| !p.is_empty());
        let ws = ctx.workspace.clone();
        // Not cancellable: once the commit is written, the model must be
        // told so.
        run_blocking(move || {
            let git = git::open(&ws)?;
            commit(&git, &ws, &args.message, paths.as_deref())
        })
        .await
    }
}

fn commit(
    git: &GitRepo,
    ws: &Workspace,
    message: &str,
    paths: Option<&[String]>,
) -> Result<ToolOutput, ToolError> {
    let repo = &git.repo;
    if repo.state() != RepositoryState::Clean {
        return Err(ToolError::Failed(format!(
            "the repository is in the middle of an operation ({:?}); git_commit makes only ordinary commits, so finish it with the shell tool",
            repo.state()
        )));
    }
    let config = repo
        .config()
        .map_err(|e| git_failed("cannot read the git configuration", &e))?;
    let signature = identity(&config)?;
    let message = git2::message_prettify(message, None)
        .map_err(|e| git_failed("cannot use the commit message", &e))?;

    let mut index = repo
        .index()
        .map_err(|e| git_failed("cannot read the git index", &e))?;
    let failed = |e: git2::Error| git_failed("cannot stage the changes", &e);
    match paths {
        Some(paths) => {
            for path in paths {
                stage_path(git, ws, &mut index, path)?;
            }
        }
        None => {
            // `git commit -a`: every change to tracked files in the
            // workspace, nothing untracked.
            let scope: Vec<&str> = git.scope().into_iter().collect();
            index.update_all(scope, None).map_err(failed)?;
        }
    }
    if index.has_conflicts() {
        return Err(conflicts_error(git, &index));
    }

    let tree_id = index.write_tree().map_err(failed)?;
    let parent = git.head_commit()?;
    let parent_tree = git.head_tree()?;
    let unchanged = match &parent_tree {
        Some(tree) => tree.id() == tree_id,
        None => index.is_empty(),
    };
    if unchanged {
        return Err(nothing_to_commit(git, paths));
    }
    index
        .write()
        .map_err(|e| git_failed("cannot write the git index", &e))?;

    let tree = repo
        .find_tree(tree_id)
        .map_err(|e| git_failed("cannot read the staged tree", &e))?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            &message,
            &tree,
            &parents,
        )
        .map_err(|e| {
            git_failed(
                "the changes were staged, but the commit failed (git_status shows them)",
                &e,
            )
        })?;

    // What the commit changed inside the workspace; paths outside it are
    // only counted (the user may have staged them before).
    let diff = repo
        .diff_tree_to_tree(
            parent_tree.as_ref(),
            Some(&tree),
            Some(&mut patch::options(git.scope())),
        )
        .and_then(|mut d| {
            let mut find = git2::DiffFindOptions::new();
            find.renames(true);
            d.find_similar(Some(&mut find)).map(|()| d)
        });
    let stat = match diff {
        Ok(diff) => patch::render(&diff, git, 0, "")?.stat,
        Err(_) => String::new(),
    };
    let short = git.short(oid);
    let subject = one_line(&message, 72);
    let branch = match repo.head() {
        Ok(head) if head.is_branch() => {
            String::from_utf8_lossy(head.shorthand_bytes()).into_owned()
        }
        _ => "detached HEAD".into(),
    };
    let root = if parent.is_none() {
        " (root-commit)"
    } else {
        ""
    };
    let mut content = format!("[{branch}{root} {short}] {subject}\n{stat}");
    let outside = changed_outside(git, parent_tree.as_ref(), &tree);
    if outside > 0 {
        content.push_str(&format!(
            "\n(The commit also includes {} outside the workspace that were already staged.)",
            plural(outside, "file", "files")
        ));
    }
    if paths.is_none() {
        let untracked = count_untracked(git);
        if untracked > 0 {
            content.push_str(&format!(
                "\n({} not committed; name them in `paths` to add them)",
                plural(untracked, "untracked entry was", "untracked entries were")
            ));
        }
    }
    Ok(ToolOutput {
        content,
        summary: format!("committed {short}: {}", one_line(&message, 60)),
    })
}

/// Stages one model-given path: a new or changed file, a deletion, or
/// everything under a directory.
fn stage_path(
    git: &GitRepo,
    ws: &Workspace,
    index: &mut Index,
    path: &str,
) -> Result<(), ToolError> {
    let repo_path = git.resolve_path(ws, path)?;
    let failed = |e: git2::Error| git_failed(&format!("cannot stage `{path}`"), &e);
    if repo_path.is_empty() {
        // The whole working tree.
        index
            .add_all(["*"], IndexAddOption::DEFAULT, None)
            .map_err(failed)?;
        return index.update_all(["*"], None).map_err(failed);
    }
    let on_disk = repo_path_on_disk(git, &repo_path);
    let exists = on_disk
        .as_deref()
        .is_some_and(|p| std::fs::symlink_metadata(p).is_ok());
    let tracked = is_tracked(index, &repo_path);
    if !exists && !tracked {
        return Err(ToolError::Failed(format!(
            "`{path}` does not exist and is not tracked by git, so there is nothing to stage; check the path with git_status"
        )));
    }
    let is_dir = on_disk.as_deref().is_some_and(Path::is_dir);
    // Ignore-rule errors count as not ignored; the add itself then decides.
    let ignored = git.repo.is_path_ignored(&repo_path).unwrap_or(false);
    if exists && !tracked && !is_dir && ignored {
        return Err(ToolError::Failed(format!(
            "`{path}` is ignored by git (.gitignore), so git_commit does not add it; use the shell tool (`git add -f`) if it really belongs in the repository"
        )));
    }
    index
        .add_all(
            [repo_path.as_str()],
            IndexAddOption::DEFAULT | IndexAddOption::DISABLE_PATHSPEC_MATCH,
            None,
        )
        .map_err(failed)?;
    // Deletions: `add_all` only adds what exists.
    index.update_all([repo_path.as_str()], None).map_err(failed)
}

/// Where a repository path lies on disk.
fn repo_path_on_disk(git: &GitRepo, repo_path: &str) -> Option<std::path::PathBuf> {
    git.repo.workdir().map(|dir| dir.join(repo_path))
}

/// Whether the index has `repo_path` (at any stage) or anything under it.
fn is_tracked(index: &Index, repo_path: &str) -> bool {
    if (0..=3).any(|stage| index.get_path(Path::new(repo_path), stage).is_some()) {
        return true;
    }
    let dir = format!("{repo_path}/");
    index
        .iter()
        .any(|entry| entry.path.starts_with(dir.as_bytes()))
}

/// The refusal when the index still has conflicts.
fn conflicts_error(git: &GitRepo, index: &Index) -> ToolError {
    let mut paths: Vec<String> = Vec::new();
    if let Ok(conflicts) = index.conflicts() {
        for conflict in conflicts.flatten() {
            let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
            if let Some(entry) = entry {
                paths.push(git.display(&String::from_utf8_lossy(&entry.path)));
            }
        }
    }
    let total = paths.len();
    let mut listed: Vec<String> = paths
        .into_iter()
        .take(MAX_CONFLICTS_LISTED)
        .map(|p| format!("`{p}`"))
        .collect();
    if total > MAX_CONFLICTS_LISTED {
        listed.push(format!("and {} more", total - MAX_CONFLICTS_LISTED));
    }
    ToolError::Failed(format!(
        "the index has unresolved conflicts in {}; resolve the conflict markers, then name those files in `paths` to mark them resolved",
        listed.join(", ")
    ))
}

/// The refusal when the commit would change nothing.
fn nothing_to_commit(git: &GitRepo, paths: Option<&[String]>) -> ToolError {
    let untracked = count_untracked(git);
    let hint = if paths.is_some() {
        "the named paths have no changes and nothing else is staged; git_status shows what changed"
            .to_string()
    } else if untracked > 0 {
        format!(
            "no changes to tracked files and nothing staged ({} not included; name them in `paths` to add them)",
            plural(untracked, "untracked entry is", "untracked entries are")
        )
    } else {
        "no changes to tracked files and nothing staged; the working tree is clean".to_string()
    };
    ToolError::Failed(format!("nothing to commit: {hint}"))
}

/// Untracked entries in the workspace (directories count once), or 0 when
/// the status cannot be read; only used for hints.
fn count_untracked(git: &GitRepo) -> usize {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false);
    if let Some(scope) = git.scope() {
        opts.pathspec(scope).disable_pathspec_match(true);
    }
    git.repo
        .statuses(Some(&mut opts))
        .map(|s| s.iter().filter(|e| e.status().is_wt_new()).count())
        .unwrap_or(0)
}

/// Files the commit changed outside the workspace (0 when the workspace is
/// the whole working tree, or when the diff cannot be computed: this only
/// feeds a note).
fn changed_outside(git: &GitRepo, old: Option<&git2::Tree<'_>>, new: &git2::Tree<'_>) -> usize {
    let Some(scope) = git.scope() else {
        return 0;
    };
    let Ok(diff) = git.repo.diff_tree_to_tree(old, Some(new), None) else {
        return 0;
    };
    let inside = format!("{scope}/");
    diff.deltas()
        .filter(|d| {
            let path = d.new_file().path_bytes().or(d.old_file().path_bytes());
            !path.is_some_and(|p| p.starts_with(inside.as_bytes()) || p == scope.as_bytes())
        })
        .count()
}
