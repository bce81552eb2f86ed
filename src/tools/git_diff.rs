//! `git_diff`: unified patch text of the working tree, the index or two
//! revisions, with a stat block first so the model sees the size and shape
//! of the change before (and even when the cap cuts) the patch.

use git2::{Diff, Tree};
use serde::Deserialize;

use super::support::git::patch::{self, PATCH_BUDGET};
use super::support::git::{self, GitRepo, git_failed};
use super::{SpillArea, Tool, ToolContext, ToolError, ToolOutput, run_blocking_cancellable};
use crate::workspace::Workspace;

pub struct GitDiff;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    staged: Option<bool>,
    base: Option<String>,
    target: Option<String>,
    path: Option<String>,
}

/// What is compared with what.
enum Mode {
    /// Working tree vs index: what `git_commit` without paths would stage.
    Unstaged,
    /// Index vs HEAD: what is already staged.
    Staged,
    /// Working tree vs a revision.
    BaseToWorktree(String),
    /// Index vs a revision.
    BaseToIndex(String),
    /// One revision vs another.
    BaseToTarget(String, String),
}

impl Tool for GitDiff {
    const NAME: &'static str = "git_diff";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let invalid = |problem: &str| ToolError::invalid(Self::NAME, problem);
        git::check_opt_arg(Self::NAME, "`base`", args.base.as_deref())?;
        git::check_opt_arg(Self::NAME, "`target`", args.target.as_deref())?;
        git::check_opt_arg(Self::NAME, "`path`", args.path.as_deref())?;
        let staged = args.staged.unwrap_or(false);
        let mode = match (args.base, args.target, staged) {
            (None, Some(_), _) => {
                return Err(invalid(
                    "`target` needs a `base` to compare with; to see what one commit changed, call git_show with that revision",
                ));
            }
            (Some(_), Some(_), true) => {
                return Err(invalid(
                    "`staged` compares the index and cannot be combined with `target`; leave one out",
                ));
            }
            (Some(base), Some(target), false) => Mode::BaseToTarget(base, target),
            (Some(base), None, true) => Mode::BaseToIndex(base),
            (Some(base), None, false) => Mode::BaseToWorktree(base),
            (None, None, true) => Mode::Staged,
            (None, None, false) => Mode::Unstaged,
        };
        let ws = ctx.workspace.clone();
        let path = args.path;
        let spill = ctx.spill.clone();
        run_blocking_cancellable(ctx, move || {
            let git = git::open(&ws)?;
            diff(&git, &ws, &mode, path.as_deref(), &spill)
        })
        .await
    }
}

fn diff(
    git: &GitRepo,
    ws: &Workspace,
    mode: &Mode,
    path: Option<&str>,
    spill: &SpillArea,
) -> Result<ToolOutput, ToolError> {
    let repo = &git.repo;
    let pathspec = match path {
        Some(p) => git.resolve_path(ws, p)?,
        None => git.scope().unwrap_or_default().to_string(),
    };
    let mut opts = patch::options(Some(&pathspec));
    let tree = |spec: &str| -> Result<Tree<'_>, ToolError> {
        let object = git.revision(ws, spec)?;
        object.peel_to_tree().map_err(|_| {
            ToolError::Failed(format!(
                "`{spec}` names a {}, not a commit or tree; git_diff compares commits (use git_show to see a file's content)",
                object.kind().map_or("git object", |k| k.str())
            ))
        })
    };
    let failed = |e: git2::Error| git_failed("cannot compute the diff", &e);
    let (mut diff, what): (Diff<'_>, String) = match mode {
        Mode::Unstaged => (
            repo.diff_index_to_workdir(None, Some(&mut opts))
                .map_err(failed)?,
            "Unstaged changes (working tree vs index)".into(),
        ),
        Mode::Staged => {
            let head = git.head_tree()?;
            (
                repo.diff_tree_to_index(head.as_ref(), None, Some(&mut opts))
                    .map_err(failed)?,
                "Staged changes (index vs HEAD)".into(),
            )
        }
        Mode::BaseToWorktree(base) => (
            repo.diff_tree_to_workdir_with_index(Some(&tree(base)?), Some(&mut opts))
                .map_err(failed)?,
            format!("Changes from `{base}` to the working tree"),
        ),
        Mode::BaseToIndex(base) => (
            repo.diff_tree_to_index(Some(&tree(base)?), None, Some(&mut opts))
                .map_err(failed)?,
            format!("Changes from `{base}` to the index (staged)"),
        ),
        Mode::BaseToTarget(base, target) => (
            repo.diff_tree_to_tree(Some(&tree(base)?), Some(&tree(target)?), Some(&mut opts))
                .map_err(failed)?,
            format!("Changes from `{base}` to `{target}`"),
        ),
    };
    patch::detect_renames(&mut diff)?;
    let what = match path {
        Some(p) => format!("{what} in `{p}`"),
        None => what,
    };
    let mut rendered = patch::render_spilling(
        &diff,
        git,
        PATCH_BUDGET,
        "call git_diff again with the same arguments and `path` set to one of the files listed above to see its part",
        Some((spill, GitDiff::NAME)),
    )?;

    let mut out = String::new();
    if let Some(note) = git.scope_note() {
        out.push_str(&note);
        out.push('\n');
    }
    if rendered.is_empty() {
        let mut chars = what.chars();
        let what = match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        };
        out.push_str(&format!("No {what}."));
        if matches!(mode, Mode::Unstaged) {
            out.push_str(
                " Staged changes are shown with staged=true; untracked files are never diffed (git_status lists them).",
            );
        }
        return Ok(ToolOutput {
            content: out,
            summary: "no changes".into(),
        });
    }
    out.push_str(&format!("{what}:\n{}\n\n", rendered.stat));
    let note = rendered.spill(spill, GitDiff::NAME, &out);
    // Before the patch, so its `[... N more lines ...]` marker stays last.
    if let Some(note) = note {
        out.push_str(&note);
        out.push_str("\n\n");
    }
    out.push_str(&rendered.patch);
    Ok(ToolOutput {
        content: out,
        summary: rendered.totals(),
    })
}
