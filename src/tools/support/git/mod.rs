//! Helpers shared by the git tools: opening the repository that holds the
//! workspace, turning model-given paths and revisions into repository terms,
//! and one-line error messages.
//!
//! The workspace may be a subdirectory of the repository. Git speaks in
//! paths relative to the repository's top directory, the model in paths
//! relative to the workspace root, so every path crosses [`GitRepo`] on the
//! way in ([`GitRepo::resolve_path`]) and on the way out
//! ([`GitRepo::display`]). What the tools show of the working tree and its
//! changes is limited to the workspace, because no tool may read outside it.

pub mod patch;

use std::path::{Component, Path, PathBuf};

use git2::{
    Commit, Config, ErrorCode, Object, ObjectType, Oid, Repository, Signature, Tree, TreeWalkMode,
    TreeWalkResult,
};

use crate::tools::{ToolError, one_line};
use crate::workspace::{Workspace, WorkspaceError, normalize};

/// The repository containing the workspace, with where the workspace lies
/// inside it.
pub struct GitRepo {
    pub repo: Repository,
    /// The workspace root relative to the repository's working directory,
    /// `/`-separated, without a trailing slash; empty when the workspace is
    /// the top of the working tree.
    prefix: String,
    /// The canonical workspace root.
    root: PathBuf,
}

/// A one-line failure for a git2 error: `{what}: {git's message}`.
pub fn git_failed(what: &str, e: &git2::Error) -> ToolError {
    ToolError::Failed(format!("{what}: {}", one_line(e.message().trim(), 300)))
}

/// Refuses an argument git cannot hold before it reaches libgit2: a NUL
/// byte ends a C string (git2 panics on one in a pathspec). `what` names the
/// argument, e.g. `` `path` `` or `` `paths[2]` ``.
pub fn check_arg(tool: &str, what: &str, value: &str) -> Result<(), ToolError> {
    if value.contains('\0') {
        return Err(ToolError::invalid(
            tool,
            format!(
                "{what} contains a NUL byte, which no git path, revision or message can hold; give it without that character"
            ),
        ));
    }
    Ok(())
}

/// [`check_arg`] for an optional argument.
pub fn check_opt_arg(tool: &str, what: &str, value: Option<&str>) -> Result<(), ToolError> {
    value.map_or(Ok(()), |v| check_arg(tool, what, v))
}

/// Opens the repository that contains the workspace root, searching upwards
/// like `git` does.
pub fn open(ws: &Workspace) -> Result<GitRepo, ToolError> {
    let root = ws.root().to_path_buf();
    let shown = root.display();
    let repo = match Repository::discover(&root) {
        Ok(repo) => repo,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(ToolError::Failed(format!(
                "`{shown}` is not inside a git repository; run `git init` first or use the shell tool"
            )));
        }
        Err(e) if e.code() == ErrorCode::Owner => {
            return Err(ToolError::Failed(format!(
                "git refuses to open the repository containing `{shown}` because another user owns it; add it to git's `safe.directory` setting if you trust it"
            )));
        }
        Err(e) => {
            return Err(git_failed(
                &format!("cannot open the git repository containing `{shown}`"),
                &e,
            ));
        }
    };
    let Some(workdir) = repo.workdir() else {
        return Err(ToolError::Failed(format!(
            "`{shown}` is inside a bare git repository, which has no working tree; the git tools need a checkout"
        )));
    };
    let workdir = std::fs::canonicalize(workdir).map_err(|e| {
        ToolError::Failed(format!(
            "cannot resolve the working directory of the git repository containing `{shown}`: {e}"
        ))
    })?;
    let Ok(rel) = root.strip_prefix(&workdir) else {
        return Err(ToolError::Failed(format!(
            "`{shown}` is inside the git directory of the repository at `{}`, not its working tree; use the working tree as the workspace",
            workdir.display()
        )));
    };
    let prefix = repo_path_of(rel).ok_or_else(|| {
        ToolError::Failed(format!(
            "the path of `{shown}` inside its git repository is not valid UTF-8; the git tools cannot use it"
        ))
    })?;
    Ok(GitRepo { repo, prefix, root })
}

/// `rel` (a relative path of plain names) as a `/`-separated git path;
/// `None` if a component is not UTF-8 or not a plain name.
fn repo_path_of(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

impl GitRepo {
    /// The workspace root inside the repository (`""` at the top).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pathspec limiting a listing to the workspace: `None` when the
    /// workspace is the whole working tree.
    pub fn scope(&self) -> Option<&str> {
        (!self.prefix.is_empty()).then_some(self.prefix.as_str())
    }

    /// A line saying the output is limited to the workspace, when it is a
    /// subdirectory of the repository.
    pub fn scope_note(&self) -> Option<String> {
        self.scope().map(|prefix| {
            format!(
                "(The workspace is `{prefix}/` inside the repository at `{}`; only changes under it are shown, with paths relative to the workspace.)",
                self.workdir_shown()
            )
        })
    }

    fn workdir_shown(&self) -> String {
        let mut dir = self.root.clone();
        for _ in self.prefix.split('/') {
            dir.pop();
        }
        dir.display().to_string()
    }

    /// A repository path shown relative to the workspace root: `.` for the
    /// root itself, `../x` for paths outside it.
    pub fn display(&self, repo_path: &str) -> String {
        if self.prefix.is_empty() {
            return repo_path.to_string();
        }
        let trailing = repo_path.ends_with('/');
        let path = repo_path.trim_end_matches('/');
        if path == self.prefix {
            return ".".to_string();
        }
        if let Some(rest) = path
            .strip_prefix(&self.prefix)
            .and_then(|r| r.strip_prefix('/'))
        {
            return format!("{rest}{}", if trailing { "/" } else { "" });
        }
        // Outside the workspace: climb out of the prefix as far as needed.
        let prefix: Vec<&str> = self.prefix.split('/').collect();
        let target: Vec<&str> = path.split('/').collect();
        let common = prefix
            .iter()
            .zip(&target)
            .take_while(|(a, b)| a == b)
            .count();
        let mut parts: Vec<&str> = vec![".."; prefix.len() - common];
        parts.extend(&target[common..]);
        format!("{}{}", parts.join("/"), if trailing { "/" } else { "" })
    }

    /// A model-given path (relative to the workspace root, or absolute
    /// inside it) as a repository path; `""` is the top of the repository.
    ///
    /// The path need not exist: history and deleted files are named by
    /// paths that are gone from disk. It is checked lexically to stay inside
    /// the workspace, and its existing parent directories are checked not to
    /// be symlinks: git never follows them, but libgit2 would read a file
    /// through one when staging it.
    pub fn resolve_path(&self, ws: &Workspace, path: &str) -> Result<String, ToolError> {
        let rel = lexical_rel(ws, path)?;
        if rel.components().any(|c| c.as_os_str() == ".git") {
            return Err(ToolError::Failed(format!(
                "`{path}` is inside a `.git` directory, which git manages itself; name a file of the working tree"
            )));
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            let parent_str = parent.to_str().ok_or_else(|| not_utf8(path))?;
            let resolved = ws.resolve_for_write(parent_str)?;
            if resolved != ws.root().join(parent) {
                return Err(ToolError::Failed(format!(
                    "`{path}` goes through the symlinked directory `{parent_str}`; git does not follow symlinks, so name the path the link points to"
                )));
            }
        }
        let within = repo_path_of(&rel).ok_or_else(|| not_utf8(path))?;
        Ok(self.join(&within))
    }

    /// A workspace-relative `/`-separated path as a repository path.
    fn join(&self, within: &str) -> String {
        match (self.prefix.is_empty(), within.is_empty()) {
            (true, _) => within.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{within}", self.prefix),
        }
    }

    /// Looks up a revision (`HEAD~2`, a branch, a tag, a sha, `REV:path`).
    /// In `REV:path` the path is relative to the workspace root (and must
    /// lie inside it), as every other path the model gives.
    ///
    /// When the workspace is a subdirectory of the repository, what the
    /// revision names must lie inside the workspace too: commits are
    /// accepted (their diffs are limited to the workspace by the tools),
    /// but a tree or blob only when it is addressed as `REV:path` (with REV
    /// a commit, or empty for the index) or, given by id or another
    /// expression, when it is found under the workspace in HEAD's tree;
    /// see [`GitRepo::confine`].
    pub fn revision(&self, ws: &Workspace, spec: &str) -> Result<Object<'_>, ToolError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(ToolError::Failed(
                "the revision is empty; give a branch, tag, commit sha or an expression like HEAD~1".into(),
            ));
        }
        let (translated, by_path) = self.translate_revision(ws, spec)?;
        if let Some(rev) = by_path.as_deref().filter(|r| !r.is_empty()) {
            let base = self.lookup(rev, rev)?;
            if base.peel_to_commit().is_err() && !self.prefix.is_empty() {
                return Err(ToolError::Failed(format!(
                    "in `{spec}`, `{rev}` names a {}, not a commit; in REV:PATH give a commit as REV (a branch, tag, sha or HEAD~1)",
                    base.kind().map_or("git object", |k| k.str())
                )));
            }
        }
        let object = self.lookup(&translated, spec)?;
        if by_path.is_none() {
            self.confine(spec, &object)?;
        }
        Ok(object)
    }

    /// `revparse_single`, with the tools' one-line errors about `spec`.
    fn lookup(&self, translated: &str, spec: &str) -> Result<Object<'_>, ToolError> {
        self.repo.revparse_single(translated).map_err(|e| {
            if self.repo.head().is_err_and(|h| h.code() == ErrorCode::UnbornBranch) {
                return ToolError::Failed(format!(
                    "unknown revision `{spec}`: the repository has no commits yet"
                ));
            }
            match e.code() {
                ErrorCode::NotFound | ErrorCode::InvalidSpec | ErrorCode::Ambiguous => {
                    ToolError::Failed(format!(
                        "unknown revision `{spec}` ({}); use a branch, tag, commit sha or an expression like HEAD~1 (git_log lists commits)",
                        one_line(e.message().trim(), 120)
                    ))
                }
                _ => git_failed(&format!("cannot look up revision `{spec}`"), &e),
            }
        })
    }

    /// Refuses a tree or blob that does not lie inside the workspace when the
    /// workspace is a subdirectory of the repository: such an object is
    /// shown only when it is found at or under the workspace's directory in
    /// HEAD's tree. Tags are followed to what they point to; commits pass
    /// (what the tools show of them is limited to the workspace).
    pub fn confine(&self, spec: &str, object: &Object<'_>) -> Result<(), ToolError> {
        if self.prefix.is_empty() {
            return Ok(());
        }
        let mut target = object.clone();
        // Tags of tags exist; a cycle cannot (ids are hashes of content),
        // but bound the chain anyway.
        for _ in 0..32 {
            match target.kind() {
                Some(ObjectType::Tag) => {
                    let Some(tag) = target.as_tag() else { break };
                    target = tag
                        .target()
                        .map_err(|e| git_failed("cannot read the tag's target", &e))?;
                }
                Some(ObjectType::Commit) => return Ok(()),
                Some(ObjectType::Tree | ObjectType::Blob) => {
                    if self.under_workspace_in_head(target.id())? {
                        return Ok(());
                    }
                    break;
                }
                _ => break,
            }
        }
        let kind = target.kind().map_or("git object", |k| k.str());
        Err(ToolError::Failed(format!(
            "`{spec}` names a {kind} that is not inside the workspace (`{}/` in the repository at `{}`), and the git tools show only what lies inside it; name files and directories as REV:PATH with a path relative to the workspace, e.g. `HEAD:README.md`, or `HEAD~1:` for the workspace's top directory",
            self.prefix,
            self.workdir_shown()
        )))
    }

    /// Whether `oid` is the workspace's tree in HEAD or something under it.
    fn under_workspace_in_head(&self, oid: Oid) -> Result<bool, ToolError> {
        let Some(tree) = self.head_tree()? else {
            return Ok(false);
        };
        let entry = match tree.get_path(Path::new(&self.prefix)) {
            Ok(entry) => entry,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(false),
            Err(e) => return Err(git_failed("cannot read HEAD's tree", &e)),
        };
        if entry.id() == oid {
            return Ok(true);
        }
        let Ok(sub) = self.repo.find_tree(entry.id()) else {
            return Ok(false);
        };
        let mut found = false;
        sub.walk(TreeWalkMode::PreOrder, |_, entry| {
            if entry.id() == oid {
                found = true;
                TreeWalkResult::Abort
            } else {
                TreeWalkResult::Ok
            }
        })
        .or_else(|e| if found { Ok(()) } else { Err(e) })
        .map_err(|e| git_failed("cannot read HEAD's tree", &e))?;
        Ok(found)
    }

    /// Rewrites the path part of `REV:path` (and `:path`, `:N:path`) from
    /// workspace-relative to repository-relative, and returns REV when the
    /// spec had a path part (`Some("")` for the index). `:/text` (a message
    /// search) and `@{...}` suffixes are left alone.
    fn translate_revision(
        &self,
        ws: &Workspace,
        spec: &str,
    ) -> Result<(String, Option<String>), ToolError> {
        let search_from = spec.rfind('}').map_or(0, |i| i + 1);
        let Some(colon) = spec[search_from..].find(':').map(|i| i + search_from) else {
            return Ok((spec.to_string(), None));
        };
        let (rev, mut path) = (&spec[..colon], &spec[colon + 1..]);
        if rev.is_empty() && path.starts_with('/') {
            return Ok((spec.to_string(), None));
        }
        let mut stage = String::new();
        if rev.is_empty() {
            let bytes = path.as_bytes();
            if bytes.len() >= 2 && (b'0'..=b'3').contains(&bytes[0]) && bytes[1] == b':' {
                stage = path[..2].to_string();
                path = &path[2..];
            }
        }
        let within = if path.is_empty() {
            String::new()
        } else {
            let rel = lexical_rel(ws, path)?;
            repo_path_of(&rel).ok_or_else(|| not_utf8(path))?
        };
        Ok((
            format!("{rev}:{stage}{}", self.join(&within)),
            Some(rev.to_string()),
        ))
    }

    /// The shortest unambiguous abbreviation of `oid` (at least 7 digits).
    pub fn short(&self, oid: Oid) -> String {
        self.repo
            .find_object(oid, None)
            .and_then(|o| o.short_id())
            .ok()
            .and_then(|buf| buf.as_str().ok().map(str::to_string))
            .unwrap_or_else(|| oid.to_string().chars().take(7).collect())
    }

    /// The commit HEAD points to, or `None` before the first commit.
    pub fn head_commit(&self) -> Result<Option<Commit<'_>>, ToolError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_commit()
                .map(Some)
                .map_err(|e| git_failed("cannot read the commit HEAD points to", &e)),
            Err(e) if e.code() == ErrorCode::UnbornBranch => Ok(None),
            Err(e) => Err(git_failed("cannot read HEAD", &e)),
        }
    }

    /// HEAD's tree, or `None` before the first commit.
    pub fn head_tree(&self) -> Result<Option<Tree<'_>>, ToolError> {
        match self.head_commit()? {
            Some(commit) => commit
                .tree()
                .map(Some)
                .map_err(|e| git_failed("cannot read HEAD's tree", &e)),
            None => Ok(None),
        }
    }

    /// The current branch's name (also when it has no commits yet), or
    /// `None` when HEAD is detached.
    pub fn branch_name(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        let target = String::from_utf8_lossy(head.symbolic_target_bytes()?).into_owned();
        Some(match target.strip_prefix("refs/heads/") {
            Some(name) => name.to_string(),
            None => target,
        })
    }
}

/// `path` as a normalised relative path inside the workspace, checked
/// lexically only.
fn lexical_rel(ws: &Workspace, path: &str) -> Result<PathBuf, ToolError> {
    if path.is_empty() {
        return Err(WorkspaceError::EmptyPath {
            root: ws.root().to_path_buf(),
        }
        .into());
    }
    let normalized = normalize(&ws.root().join(path));
    normalized
        .strip_prefix(ws.root())
        .map(Path::to_path_buf)
        .map_err(|_| {
            WorkspaceError::Outside {
                path: path.to_string(),
                root: ws.root().to_path_buf(),
            }
            .into()
        })
}

fn not_utf8(path: &str) -> ToolError {
    ToolError::Failed(format!(
        "`{path}` is not valid UTF-8; the git tools need UTF-8 paths"
    ))
}

/// The commit identity from `user.name` and `user.email` in `config`. Never
/// invents one: git would attribute the commit to a made-up person.
pub fn identity(config: &Config) -> Result<Signature<'static>, ToolError> {
    let get = |key: &str| {
        config
            .get_string(key)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match (get("user.name"), get("user.email")) {
        (Some(name), Some(email)) => Signature::now(&name, &email)
            .map_err(|e| git_failed("the configured git identity is not usable", &e)),
        (name, email) => {
            let missing: Vec<&str> = [("user.name", &name), ("user.email", &email)]
                .into_iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k)
                .collect();
            Err(ToolError::Failed(format!(
                "no git identity is configured ({} not set); ask the user to run `git config user.name \"Their Name\"` and `git config user.email they@example.com` (add --global for all repositories), then retry",
                missing.join(" and ")
            )))
        }
    }
}

/// A commit or tag time as git's ISO-like format, `2024-05-01 12:34:56 +0200`,
/// in the author's own time zone.
pub fn format_time(time: git2::Time) -> String {
    let offset = i64::from(time.offset_minutes());
    let local = time.seconds() + offset * 60;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        time.sign(),
        offset.abs() / 60,
        offset.abs() % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `n` with the singular or plural noun.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A signature as `Name <email>`.
pub fn person(sig: &Signature<'_>) -> String {
    format!(
        "{} <{}>",
        String::from_utf8_lossy(sig.name_bytes()),
        String::from_utf8_lossy(sig.email_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let t = git2::Time::new(1_714_566_896, 120);
        assert_eq!(format_time(t), "2024-05-01 14:34:56 +0200");
        let t = git2::Time::new(1_714_566_896, -330);
        assert_eq!(format_time(t), "2024-05-01 07:04:56 -0530");
    }
}
