//! `git_show`: a commit's header, message and patch; or what another kind
//! of object holds (a tag's message and target, a tree's entries, a
//! blob's text), so any revision the model names gets a useful answer.

use git2::{Blob, Commit, ObjectType, Tag, Tree};
use serde::Deserialize;

use super::support::git::patch::{self, PATCH_BUDGET};
use super::support::git::{self, GitRepo, format_time, git_failed, person};
use super::{
    MAX_OUTPUT_BYTES, SpillArea, Tool, ToolContext, ToolError, ToolOutput,
    run_blocking_cancellable, truncate_output,
};
use crate::workspace::Workspace;

/// Bytes of a commit or tag message shown before it is cut, so a long
/// message leaves room for the patch.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// Tree entries listed before the rest are only counted.
const MAX_TREE_ENTRIES: usize = 500;
/// How much of a blob is searched for a NUL byte to call it binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

pub struct GitShow;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    revision: Option<String>,
    path: Option<String>,
}

impl Tool for GitShow {
    const NAME: &'static str = "git_show";
    type Args = Args;

    async fn run(&self, args: Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        git::check_opt_arg(Self::NAME, "`revision`", args.revision.as_deref())?;
        git::check_opt_arg(Self::NAME, "`path`", args.path.as_deref())?;
        let ws = ctx.workspace.clone();
        let spill = ctx.spill.clone();
        run_blocking_cancellable(ctx, move || {
            let git = git::open(&ws)?;
            let spec = args.revision.as_deref().unwrap_or("HEAD");
            show(&git, &ws, spec, args.path.as_deref(), &spill)
        })
        .await
    }
}

fn show(
    git: &GitRepo,
    ws: &Workspace,
    spec: &str,
    path: Option<&str>,
    spill: &SpillArea,
) -> Result<ToolOutput, ToolError> {
    if spec.trim() == "HEAD" && git.head_commit()?.is_none() {
        return Err(ToolError::Failed(
            "the repository has no commits yet, so there is no HEAD to show; git_status shows what is staged".into(),
        ));
    }
    let object = git.revision(ws, spec)?;
    let mut out = String::new();
    let target = match object.kind() {
        Some(ObjectType::Tag) => match object.as_tag() {
            Some(tag) => {
                tag_header(git, tag, &mut out);
                tag.target()
                    .map_err(|e| git_failed("cannot read the tag's target", &e))?
            }
            None => object,
        },
        _ => object,
    };
    if let Some(commit) = target.as_commit() {
        return show_commit(git, ws, commit, path, out, spill);
    }
    if path.is_some() {
        return Err(ToolError::InvalidArguments(format!(
            "Invalid arguments for git_show: `path` limits a commit's patch, but `{spec}` is not a commit; leave `path` out, or name a file as REV:PATH."
        )));
    }
    if let Some(tree) = target.as_tree() {
        show_tree(git, spec, tree, &mut out);
        return Ok(ToolOutput {
            content: out.trim_end().to_string(),
            summary: format!("tree {spec}, {} entries", tree.len()),
        });
    }
    if let Some(blob) = target.as_blob() {
        let summary = show_blob(git, spec, blob, &mut out);
        return Ok(ToolOutput {
            content: out,
            summary,
        });
    }
    Err(ToolError::Failed(format!(
        "`{spec}` names a git object git_show cannot display; give a commit, tag, tree or REV:PATH"
    )))
}

fn tag_header(git: &GitRepo, tag: &Tag<'_>, out: &mut String) {
    out.push_str(&format!(
        "tag {}\n",
        String::from_utf8_lossy(tag.name_bytes())
    ));
    if let Some(tagger) = tag.tagger() {
        out.push_str(&format!(
            "Tagger: {}\nDate:   {}\n",
            person(&tagger),
            format_time(tagger.when())
        ));
    }
    let message = tag
        .message_bytes()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    out.push('\n');
    out.push_str(&indented(&message));
    out.push_str(&format!(
        "\n(the tag points to {})\n\n",
        git.short(tag.target_id())
    ));
}

fn show_commit(
    git: &GitRepo,
    ws: &Workspace,
    commit: &Commit<'_>,
    path: Option<&str>,
    mut out: String,
    spill: &SpillArea,
) -> Result<ToolOutput, ToolError> {
    let author = commit.author();
    out.push_str(&format!("commit {}\n", commit.id()));
    if commit.parent_count() > 1 {
        let parents: Vec<String> = commit.parent_ids().map(|id| git.short(id)).collect();
        out.push_str(&format!("Merge: {}\n", parents.join(" ")));
    }
    out.push_str(&format!(
        "Author: {}\nDate:   {}\n",
        person(&author),
        format_time(author.when())
    ));
    let committer = commit.committer();
    if committer.name_bytes() != author.name_bytes()
        || committer.email_bytes() != author.email_bytes()
    {
        out.push_str(&format!("Commit: {}\n", person(&committer)));
    }
    out.push('\n');
    out.push_str(&indented(&String::from_utf8_lossy(commit.message_bytes())));

    let pathspec = match path {
        Some(p) => git.resolve_path(ws, p)?,
        None => git.scope().unwrap_or_default().to_string(),
    };
    let failed = |e: git2::Error| git_failed("cannot compute the commit's diff", &e);
    let tree = commit.tree().map_err(failed)?;
    let parent_tree = match commit.parent(0) {
        Ok(parent) => Some(parent.tree().map_err(failed)?),
        Err(_) if commit.parent_count() == 0 => None,
        Err(e) => return Err(failed(e)),
    };
    let mut opts = patch::options(Some(&pathspec));
    let mut diff = git
        .repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
        .map_err(failed)?;
    patch::detect_renames(&mut diff)?;
    let mut rendered = patch::render_spilling(
        &diff,
        git,
        PATCH_BUDGET,
        "call git_show again with `path` set to one of the files listed above to see its part",
        Some((spill, GitShow::NAME)),
    )?;

    let short = git.short(commit.id());
    let against = match commit.parent_count() {
        0 => "the root commit: everything is new".to_string(),
        1 => String::new(),
        _ => format!(
            "a merge: the diff is against its first parent {}",
            git.short(commit.parent_id(0).map_err(failed)?)
        ),
    };
    if !against.is_empty() {
        out.push_str(&format!("({against})\n"));
    }
    if let Some(note) = git.scope_note() {
        out.push_str(&note);
        out.push('\n');
    }
    let within = path.map(|p| format!(" in `{p}`")).unwrap_or_default();
    if rendered.is_empty() {
        out.push_str(&format!("(no changes{within})"));
    } else {
        out.push_str(&format!("\n{}\n\n", rendered.stat));
        let note = rendered.spill(spill, GitShow::NAME, &out);
        // Before the patch, so its `[... N more lines ...]` marker stays last.
        if let Some(note) = note {
            out.push_str(&note);
            out.push_str("\n\n");
        }
        out.push_str(&rendered.patch);
    }
    let subject = commit
        .summary_bytes()
        .map(|s| crate::tools::one_line(&String::from_utf8_lossy(s), 60))
        .unwrap_or_default();
    Ok(ToolOutput {
        content: out,
        summary: format!("{short} {subject}: {}{within}", rendered.totals()),
    })
}

/// A message indented by four spaces, as `git show` prints it, and cut to
/// [`MAX_MESSAGE_BYTES`].
fn indented(message: &str) -> String {
    let message = truncate_output(message.trim_end(), MAX_MESSAGE_BYTES);
    message
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn show_tree(git: &GitRepo, spec: &str, tree: &Tree<'_>, out: &mut String) {
    out.push_str(&format!("tree {spec} ({})\n\n", git.short(tree.id())));
    for entry in tree.iter().take(MAX_TREE_ENTRIES) {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let slash = if entry.kind() == Some(ObjectType::Tree) {
            "/"
        } else {
            ""
        };
        out.push_str(&format!("{name}{slash}\n"));
    }
    if tree.len() > MAX_TREE_ENTRIES {
        out.push_str(&format!(
            "[... {} more entries; name a subdirectory as REV:DIR to look inside]\n",
            tree.len() - MAX_TREE_ENTRIES
        ));
    }
}

/// Writes a blob's text (or a note that it is binary); returns the summary.
fn show_blob(git: &GitRepo, spec: &str, blob: &Blob<'_>, out: &mut String) -> String {
    let content = blob.content();
    let size = content.len();
    let sniff = &content[..size.min(BINARY_SNIFF_BYTES)];
    let text = match std::str::from_utf8(content) {
        Ok(text) if !sniff.contains(&0) => text,
        _ => {
            out.push_str(&format!(
                "`{spec}` is a binary blob ({size} bytes, {}); its content is not shown",
                git.short(blob.id())
            ));
            return format!("{spec}: binary blob, {size} bytes");
        }
    };
    let header = format!("blob {spec} ({size} bytes, {})\n\n", git.short(blob.id()));
    out.push_str(&header);
    let budget = MAX_OUTPUT_BYTES
        .saturating_sub(header.len() + 200)
        .max(1024);
    let body = truncate_output(text, budget);
    if body.len() < text.len() {
        out.push_str(&body);
        out.push_str(" (only the start of this version is shown; read_file pages through the working tree's copy)");
    } else {
        out.push_str(text);
    }
    format!("{spec}: blob, {size} bytes")
}
