//! Where checkpoints live: a private ref per session in the workspace's own
//! repository, or in a shadow bare repository under the user's data
//! directory when the workspace is not in one.
//!
//! The session ref `refs/glint/checkpoints/<session>` points at a *tree*,
//! not a commit: one subtree per checkpoint (`000001`, `000002`, ...) with
//! the workspace's tree before (`before`) and after (`after`) the tool call
//! and a `meta` blob (JSON: tool, summary, time, files). `git log --all`
//! walks only commits, so it skips the ref, as do `git log`, `git status`,
//! `git branch -a` and `git stash list`; HEAD, the index and the stash are
//! never touched. The ref keeps its objects reachable, so `git gc` keeps
//! them.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository};
use serde::{Deserialize, Serialize};

use super::CheckpointError;

/// The namespace of session refs.
pub const REF_PREFIX: &str = "refs/glint/checkpoints/";

/// How many sessions per workspace keep their checkpoints; older ones are
/// dropped when a new session starts.
const KEEP_SESSIONS: usize = 20;

/// What kind of change a checkpoint made to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Modified,
    Deleted,
    /// Only the executable bit changed.
    Mode,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Mode => "mode changed",
        }
    }
}

/// One file of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Relative to the workspace root (lossy UTF-8 for display).
    pub path: String,
    pub change: ChangeKind,
}

/// What a checkpoint records besides its trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub tool: String,
    /// The model's id of the tool call, when known (absent in checkpoints
    /// recorded before glint stored it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The tool call's one-line summary.
    pub summary: String,
    /// RFC 3339, local time.
    pub time: String,
    pub files: Vec<FileChange>,
}

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its number in the session, from 1.
    pub id: u32,
    pub before: Oid,
    pub after: Oid,
    pub meta: Meta,
}

/// Where the checkpoints of a workspace are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The workspace's own repository (its git directory).
    Repository(PathBuf),
    /// A shadow bare repository, for a workspace outside any repository.
    Shadow(PathBuf),
}

impl Location {
    /// The repository's directory (its git directory, or the bare shadow).
    pub fn path(&self) -> &Path {
        match self {
            Location::Repository(path) | Location::Shadow(path) => path,
        }
    }
}

/// The repository that holds a workspace's checkpoints.
pub fn open_repository(
    root: &Path,
    shadow_base: Option<&Path>,
) -> Result<(Repository, Location), CheckpointError> {
    match Repository::discover(root) {
        Ok(repo) if !repo.is_bare() => {
            let path = repo.path().to_path_buf();
            return Ok((repo, Location::Repository(path)));
        }
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let base = match shadow_base {
        Some(base) => base.to_path_buf(),
        None => dirs::data_dir()
            .ok_or(CheckpointError::NoDataDir)?
            .join("glint/shadow"),
    };
    let dir = base.join(workspace_key(root));
    // Canonical, so the walk can recognise it should it lie in the workspace.
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let repo = match Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => {
            std::fs::create_dir_all(&dir).map_err(|e| CheckpointError::Shadow {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
            let repo = Repository::init_bare(&dir)?;
            return finish_shadow(repo, root, std::fs::canonicalize(&dir).unwrap_or(dir));
        }
    };
    finish_shadow(repo, root, dir)
}

/// Notes which workspace a shadow repository belongs to (for people looking
/// at the data directory) and returns it.
fn finish_shadow(
    repo: Repository,
    root: &Path,
    dir: PathBuf,
) -> Result<(Repository, Location), CheckpointError> {
    std::fs::write(
        dir.join("glint-workspace"),
        root.as_os_str().as_encoded_bytes(),
    )
    .map_err(|e| CheckpointError::Shadow {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    Ok((repo, Location::Shadow(dir)))
}

/// A short, stable key for a workspace path: the first 16 hex digits of its
/// SHA-1 (git's own hash of the path bytes).
pub fn workspace_key(root: &Path) -> String {
    let oid = Oid::hash_object(ObjectType::Blob, root.as_os_str().as_encoded_bytes());
    match oid {
        Ok(oid) => oid.to_string()[..16].to_string(),
        Err(_) => "0000000000000000".to_string(),
    }
}

/// A new session id: sortable by start time, unique per process, and
/// ending in the workspace's key so sessions of different workspaces in one
/// repository are told apart.
pub fn new_session_id(root: &Path) -> String {
    let now = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
    format!("{now}-{}-{}", std::process::id(), workspace_key(root))
}

/// The sessions of the workspace at `root`, oldest first.
pub fn sessions(repo: &Repository, root: &Path) -> Result<Vec<String>, CheckpointError> {
    let suffix = format!("-{}", workspace_key(root));
    let mut names = Vec::new();
    for reference in repo.references_glob(&format!("{REF_PREFIX}*"))? {
        let reference = reference?;
        if let Ok(name) = reference.name()
            && let Some(session) = name.strip_prefix(REF_PREFIX)
            && session.ends_with(&suffix)
        {
            names.push(session.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Drops all but the newest sessions of the workspace (their objects go
/// with the repository's next `git gc`).
pub fn prune_sessions(repo: &Repository, root: &Path) -> Result<(), CheckpointError> {
    let names = sessions(repo, root)?;
    let excess = names.len().saturating_sub(KEEP_SESSIONS);
    for name in &names[..excess] {
        if let Ok(mut reference) = repo.find_reference(&format!("{REF_PREFIX}{name}")) {
            reference.delete()?;
        }
    }
    Ok(())
}

/// The checkpoints of a session, oldest first.
pub fn list(repo: &Repository, session: &str) -> Result<Vec<Checkpoint>, CheckpointError> {
    let Some(tree) = session_tree(repo, session)? else {
        return Ok(Vec::new());
    };
    let tree = repo.find_tree(tree)?;
    let mut out = Vec::new();
    for entry in tree.iter() {
        let Some(id) = entry.name().ok().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let sub = repo.find_tree(entry.id())?;
        let part = |name: &str| {
            sub.get_name(name)
                .map(|e| e.id())
                .ok_or_else(|| CheckpointError::Corrupt(format!("checkpoint {id} has no {name}")))
        };
        let blob = repo.find_blob(part("meta")?)?;
        let meta: Meta = serde_json::from_slice(blob.content())
            .map_err(|e| CheckpointError::Corrupt(format!("checkpoint {id}: {e}")))?;
        out.push(Checkpoint {
            id,
            before: part("before")?,
            after: part("after")?,
            meta,
        });
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

fn session_tree(repo: &Repository, session: &str) -> Result<Option<Oid>, CheckpointError> {
    match repo.find_reference(&format!("{REF_PREFIX}{session}")) {
        Ok(reference) => Ok(reference.target()),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Adds a checkpoint to the session and returns its id.
pub fn append(
    repo: &Repository,
    session: &str,
    before: Oid,
    after: Oid,
    meta: &Meta,
) -> Result<u32, CheckpointError> {
    let existing = list(repo, session)?;
    let id = existing.last().map_or(1, |c| c.id + 1);
    let json = serde_json::to_vec_pretty(meta)
        .map_err(|e| CheckpointError::Corrupt(format!("cannot encode the checkpoint: {e}")))?;
    let meta_blob = repo.blob(&json)?;
    let mut sub = repo.treebuilder(None)?;
    sub.insert("before", before, 0o040000)?;
    sub.insert("after", after, 0o040000)?;
    sub.insert("meta", meta_blob, 0o100644)?;
    let sub = sub.write()?;
    let old = session_tree(repo, session)?;
    let base = old.map(|oid| repo.find_tree(oid)).transpose()?;
    let mut top = repo.treebuilder(base.as_ref())?;
    top.insert(format!("{id:06}"), sub, 0o040000)?;
    let top = top.write()?;
    set_session_tree(repo, session, old, Some(top))?;
    Ok(id)
}

/// Removes the newest `n` checkpoints of the session (all of them deletes
/// the ref).
pub fn pop(repo: &Repository, session: &str, ids: &[u32]) -> Result<(), CheckpointError> {
    let Some(old) = session_tree(repo, session)? else {
        return Ok(());
    };
    let base = repo.find_tree(old)?;
    let mut top = repo.treebuilder(Some(&base))?;
    for id in ids {
        top.remove(format!("{id:06}"))?;
    }
    let new = if top.is_empty() {
        None
    } else {
        Some(top.write()?)
    };
    set_session_tree(repo, session, Some(old), new)
}

fn set_session_tree(
    repo: &Repository,
    session: &str,
    old: Option<Oid>,
    new: Option<Oid>,
) -> Result<(), CheckpointError> {
    let name = format!("{REF_PREFIX}{session}");
    let message = "glint checkpoint";
    match (old, new) {
        (Some(old), Some(new)) => {
            repo.reference_matching(&name, new, true, old, message)?;
        }
        (None, Some(new)) => {
            repo.reference(&name, new, false, message)?;
        }
        (_, None) => {
            if let Ok(mut reference) = repo.find_reference(&name) {
                reference.delete()?;
            }
        }
    }
    Ok(())
}
